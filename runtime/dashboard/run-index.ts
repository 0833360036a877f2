/**
 * What every run did, kept up to date from the log's events as they come (the dashboard reads
 * each event once), and what the live processes used over time (sampled, for the charts: the
 * log records fuel only at a run's exit).
 */
import type { LoggedEvent } from "../types.js";
import type { ProcessRow, RunSummary } from "./types.js";

/** Effects that refused the call. */
const REFUSED = new Set(["deny", "stop", "kill"]);
/** How much of a task a summary keeps. */
const TASK_CHARS = 200;
const MAX_SAMPLES = 1200;
const MAX_SAMPLED_RUNS = 200;

/** A search of the runs: text in the agent or run id, a status, how many (newest first). */
export interface RunSearch {
  q?: string;
  status?: string;
  limit?: number;
}

/** An answered `ask` (the log's approval event), for the approvals view. */
export interface AnsweredApproval {
  seq: number;
  time: number;
  runId: string;
  agent: string;
  id: string;
  outcome: string;
  scope: string | null;
  by: string;
  reason: string | null;
}

/** How many answers the approvals view lists. */
const ANSWERS = 50;

/** [time, fuel, host calls, tokens (input + output)] */
export type Sample = [number, number, number, number];

const rec = (v: unknown): Record<string, unknown> => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/** The runs of one log, by id. */
export class RunIndex {
  private readonly runs = new Map<string, RunSummary>();
  private readonly samples = new Map<string, Sample[]>();
  private readonly answered: AnsweredApproval[] = [];
  /** The newest event read. */
  lastSeq = 0;

  /** Reads one event (in sequence order); returns the run it changed, if any. */
  add(e: LoggedEvent): RunSummary | undefined {
    if (e.seq > this.lastSeq) this.lastSeq = e.seq;
    if (e.type === "spawn") {
      const run = newSummary(e);
      this.runs.set(e.runId, run);
      return run;
    }
    const run = this.runs.get(e.runId);
    if (!run) return undefined; // (votes the host asked for outside any run, or a run begun before what was read)
    run.events++;
    run.lastSeq = e.seq;
    const d = e.data;
    if (e.type === "call") {
      run.calls++;
      if (REFUSED.has(String(rec(d.decision).effect))) run.denials++;
    } else if (e.type === "result") addTokens(run, rec(rec(d.ok).usage));
    else if (e.type === "exit") endRun(run, e);
    else if (e.type === "approval") this.noteAnswer(e);
    return run;
  }

  get(runId: string): RunSummary | undefined {
    return this.runs.get(runId);
  }

  /** Runs matching the search, newest first. */
  list(search: RunSearch = {}): RunSummary[] {
    const q = search.q?.trim().toLowerCase() ?? "";
    const limit = search.limit ?? 200;
    const out: RunSummary[] = [];
    const all = [...this.runs.values()];
    for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
      const run = all[i];
      if (search.status && run.status !== search.status) continue;
      if (q && !run.agent.toLowerCase().includes(q) && !run.runId.toLowerCase().includes(q)) continue;
      out.push(run);
    }
    return out;
  }

  /** The newest answers to `ask` calls, newest first. */
  answers(): readonly AnsweredApproval[] {
    return this.answered;
  }

  private noteAnswer(e: LoggedEvent): void {
    const d = e.data;
    const text = (v: unknown): string | null => (typeof v === "string" ? v : null);
    this.answered.unshift({ seq: e.seq, time: e.time, runId: e.runId, agent: e.agent, id: String(d.id ?? ""), outcome: String(d.outcome ?? ""), scope: text(d.scope), by: String(d.by ?? ""), reason: text(d.reason) });
    if (this.answered.length > ANSWERS) this.answered.pop();
  }

  /** Runs with no exit event yet (in log mode, the live processes). */
  live(): RunSummary[] {
    return [...this.runs.values()].filter((r) => r.status === "running");
  }

  /** Notes what live processes have used so far (only when it changed). */
  sample(rows: readonly Omit<ProcessRow, "denials">[], now: number): void {
    for (const row of rows) {
      const point: Sample = [now, row.fuel ?? 0, row.hostCalls, row.tokens.input + row.tokens.output];
      let list = this.samples.get(row.runId);
      if (!list) {
        if (this.samples.size >= MAX_SAMPLED_RUNS) this.samples.delete(this.samples.keys().next().value!);
        list = [];
        this.samples.set(row.runId, list);
      }
      const last = list[list.length - 1];
      if (last && last[1] === point[1] && last[2] === point[2] && last[3] === point[3]) continue;
      list.push(point);
      // Full: keep every other point (the shape survives, the memory stays bounded).
      if (list.length > MAX_SAMPLES) this.samples.set(row.runId, list.filter((_, i) => i % 2 === 0 || i === list!.length - 1));
    }
  }

  samplesOf(runId: string): readonly Sample[] {
    return this.samples.get(runId) ?? [];
  }
}

function newSummary(e: LoggedEvent): RunSummary {
  const d = e.data;
  const task = typeof d.task === "string" ? d.task : "";
  return {
    runId: e.runId,
    pid: e.pid,
    agent: e.agent,
    started: e.time,
    ended: null,
    status: "running",
    reason: null,
    policy: String(rec(d.policy).name ?? ""),
    task: task.length > TASK_CHARS ? task.slice(0, TASK_CHARS) + "…" : task,
    calls: 0,
    denials: 0,
    tokens: { input: 0, output: 0 },
    fuel: null,
    events: 1,
    firstSeq: e.seq,
    lastSeq: e.seq,
  };
}

function addTokens(run: RunSummary, usage: Record<string, unknown>): void {
  run.tokens.input += num(usage.inputTokens);
  run.tokens.output += num(usage.outputTokens);
}

function endRun(run: RunSummary, e: LoggedEvent): void {
  const d = e.data;
  const status = String(d.status);
  run.status = status === "ok" || status === "error" || status === "killed" ? status : "error";
  run.reason = typeof d.reason === "string" ? d.reason : null;
  run.ended = e.time;
  const usage = rec(d.usage);
  run.fuel = num(usage.fuel);
  const tokens = rec(usage.tokens);
  if (typeof tokens.input === "number" && typeof tokens.output === "number") run.tokens = { input: tokens.input, output: tokens.output };
}

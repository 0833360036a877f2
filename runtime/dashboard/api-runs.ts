/**
 * The runs: the list and its search, one run's timeline (every event in order, filtered by
 * action and effect), one event as stored, and the series of the run's chart.
 */
import { encodeValue } from "../episodic/encoding.js";
import { EFFECTS, type Effect, type EventQuery, type LoggedEvent } from "../types.js";
import { HttpError, type Route } from "./http.js";
import type { RunIndex } from "./run-index.js";
import type { DashboardSource } from "./types.js";

/** The most events one timeline answer holds (the page asks for the rest with `after`). */
const TIMELINE_LIMIT = 2000;

/** One line of a timeline. */
export interface TimelineEvent {
  seq: number;
  time: number;
  type: string;
  pid: number;
  action: string | null;
  resource: string | null;
  effect: string | null;
  rule: string | null;
  /** What came of it: "ok", "error denied", "SIGSTOP by operator", "exit killed signal", ... */
  detail: string;
}

/** A run's chart: each series is [time, value] points, cumulative. */
export interface RunChart {
  start: number;
  end: number;
  fuel: Array<[number, number]>;
  tokens: Array<[number, number]>;
  calls: Array<[number, number]>;
}

const rec = (v: unknown): Record<string, unknown> => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

/**
 * The routes of the runs views.
 *
 * `caughtUp` resolves once the index holds everything the log held when it was called, so
 * that a run that has just ended is listed and found.
 *
 * @example routes.push(...runRoutes(source, index, () => live.caughtUp()))
 */
export function runRoutes(source: DashboardSource, index: RunIndex, caughtUp: () => Promise<void>): Route[] {
  return [
    {
      kind: "read",
      pattern: "/api/runs",
      handler: async ({ url }) => {
        await caughtUp();
        const limit = Number(url.searchParams.get("limit") ?? 200);
        const q = url.searchParams.get("q") ?? undefined;
        const status = url.searchParams.get("status") || undefined;
        return { runs: index.list({ q, status, limit: Number.isSafeInteger(limit) && limit > 0 ? Math.min(limit, 5000) : 200 }) };
      },
    },
    { kind: "read", pattern: "/api/runs/:id", handler: async ({ params }) => (await caughtUp(), { run: runOrThrow(index, params.id) }) },
    { kind: "read", pattern: "/api/runs/:id/events", handler: ({ params, url }) => timeline(source, index, params.id, url) },
    { kind: "read", pattern: "/api/runs/:id/chart", handler: ({ params }) => chart(source, index, params.id) },
    { kind: "read", pattern: "/api/events/:seq", handler: ({ params }) => storedEvent(source, params.seq) },
  ];
}

function runOrThrow(index: RunIndex, runId: string) {
  const run = index.get(runId);
  if (!run) throw new HttpError(404, `no run ${JSON.stringify(runId)} in the log (yet)`);
  return run;
}

async function timeline(source: DashboardSource, index: RunIndex, runId: string, url: URL): Promise<{ events: TimelineEvent[]; more: boolean }> {
  runOrThrow(index, runId);
  const query: EventQuery = { runId, limit: TIMELINE_LIMIT + 1 };
  const action = url.searchParams.get("action");
  if (action) query.action = action;
  const effect = url.searchParams.get("effect");
  if (effect) {
    if (!(EFFECTS as readonly string[]).includes(effect)) throw new HttpError(400, `unknown effect ${JSON.stringify(effect)}; expected one of ${EFFECTS.join(", ")}`);
    query.effect = effect as Effect;
  }
  const after = Number(url.searchParams.get("after") ?? 0);
  if (Number.isSafeInteger(after) && after > 0) query.fromSeq = after + 1;
  const events = await source.withLog(async (log) => {
    const out: TimelineEvent[] = [];
    for await (const e of log.query(query)) out.push(describeEvent(e));
    return out;
  });
  const more = events.length > TIMELINE_LIMIT;
  return { events: events.slice(0, TIMELINE_LIMIT), more };
}

/**
 * One event as a timeline line.
 *
 * @example describeEvent(callEvent) // { type: "call", action: "fs.read", effect: "deny", rule: null, detail: "no rule matched; default deny", ... }
 */
export function describeEvent(e: LoggedEvent): TimelineEvent {
  const d = e.data;
  const decision = rec(d.decision);
  const line: TimelineEvent = { seq: e.seq, time: e.time, type: e.type, pid: e.pid, action: str(d.action), resource: str(d.resource), effect: str(decision.effect), rule: str(decision.rule), detail: "" };
  line.detail = detailOf(e.type, d, decision);
  return line;
}

function outcome(result: unknown): string {
  const r = rec(result);
  if ("err" in r) return `error ${str(rec(r.err).tag) ?? JSON.stringify(r.err)}`;
  return "ok";
}

function detailOf(type: string, d: Record<string, unknown>, decision: Record<string, unknown>): string {
  switch (type) {
    case "call": {
      const effect = str(decision.effect);
      if (effect !== "allow" && effect !== "audit") return str(decision.reason) ?? "";
      return d.result === undefined ? "" : outcome(d.result);
    }
    case "result": {
      const usage = rec(rec(d.ok).usage);
      const tokens = typeof usage.inputTokens === "number" ? `  tokens ${usage.inputTokens} in / ${String(usage.outputTokens)} out` : "";
      const of = typeof d.call === "number" ? `of #${d.call}: ` : "";
      return `${of}${outcome(d)}${tokens}`;
    }
    case "spawn":
      return `task ${JSON.stringify(str(d.task) ?? "")}  policy ${str(rec(d.policy).name) ?? "?"}`;
    case "signal":
      return `${str(d.signal) ?? "?"}${d.by !== undefined ? ` by ${String(d.by)}` : ""}`;
    case "checkpoint":
      return str(d.label) ?? "";
    case "vote":
      return `${str(d.model) ?? "?"}: ${str(d.verdict) ?? "?"}${str(d.reason) ? `  ${str(d.reason)}` : ""}`;
    case "approval-request":
      return `held for a person (request ${str(d.id) ?? "?"}${str(d.rule) ? `, rule ${str(d.rule)}` : ""}) until ${str(d.expiresAt) ?? "?"}`;
    case "approval": {
      const scope = str(d.scope) ? ` (${str(d.scope)})` : "";
      return `${str(d.outcome) ?? "?"}${scope} by ${str(d.by) ?? "?"}${str(d.reason) ? `: ${str(d.reason)}` : ""} (request ${str(d.id) ?? "?"})`;
    }
    case "exit":
      return [str(d.status), str(d.reason), str(d.error)].filter(Boolean).join("  ");
    default:
      return "";
  }
}

async function storedEvent(source: DashboardSource, seqText: string): Promise<{ event: unknown }> {
  const seq = Number(seqText);
  if (!Number.isSafeInteger(seq) || seq < 1) throw new HttpError(400, `not an event number: ${JSON.stringify(seqText)}`);
  const event = await source.withLog((log) => log.get(seq));
  if (!event) throw new HttpError(404, `there is no event ${seq}`);
  return { event: encodeValue(event) };
}

/** Calls and tokens from the run's events; fuel from what was sampled while it ran, and its exit. */
async function chart(source: DashboardSource, index: RunIndex, runId: string): Promise<RunChart> {
  const run = runOrThrow(index, runId);
  const result: RunChart = { start: run.started, end: run.ended ?? Date.now(), fuel: [[run.started, 0]], tokens: [[run.started, 0]], calls: [[run.started, 0]] };
  let calls = 0;
  let tokens = 0;
  await source.withLog(async (log) => {
    for await (const e of log.query({ runId })) {
      if (e.type === "call") result.calls.push([e.time, ++calls]);
      else if (e.type === "result") {
        const usage = rec(rec(e.data.ok).usage);
        const used = (Number(usage.inputTokens) || 0) + (Number(usage.outputTokens) || 0);
        if (used > 0) result.tokens.push([e.time, (tokens += used)]);
      }
    }
  });
  for (const [time, fuel] of index.samplesOf(runId)) result.fuel.push([time, fuel]);
  if (run.fuel !== null && run.ended !== null) result.fuel.push([run.ended, run.fuel]);
  for (const series of [result.calls, result.tokens]) series.push([result.end, series[series.length - 1][1]]);
  return result;
}

/**
 * Backtesting a policy change against the log: every recorded call of the selected runs decided
 * again under a new policy (through counterfactual replay, redecide.ts) and compared with an old
 * policy's decision or the recorded one; the calls whose effect changes, grouped by the rule
 * that decides them under the new policy. Node only: it loads policies from files.
 */
import { dirname, resolve } from "node:path";
import { ReplayError, UsageError } from "../errors.js";
import { redecideRunWith, type CounterfactualOptions, type DecisionChange } from "../episodic/redecide.js";
import type { KernelLog } from "../episodic/log.js";
import { resolvePolicy } from "../hosts/node/policy/resolve.js";
import type { LoggedEvent, Policy } from "../types.js";
import { LoadedPolicy } from "./loaded.js";

/** A policy as backtestPolicy takes it: a built-in name, a file path, YAML text, a plain object, or a Policy. */
export type PolicyInput = string | Record<string, unknown> | Policy;

/**
 * Options of {@link backtestPolicy}. Defaults: compared with the decision recorded with each
 * call (no `baseline`); every run in the log (no `runIds`, `since` or `agent`); no SQL analysis
 * (a statement recorded without its facts is decided without them, and listed in
 * `withoutSqlFacts`).
 */
export interface BacktestOptions {
  /** The new policy. Required. */
  policy: PolicyInput;
  /**
   * The file `policy` (YAML text or an object) was read from: named in problems, and its
   * directory resolves relative `extends` (default: "<inline>" and the working directory).
   */
  file?: string;
  /** The old policy to compare with. Default: the decision recorded with each call. */
  baseline?: PolicyInput;
  /** The baseline's file, as `file` is the policy's. */
  baselineFile?: string;
  /** Only these runs (each must be in the log). */
  runIds?: string[];
  /** Only runs spawned at or after this time (a Date or milliseconds since the epoch). */
  since?: Date | number;
  /** Only runs of this agent. */
  agent?: string;
  /** SQL facts of a statement recorded without them: see redecideRun. */
  analyzeSql?: CounterfactualOptions["analyzeSql"];
}

/** A recorded call whose effect changes: redecideRun's change, with its run and when it was recorded (ms since the epoch). */
export interface BacktestChange extends DecisionChange {
  runId: string;
  agent: string;
  time: number;
}

/** The changes one rule of the new policy makes (rule null: its default), with that rule's effect. */
export interface BacktestGroup {
  rule: string | null;
  effect: string;
  calls: BacktestChange[];
}

/** One run that was decided again. */
export interface BacktestRun {
  runId: string;
  agent: string;
  /** When it was spawned, ms since the epoch. */
  time: number;
  /** The policy it was recorded under, as its spawn event names it. */
  recordedPolicy: { name: string; hash: string };
  calls: number;
  changed: number;
}

/** What {@link backtestPolicy} reports. */
export interface BacktestReport {
  policy: { name: string; hash: string };
  /** The old policy, or null when the recorded decisions were the baseline. */
  baseline: { name: string; hash: string } | null;
  /** How many runs, and how many of their calls, were decided again. */
  runs: number;
  calls: number;
  /** Every call whose effect changes, in log order. */
  changed: BacktestChange[];
  /** The same calls grouped by the rule (and effect) that decides them under the new policy, groups in order of their first call. */
  byRule: BacktestGroup[];
  perRun: BacktestRun[];
  /** SQL calls decided without the statement's facts, changed or not. */
  withoutSqlFacts: { runId: string; seq: number }[];
}

/**
 * Decides every recorded call of the selected runs under `options.policy` and lists the calls
 * whose effect differs from `options.baseline`'s decision (default: the recorded one). Each run
 * is decided in order at its recorded times, with rate-limit windows of its own (as redecideRun);
 * a Policy object is used as it is, with its own clock and counts. Runs are taken oldest first.
 *
 * @example
 * const report = await backtestPolicy(log, { policy: "policies/next.yaml", baseline: "policies/prod.yaml", since: Date.now() - 7 * 86_400_000 });
 * for (const group of report.byRule) console.log(group.rule ?? "(default)", group.effect, group.calls.length);
 * @throws PolicyError (file, line, column) for a policy that does not load; ReplayError for a run not in the log; UsageError for bad options; LogError when the log cannot be read.
 */
export async function backtestPolicy(log: KernelLog, options: BacktestOptions): Promise<BacktestReport> {
  if (options === null || typeof options !== "object" || options.policy === undefined) throw new UsageError("backtestPolicy: options.policy is required");
  const since = sinceOf(options.since);
  // Both load before the log is read: a policy that does not load fails before any work.
  const makePolicy = policyMaker(options.policy, options.file);
  const makeBaseline = options.baseline === undefined ? undefined : policyMaker(options.baseline, options.baselineFile);
  const spawns = await selectRuns(log, options.runIds, since, options.agent);
  const report: BacktestReport = {
    policy: describePolicy(makePolicy),
    baseline: makeBaseline ? describePolicy(makeBaseline) : null,
    runs: spawns.length,
    calls: 0,
    changed: [],
    byRule: [],
    perRun: [],
    withoutSqlFacts: [],
  };
  const groups = new Map<string, BacktestGroup>();
  for (const spawn of spawns) {
    const run = await redecideRunWith(log, spawn.runId, makePolicy, {
      ...(options.analyzeSql ? { analyzeSql: options.analyzeSql } : {}),
      ...(makeBaseline ? { baseline: makeBaseline } : {}),
    });
    const times = await callTimes(log, spawn.runId, run.changes.map((c) => c.seq));
    report.calls += run.calls;
    report.perRun.push({ runId: run.runId, agent: run.agent, time: spawn.time, recordedPolicy: run.recordedPolicy, calls: run.calls, changed: run.changes.length });
    for (const seq of run.withoutSqlFacts) report.withoutSqlFacts.push({ runId: run.runId, seq });
    for (const c of run.changes) {
      const change: BacktestChange = { runId: run.runId, agent: run.agent, time: times.get(c.seq) ?? spawn.time, ...c };
      report.changed.push(change);
      const key = JSON.stringify([c.after.rule, c.after.effect]);
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { rule: c.after.rule, effect: c.after.effect, calls: [] }));
      group.calls.push(change);
    }
  }
  report.byRule = [...groups.values()];
  return report;
}

/**
 * A maker for redecideRunWith: the policy is loaded once (so a file is read once, and a problem
 * is reported before the log is read), its rate-limit clock forwarded to the run being decided,
 * and its counts reset for each run.
 */
function policyMaker(input: PolicyInput, file: string | undefined): (now: () => number) => Policy {
  let clock: () => number = () => 0;
  // A path or a name is found as given; text and objects resolve `extends` beside their file.
  const isText = typeof input !== "string" || input.includes("\n");
  const loadOptions = file === undefined ? {} : isText ? { file, baseDir: dirname(resolve(file)) } : { file };
  const policy = resolvePolicy(input, { ...loadOptions, now: () => clock() });
  if (!(policy instanceof LoadedPolicy) || policy === input) return () => policy;
  return (now) => {
    clock = now;
    policy.resetRates();
    return policy;
  };
}

function describePolicy(make: (now: () => number) => Policy): { name: string; hash: string } {
  const policy = make(() => 0);
  return { name: policy.name, hash: policy.hash };
}

function sinceOf(since: BacktestOptions["since"]): number | undefined {
  if (since === undefined) return undefined;
  const ms = since instanceof Date ? since.getTime() : since;
  if (typeof ms !== "number" || !Number.isFinite(ms)) throw new UsageError(`backtestPolicy: since must be a Date or milliseconds since the epoch, not ${String(since)}`);
  return ms;
}

/** The spawn events of the selected runs, oldest first. */
async function selectRuns(log: KernelLog, runIds: string[] | undefined, since: number | undefined, agent: string | undefined): Promise<LoggedEvent[]> {
  const keep = (e: LoggedEvent) => (since === undefined || e.time >= since) && (agent === undefined || e.agent === agent);
  if (runIds === undefined) {
    const spawns: LoggedEvent[] = [];
    for await (const e of log.query({ type: "spawn", ...(since === undefined ? {} : { since }), ...(agent === undefined ? {} : { agent }) })) if (keep(e)) spawns.push(e);
    return spawns;
  }
  const spawns = new Map<string, LoggedEvent>();
  for (const runId of runIds) {
    if (typeof runId !== "string" || runId === "") throw new UsageError("backtestPolicy: a run id is a non-empty string");
    if (spawns.has(runId)) continue;
    let spawn: LoggedEvent | undefined;
    for await (const e of log.query({ runId, type: "spawn", limit: 1 })) spawn = e;
    if (!spawn) throw new ReplayError(`there is no run ${runId} in the log`);
    spawns.set(runId, spawn);
  }
  return [...spawns.values()].filter(keep).sort((a, b) => a.seq - b.seq);
}

/** The recorded times of some call events of a run. */
async function callTimes(log: KernelLog, runId: string, seqs: number[]): Promise<Map<number, number>> {
  const times = new Map<number, number>();
  if (seqs.length === 0) return times;
  const wanted = new Set(seqs);
  const fromSeq = seqs.reduce((a, b) => Math.min(a, b));
  const toSeq = seqs.reduce((a, b) => Math.max(a, b));
  for await (const e of log.query({ runId, type: "call", fromSeq, toSeq })) if (wanted.has(e.seq)) times.set(e.seq, e.time);
  return times;
}

/**
 * Counterfactual replay, its portable core: every call a run made, decided again under another
 * policy, without running the agent. The requests are rebuilt from the call events (action,
 * canonical resource, method, and for SQL the facts the gate recorded with the call, or for a
 * call recorded without them the facts of the statement analyzed now; for a tool call its
 * arguments and the tool's hash), in the recorded order, with the policy's rate-limit clock at
 * each call's recorded time. The caller makes the policy for that clock (`counterfactual.ts`
 * loads one by name, file or text, which needs Node's fs; this module does not).
 */
import { GuestError } from "../errors.js";
import { decide } from "../gate.js";
import { decideAll, recordedFurther } from "../gate-fs.js";
import type { Action, Policy, Request, SqlFacts } from "../types.js";
import type { KernelLog } from "./log.js";
import { readRun, recordedSqlFacts, recordedToolFacts } from "./recording.js";

/** A call whose decision would change. */
export interface DecisionChange {
  seq: number;
  action: string;
  resource: string;
  method?: string;
  before: { effect: string; rule: string | null };
  after: { effect: string; rule: string | null; reason: string };
  /**
   * Set for a sql.query decided without SQL facts (recorded without them, and no database given
   * to analyze the statement against): allow rules with SQL conditions could not match, other
   * rules with them did.
   */
  withoutSqlFacts?: true;
}

/** What {@link redecideRun} reports. */
export interface CounterfactualReport {
  runId: string;
  agent: string;
  /** The policy the run was recorded under, as its spawn event names it. */
  recordedPolicy: { name: string; hash: string };
  policy: { name: string; hash: string };
  /** How many recorded calls were decided again (calls refused as invalid before any decision are not). */
  calls: number;
  /** Calls whose effect would differ, in order. */
  changes: DecisionChange[];
  /**
   * Sequence numbers of the sql.query calls decided without their statement's facts (recorded
   * before the gate kept them, and no database given to analyze the statement): changed or not,
   * those decisions are not the policy's on the statement, only on its action and resource.
   */
  withoutSqlFacts: number[];
}

/** Options of {@link redecideRun}. Default: no SQL analysis (see DecisionChange.withoutSqlFacts). */
export interface CounterfactualOptions {
  /** SQL facts of a statement as the kernel's analyzer gives them (it reads the database's schema). */
  analyzeSql?: (database: string, statement: string) => SqlFacts;
  /**
   * Compare with the decisions of this policy, made for the clock it is handed as `makePolicy`'s
   * is, instead of the recorded ones: each change's `before` is then its decision (`agent-os
   * policy diff OLD NEW`). Default: the decision recorded with each call.
   */
  baseline?: (now: () => number) => Policy;
}

/**
 * Decides every recorded call of a run again under the policy that `makePolicy` gives for the
 * clock it is handed (the rate-limit clock, which reads each call's recorded time), and lists the
 * calls whose effect would change.
 *
 * @example
 * const report = await redecideRunWith(log, runId, (now) => loadPolicy(spec, { now }));
 * for (const c of report.changes) console.log(c.seq, c.action, c.resource, c.before.effect, "->", c.after.effect);
 * @throws ReplayError for an unknown run; whatever `makePolicy` throws.
 */
export async function redecideRunWith(
  log: KernelLog,
  runId: string,
  makePolicy: (now: () => number) => Policy,
  options: CounterfactualOptions = {},
): Promise<CounterfactualReport> {
  const run = await readRun(log, runId);
  let now = 0;
  const loaded: Policy = makePolicy(() => now);
  const baseline = options.baseline?.(() => now);
  const recorded = (run.spawn.data.policy ?? {}) as { name?: unknown; hash?: unknown };
  const changes: DecisionChange[] = [];
  const undecided: number[] = [];
  let calls = 0;
  for (const e of run.events) {
    // A call refused as invalid never reached the policy: no policy decides it differently.
    if (e.type !== "call" || typeof e.data.invalid === "string") continue;
    calls++;
    now = e.time;
    const d = e.data;
    const request: Request = { action: String(d.action) as Action, resource: String(d.resource ?? ""), agent: e.agent, pid: e.pid };
    if (typeof d.method === "string") request.method = d.method;
    let withoutSqlFacts = false;
    if (request.action === "sql.query") {
      const facts = recordedSqlFacts(d) ?? sqlFacts(d.args, options.analyzeSql);
      if (facts) request.sql = facts;
      else withoutSqlFacts = true;
    }
    // A tool call: its arguments (for `args` rules) and the tool's hash then (for `pin`).
    if (request.action === "tool.call") Object.assign(request, recordedToolFacts(d));
    if (withoutSqlFacts) undecided.push(e.seq);
    // An fs call was decided on its resolved path and every further path it touched: so again.
    const further = request.action.startsWith("fs.") ? recordedFurther(d) : [];
    const before = (baseline ? decideAll(request, further, (r, count) => decide(baseline, r, { count })).decision : (d.decision ?? {})) as { effect?: unknown; rule?: unknown };
    const after = decideAll(request, further, (r, count) => decide(loaded, r, { count })).decision;
    if (after.effect === before.effect) continue;
    changes.push({
      seq: e.seq,
      action: request.action,
      resource: request.resource,
      ...(request.method ? { method: request.method } : {}),
      before: { effect: String(before.effect), rule: typeof before.rule === "string" ? before.rule : null },
      after: { effect: after.effect, rule: after.rule, reason: after.reason },
      ...(withoutSqlFacts ? { withoutSqlFacts: true as const } : {}),
    });
  }
  return {
    runId,
    agent: run.spawn.agent,
    recordedPolicy: { name: String(recorded.name ?? ""), hash: String(recorded.hash ?? "") },
    policy: { name: loaded.name, hash: loaded.hash },
    calls,
    changes,
    withoutSqlFacts: undecided,
  };
}

/** The facts of a recorded sql.query's statement, when an analyzer can give them. */
function sqlFacts(args: unknown, analyze: CounterfactualOptions["analyzeSql"]): SqlFacts | undefined {
  if (!analyze || !Array.isArray(args) || typeof args[0] !== "string" || typeof args[1] !== "string") return undefined;
  try {
    return analyze(args[0], args[1]);
  } catch (error) {
    if (error instanceof GuestError) return undefined;
    throw error;
  }
}

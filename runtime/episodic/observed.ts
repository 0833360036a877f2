/**
 * What recorded runs did, as the input of `agent-os policy suggest`: every call they made that
 * was carried out (allowed or audited), with the policy each run was recorded under.
 */
import { GuestError } from "../errors.js";
import { recordedFurther } from "../gate-fs.js";
import type { ObservedCall } from "../policy/least-privilege.js";
import type { SqlFacts } from "../types.js";
import type { KernelLog } from "./log.js";
import { readRun, recordedSqlFacts, recordedToolFacts } from "./recording.js";

/** One run read for a suggestion. */
export interface ObservedRun {
  runId: string;
  agent: string;
  /** The policy the run was recorded under (its spawn event's). */
  policy: string;
  /** When it was spawned (ms since the epoch). */
  time: number;
  /** Calls carried out (allowed or audited). */
  calls: number;
  /** Calls the policy refused (denied, stopped, killed): not part of a suggestion. */
  refused: number;
}

/**
 * Options of {@link observeRuns}. Default: the SQL facts recorded with each call; for a call
 * recorded without them, no analysis (operations are then guessed from the text).
 */
export interface ObserveOptions {
  analyzeSql?: (database: string, statement: string) => SqlFacts;
}

/**
 * Reads runs from the log and gives the calls they carried out.
 *
 * @example const { runs, calls } = await observeRuns(log, ["0b6c..."]); suggestPolicy(calls)
 * @throws ReplayError for a run the log does not hold.
 */
export async function observeRuns(log: KernelLog, runIds: string[], options: ObserveOptions = {}): Promise<{ runs: ObservedRun[]; calls: ObservedCall[] }> {
  const runs: ObservedRun[] = [];
  const calls: ObservedCall[] = [];
  for (const runId of runIds) {
    const run = await readRun(log, runId);
    const policy = (run.spawn.data.policy ?? {}) as { name?: unknown };
    const info: ObservedRun = { runId, agent: run.spawn.agent, policy: String(policy.name ?? ""), time: run.spawn.time, calls: 0, refused: 0 };
    for (const e of run.events) {
      if (e.type !== "call") continue;
      const d = e.data;
      const effect = (d.decision as { effect?: unknown } | undefined)?.effect;
      if (effect !== "allow" && effect !== "audit") {
        info.refused++;
        continue;
      }
      info.calls++;
      const call: ObservedCall = { action: String(d.action), resource: String(d.resource ?? "") };
      if (typeof d.method === "string") call.method = d.method;
      if (call.action === "sql.query" && Array.isArray(d.args) && typeof d.args[1] === "string") {
        call.statement = d.args[1];
        const facts = recordedSqlFacts(d) ?? analyze(options.analyzeSql, call.resource, d.args[1]);
        if (facts) call.sql = facts;
      }
      if (call.action === "tool.call") {
        const { args } = recordedToolFacts(d);
        if (args !== undefined) call.args = args;
      }
      calls.push(call);
      // An fs call was decided on every path it touched (as written, each link, each entry): a suggestion allows them all.
      if (call.action.startsWith("fs.")) for (const p of recordedFurther(d)) calls.push({ action: call.action, resource: p.resource });
    }
    runs.push(info);
  }
  return { runs, calls };
}

function analyze(fn: ObserveOptions["analyzeSql"], database: string, statement: string): SqlFacts | undefined {
  if (!fn) return undefined;
  try {
    return fn(database, statement);
  } catch (error) {
    if (error instanceof GuestError) return undefined;
    throw error;
  }
}

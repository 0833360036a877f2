/**
 * Rate windows that survive a restart. A policy counts the calls it lets through in memory; a
 * kernel with a durable log primes those counts from the log when it opens it, before any run
 * is decided, so that back-to-back `agent-os run`s (each a new process) share one window.
 *
 * Only the window's time range is read: the call events of the last `longestWindowMs` (the
 * longest window of any rule's rate), oldest first, from a position found by binary search on
 * the event times. Each call that was let through (allow or audit; a verified call is logged as
 * allowed) is matched again against the current policy's rate rules and counted under the
 * agent's name and under its code (the `codeHash` its run's spawn event recorded).
 */
import { LogError } from "../errors.js";
import type { KernelLog } from "../episodic/log.js";
import { recordedSqlFacts } from "../episodic/recording.js";
import { ACTIONS, type Action, type LoggedEvent, type Policy, type Request } from "../types.js";

/** What a priming read: for measuring and for tests. */
export interface PrimeReport {
  /** Events read in the window. */
  events: number;
  /** Calls counted against at least one rate (each under name and code). */
  counted: number;
  /** Runs whose spawn event lay before the window and was looked up. */
  lookedUp: number;
}

/** A policy whose rate windows can be primed from a log (LoadedPolicy is one). */
export interface RatePriming {
  /** Resets the rate windows and counts the log's recent calls into them. */
  primeRates(log: Pick<KernelLog, "query">): Promise<PrimeReport>;
}

/** The part of a policy that priming fills. */
export interface RatePrimer {
  /** The longest window of any rule's rate, in milliseconds (0: nothing to prime). */
  readonly longestWindowMs: number;
  /** Counts a call made at `time` against every rate rule that matches it; whether any did. */
  countPastCall(request: Request, time: number): boolean;
}

const KNOWN: ReadonlySet<string> = new Set(ACTIONS);

/**
 * Reads the log's call events of the last `longestWindowMs` before `now` and counts those that
 * were let through into `primer`.
 *
 * @example await primeFromEvents(policy, log, Date.now()) // { events: 120, counted: 40, lookedUp: 2 }
 */
export async function primeFromEvents(primer: RatePrimer, log: Pick<KernelLog, "query">, now: number): Promise<PrimeReport> {
  const report: PrimeReport = { events: 0, counted: 0, lookedUp: 0 };
  const windowMs = primer.longestWindowMs;
  if (!(windowMs > 0)) return report;
  const codes = new Map<string, string | undefined>();
  for await (const event of log.query({ since: now - windowMs, order: "oldest" })) {
    report.events++;
    if (event.type === "spawn") codes.set(event.runId, codeOf(event));
    if (event.type !== "call") continue;
    const request = pastRequest(event);
    if (request === undefined) continue;
    if (!codes.has(event.runId)) {
      report.lookedUp++;
      codes.set(event.runId, await spawnCode(log, event.runId));
    }
    const code = codes.get(event.runId);
    if (code !== undefined) request.code = code;
    if (primer.countPastCall(request, event.time)) report.counted++;
  }
  return report;
}

/**
 * Primes a policy's rate windows from a durable log, as the kernel does when it opens its log,
 * before any run is decided: the windows are reset and counted again from the log (the log is
 * the truth, so a policy instance reused by a later kernel on the same log does not count a
 * call twice). A policy with no `primeRates` method (a custom `Policy` object) is not primed:
 * it keeps its own counts. An in-memory log is not read.
 *
 * @example const log = await primeRates(kernel.policy, await openLog({ dir }));
 * @throws LogError when the log cannot be read (the log is closed first): the kernel does not
 *   run anything whose rate limits it cannot count.
 */
export async function primeRates(policy: Policy, log: KernelLog): Promise<KernelLog> {
  const priming = (policy as Partial<RatePriming>).primeRates;
  if (!log.durable || typeof priming !== "function") return log;
  try {
    await priming.call(policy, log);
    return log;
  } catch (error) {
    await log.close().catch(() => undefined);
    throw new LogError(`cannot count the policy's rate limits from the log: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** The request a logged call event was decided on, if it was let through and is well formed. */
function pastRequest(event: LoggedEvent): Request | undefined {
  const d = event.data;
  const decision = d.decision as { effect?: unknown } | null | undefined;
  const effect = decision !== null && typeof decision === "object" ? decision.effect : undefined;
  if (effect !== "allow" && effect !== "audit") return undefined;
  if (typeof d.action !== "string" || !KNOWN.has(d.action) || typeof d.resource !== "string") return undefined;
  const request: Request = { action: d.action as Action, resource: d.resource, agent: event.agent, pid: event.pid };
  if (typeof d.method === "string") request.method = d.method;
  if (d.action === "sql.query") {
    // Without the statement or its facts, every SQL condition is unknown: the call then counts
    // against every SQL rate rule that could have covered it (to be safe).
    const sql = recordedSqlFacts(d);
    if (sql !== undefined) request.sql = sql;
  }
  return request;
}

function codeOf(spawn: LoggedEvent): string | undefined {
  const code = spawn.data.codeHash;
  return typeof code === "string" && code !== "" ? code : undefined;
}

async function spawnCode(log: Pick<KernelLog, "query">, runId: string): Promise<string | undefined> {
  for await (const event of log.query({ runId, type: "spawn", limit: 1 })) return codeOf(event);
  return undefined;
}

/**
 * What the gate writes into the log for a call: the call event (its request, decision and, for
 * an effect-free call, its result in the same event) and the result event.
 */
import { dispatch } from "./capabilities/index.js";
import type { Reply } from "./engines/engine.js";
import type { WitError } from "./errors.js";
import { recordArgs } from "./episodic/args.js";
import { fsRecord, type FsCall } from "./gate-fs.js";
import { toWitError } from "./gate-request.js";
import type { GateRun } from "./gate.js";
import type { OpName } from "./kernel/ops.js";
import type { Decision, Request } from "./types.js";

/**
 * An allowed call that changes nothing outside the log (a log line, a clock reading, random
 * bytes) is carried out first and recorded in one event: the call, its decision and, as
 * `result`, what it answered (`{ ok }` or `{ err }`, as a result event holds it). Nothing
 * outside the kernel has seen it happen before it is logged; the reply waits for that event
 * on disk when the log is durable. One event instead of two is what makes a gated no-op call
 * cheap: sealing an event is most of its cost.
 */
export function answerInOneEvent(run: GateRun, op: OpName, args: unknown[], request: Request, decision: Decision): Reply | Promise<Reply> {
  let reply: { ok: unknown } | { err: WitError };
  try {
    reply = { ok: dispatch(op, args, run.capabilities) };
  } catch (error) {
    reply = { err: toWitError(error) };
  }
  const data = callRecord(op, args, request, decision);
  data.result = "ok" in reply ? { ok: reply.ok ?? null } : { err: reply.err };
  let staged: { written: Promise<void> };
  try {
    staged = run.log.stage({ type: "call", runId: run.runId, pid: run.pid, agent: run.agent, data });
  } catch {
    return LOG_UNWRITABLE;
  }
  if (run.log.durable) return staged.written.then(() => reply, () => LOG_UNWRITABLE);
  return reply;
}

/**
 * What the call event records. The decision is recorded as it is: the log encodes it before
 * `stage` returns, so nothing done with it later can change the record.
 */
export function callRecord(op: OpName, args: unknown[], request: Request, decision: Decision, fsCall?: FsCall): Record<string, unknown> {
  const data: Record<string, unknown> = { op, action: request.action, resource: request.resource, args: recordArgs(op, args, !carriedOut(decision)) };
  if (request.method) data.method = request.method;
  // What the policy saw of a statement (the schema may change later): counterfactual replay and
  // `policy suggest` decide on these without the database.
  if (request.sql) data.sql = { operations: request.sql.operations, reads: request.sql.reads, writes: request.sql.writes };
  if (fsCall) Object.assign(data, fsRecord(fsCall));
  // The tool's hash when it was decided (pins are checked against it).
  if (request.toolHash) data.tool = { hash: request.toolHash };
  data.decision = decision;
  return data;
}

/** Calls whose carrying out has no effect outside the kernel's log: one event for call and result (see answerInOneEvent). */
export const EFFECT_FREE: ReadonlySet<OpName> = new Set(["log.write", "clock.now", "clock.monotonic-now", "random.bytes"]);

/** The reply when the call event cannot be logged: nothing is carried out that the log did not record. */
export const LOG_UNWRITABLE: Reply = { err: { tag: "denied", val: { reason: "the episodic log cannot be written" } } };

/** The names of the secrets an http.fetch carried, for its result event. */
export function secretsNote(secrets: string[] | undefined): Record<string, unknown> | undefined {
  return secrets ? { secrets } : undefined;
}

/**
 * Records what the call returned (what replay needs) and gives the reply: with a durable log,
 * once the result is on disk too, so that a reply the guest saw can always be replayed.
 */
export function logResult(run: GateRun, callSeq: number, reply: { ok: unknown } | { err: WitError }, note?: Record<string, unknown>): Reply | Promise<Reply> {
  let staged: { written: Promise<void> };
  try {
    staged = run.log.stage({
      type: "result",
      runId: run.runId,
      pid: run.pid,
      agent: run.agent,
      data: resultRecord(callSeq, reply, note),
    });
  } catch {
    return RESULT_UNWRITABLE;
  }
  if (run.log.durable) return staged.written.then(() => reply, () => RESULT_UNWRITABLE);
  return reply;
}

/** What the result event records. A void result is recorded as null: the log's JSON has no undefined. */
export function resultRecord(callSeq: number, reply: { ok: unknown } | { err: WitError }, note?: Record<string, unknown>): Record<string, unknown> {
  const data: Record<string, unknown> = "ok" in reply ? { call: callSeq, ok: reply.ok ?? null } : { call: callSeq, err: reply.err };
  return note ? Object.assign(data, note) : data;
}

/** The reply when a result cannot be logged: the run ends. */
export const RESULT_UNWRITABLE: Reply = { abort: "limit", message: "the episodic log cannot be written" };

/** Whether a decision lets the call be carried out (its arguments are then recorded in more detail). */
export function carriedOut(decision: Decision): boolean {
  return decision.effect === "allow" || decision.effect === "audit";
}

/**
 * The gate: the one place where a host call is decided, logged and carried out.
 *
 *   request -> canonical form -> policy.decide -> (verify) -> log the call (durable)
 *           -> capability -> log the result -> reply
 *
 * Every error on the way to a decision denies. Capabilities never see the policy; the policy
 * never performs I/O; engines never decide.
 */
import { canonicalPath, canonicalUrl } from "./canonical.js";
import { dispatch, type RunCapabilities } from "./capabilities/index.js";
import type { HopAuthorizer } from "./capabilities/types.js";
import { GuestError, type WitError } from "./errors.js";
import type { Reply } from "./engines/engine.js";
import { OPS, isOpName, type OpName } from "./kernel/ops.js";
import type { KernelLog } from "./episodic/log.js";
import type { Action, Decision, Denial, Limits, LoggedEvent, Policy, Request, SqlFacts } from "./types.js";

/**
 * Asked for a decision with effect "verify"; resolves to the final decision (allow or deny).
 * `call` is the host call's op and its arguments (plain data), absent for a redirect hop.
 */
export type Verifier = (request: Request, decision: Decision, run: GateRun, call?: { op: OpName; args: readonly unknown[] }) => Promise<Decision>;

/** Everything the gate knows about the run a call comes from. */
export interface GateRun {
  runId: string;
  pid: number;
  agent: string;
  /** Hex sha256 of the agent's code: requests carry it, so rate limits also count per code. */
  code?: string;
  task: string;
  limits: Limits;
  policy: Policy;
  log: KernelLog;
  capabilities: RunCapabilities;
  verifier?: Verifier;
  /** Calls seen so far (counted before the decision, so that a flood is cut off). */
  hostCalls: number;
  denials: Denial[];
  /** Set by SIGTERM: every further call answers `interrupted`. */
  terminating: boolean;
  /** The URL of the http.fetch being carried out, already decided (its first hop). */
  decidedUrl?: string;
  /** The policy decided "stop": SIGSTOP the agent. */
  stop(reason: string): void;
  /** The policy decided "kill": SIGKILL the agent. */
  kill(reason: string): void;
}

const FAIL_CLOSED = (reason: string): Decision => ({ effect: "deny", rule: null, reason, matched: [] });

/**
 * Handles one request from the channel and returns the reply for the guest. A call that needs
 * no real asynchronous work (a decision without verification, a log that is not durable, a
 * capability that answers at once) is answered synchronously, so that the channel can reply
 * without a trip through the event loop; anything else returns a promise.
 */
export function handleCall(run: GateRun, message: unknown): Reply | Promise<Reply> {
  const { op, args } = (message ?? {}) as { op?: unknown; args?: unknown };
  if (typeof op !== "string" || !isOpName(op) || !Array.isArray(args)) {
    return { err: { tag: "invalid", val: "malformed host call" } };
  }
  run.hostCalls++;
  if (run.hostCalls > run.limits.hostCalls) {
    return { abort: "limit", message: `host-call limit of ${run.limits.hostCalls} reached` };
  }
  const action = OPS[op].action;
  if (action === null) return { ok: undefined };
  // SQL is analyzed in the run's SQL process, off this thread: the decision waits for its facts.
  if (action === "sql.query" && run.capabilities.sql) {
    let facts: Promise<SqlFacts>;
    try {
      facts = run.capabilities.sql.analyze(args[0] as string, args[1] as string);
    } catch (error) {
      return refuseInvalid(run, op, action, args, toWitError(error));
    }
    return facts.then(
      (sql) => decideCall(run, op, action, args, sql),
      (error: unknown) => refuseInvalid(run, op, action, args, toWitError(error)),
    );
  }
  return decideCall(run, op, action, args);
}

function decideCall(run: GateRun, op: OpName, action: Action, args: unknown[], sql?: SqlFacts): Reply | Promise<Reply> {
  let request: Request;
  try {
    request = buildRequest(run, op, args, sql);
  } catch (error) {
    return refuseInvalid(run, op, action, args, toWitError(error));
  }

  if (run.terminating) return carryOut(run, op, args, request, FAIL_CLOSED("SIGTERM: the agent has been asked to finish"));
  const decision = decide(run.policy, request);
  if (decision.effect === "verify") return verify(run, request, decision, { op, args }).then((verified) => carryOut(run, op, args, request, verified));
  return carryOut(run, op, args, request, decision);
}

/**
 * A call whose arguments cannot even be put into a request (a malformed path or URL, several
 * SQL statements at once) is refused before the policy, and still recorded: the log holds
 * every attempt, with `invalid` saying why and a deny that names no rule.
 */
function refuseInvalid(run: GateRun, op: OpName, action: Action, args: unknown[], error: WitError): Reply | Promise<Reply> {
  const why = typeof error.val === "string" ? error.val : error.val.reason;
  try {
    const staged = run.log.stage({
      type: "call",
      runId: run.runId,
      pid: run.pid,
      agent: run.agent,
      data: { op, action, resource: "", args: recordedArgs(op, args), invalid: why, decision: { effect: "deny", rule: null, reason: `invalid call: ${why}`, matched: [] } },
    });
    if (run.log.durable) return staged.written.then(() => ({ err: error }), () => LOG_UNWRITABLE);
  } catch {
    return LOG_UNWRITABLE;
  }
  return { err: error };
}

/** Logs the decided call, then carries it out (or not) as decided. */
function carryOut(run: GateRun, op: OpName, args: unknown[], request: Request, decision: Decision): Reply | Promise<Reply> {
  let staged: { seq: number; written: Promise<void> };
  try {
    staged = run.log.stage({
      type: "call",
      runId: run.runId,
      pid: run.pid,
      agent: run.agent,
      data: {
        op,
        action: request.action,
        resource: request.resource,
        args: recordedArgs(op, args),
        ...(request.method ? { method: request.method } : {}),
        // What the policy saw of a statement (the schema may change later): counterfactual
        // replay and `policy suggest` decide on these without the database.
        ...(request.sql ? { sql: { operations: request.sql.operations, reads: request.sql.reads, writes: request.sql.writes } } : {}),
        decision: { ...decision },
      },
    });
  } catch {
    return LOG_UNWRITABLE;
  }
  // An in-memory log has nothing to wait for; a failed write there still fails every later call.
  if (!run.log.durable) return afterLogged(run, op, args, request, decision, staged.seq);
  // A durable log: nothing is carried out (or answered) before the call event is on disk...
  const { written } = staged;
  if (!(EFFECT_FREE.has(op) && (decision.effect === "allow" || decision.effect === "audit"))) {
    return written.then(() => afterLogged(run, op, args, request, decision, staged.seq), () => LOG_UNWRITABLE);
  }
  // ...except an allowed call that changes nothing outside the log (a log line, a clock
  // reading, random bytes): it is answered at once and its result event staged right behind
  // the call event, so that one sync writes both; the reply still waits for both on disk.
  const reply = afterLogged(run, op, args, request, decision, staged.seq);
  return Promise.all([written, reply]).then(
    ([, answer]) => answer,
    () => LOG_UNWRITABLE,
  );
}

/** Calls whose carrying out has no effect outside the kernel's log: one sync for call and result. */
const EFFECT_FREE: ReadonlySet<OpName> = new Set(["log.write", "clock.now", "clock.monotonic-now", "random.bytes"]);

// Nothing is carried out that the log did not record.
const LOG_UNWRITABLE: Reply = { err: { tag: "denied", val: { reason: "the episodic log cannot be written" } } };

function afterLogged(run: GateRun, op: OpName, args: unknown[], request: Request, decision: Decision, callSeq: number): Reply | Promise<Reply> {
  switch (decision.effect) {
    case "allow":
    case "audit":
      break;
    case "kill":
      run.denials.push(denialOf(callSeq, request, decision));
      run.kill(decision.reason);
      return { abort: "policy", message: decision.reason };
    case "stop":
      run.stop(decision.reason);
      return deny(run, callSeq, request, decision);
    default:
      if (run.terminating) return { err: { tag: "interrupted", val: decision.reason } };
      return deny(run, callSeq, request, decision);
  }

  run.decidedUrl = request.action === "http.fetch" ? request.resource : undefined;
  let value: unknown;
  try {
    value = dispatch(op, args, run.capabilities);
  } catch (error) {
    return logResult(run, callSeq, { err: toWitError(error) });
  }
  if (value instanceof Promise) {
    return value.then(
      (ok: unknown) => logResult(run, callSeq, { ok }),
      (error: unknown) => logResult(run, callSeq, { err: toWitError(error) }),
    );
  }
  return logResult(run, callSeq, { ok: value });
}

/**
 * Records what the call returned (what replay needs) and gives the reply: with a durable log,
 * once the result is on disk too, so that a reply the guest saw can always be replayed.
 */
function logResult(run: GateRun, callSeq: number, reply: { ok: unknown } | { err: WitError }): Reply | Promise<Reply> {
  let staged: { written: Promise<void> };
  try {
    staged = run.log.stage({
      type: "result",
      runId: run.runId,
      pid: run.pid,
      agent: run.agent,
      // A void result is recorded as null: the log's JSON has no undefined.
      data: "ok" in reply ? { call: callSeq, ok: reply.ok ?? null } : { call: callSeq, err: reply.err },
    });
  } catch {
    return RESULT_UNWRITABLE;
  }
  if (run.log.durable) return staged.written.then(() => reply, () => RESULT_UNWRITABLE);
  return reply;
}

const RESULT_UNWRITABLE: Reply = { abort: "limit", message: "the episodic log cannot be written" };

/**
 * The http capability asks this before every hop. The first hop was decided with the call;
 * every redirect is decided again under the policy, and logged as a call of its own.
 */
export function authorizeHop(run: GateRun): HopAuthorizer {
  return async ({ method, url }) => {
    let resource: string;
    try {
      resource = canonicalUrl(url);
    } catch {
      return false;
    }
    if (run.decidedUrl !== undefined && resource === run.decidedUrl) {
      run.decidedUrl = undefined;
      return true;
    }
    run.decidedUrl = undefined;
    const request: Request = { action: "http.fetch", resource, method: method.toUpperCase(), agent: run.agent, pid: run.pid };
    let decision = run.terminating ? FAIL_CLOSED("SIGTERM: the agent has been asked to finish") : decide(run.policy, request);
    if (decision.effect === "verify") decision = await verify(run, request, decision);
    try {
      const call = await run.log.append({
        type: "call",
        runId: run.runId,
        pid: run.pid,
        agent: run.agent,
        data: { op: "http.fetch", action: "http.fetch", resource, method: request.method, redirect: true, decision: { ...decision } },
      });
      if (decision.effect === "allow" || decision.effect === "audit") return true;
      run.denials.push(denialOf(call.seq, request, decision));
      if (decision.effect === "kill") run.kill(decision.reason);
      else if (decision.effect === "stop") run.stop(decision.reason);
      return false;
    } catch {
      return false;
    }
  };
}

/** Decides under the policy; a policy that throws denies (it must not, but never fail open). */
export function decide(policy: Policy, request: Request): Decision {
  try {
    const decision = policy.decide(request);
    if (!decision || typeof decision.effect !== "string") return FAIL_CLOSED("the policy gave no decision");
    return decision;
  } catch (error) {
    return FAIL_CLOSED(`the policy failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function verify(run: GateRun, request: Request, decision: Decision, call?: { op: OpName; args: readonly unknown[] }): Promise<Decision> {
  if (!run.verifier) {
    return { ...decision, effect: "deny", reason: `${decision.reason}: verification is required but no verifier is configured` };
  }
  try {
    return await run.verifier(request, decision, run, call);
  } catch (error) {
    return { ...decision, effect: "deny", reason: `verification failed: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function deny(run: GateRun, seq: number, request: Request, decision: Decision): Reply {
  run.denials.push(denialOf(seq, request, decision));
  return { err: { tag: "denied", val: decision.rule === null ? { reason: decision.reason } : { rule: decision.rule, reason: decision.reason } } };
}

function denialOf(seq: number, request: Request, decision: Decision): Denial {
  return { seq, action: request.action, resource: request.resource, rule: decision.rule, reason: decision.reason };
}

/**
 * The canonical request the policy sees; for sql.query, with the facts the run's SQL capability
 * gave (absent: the request has none). Throws GuestError for invalid arguments.
 */
export function buildRequest(run: Pick<GateRun, "agent" | "pid" | "code">, op: OpName, args: unknown[], sql?: SqlFacts): Request {
  const action = OPS[op].action!;
  const base = run.code === undefined ? { action, agent: run.agent, pid: run.pid } : { action, agent: run.agent, pid: run.pid, code: run.code };
  switch (action) {
    case "fs.read":
    case "fs.write":
    case "fs.list":
    case "fs.remove":
    case "fs.stat":
    case "fs.mkdir":
      return { ...base, resource: canonicalPath(args[0] as string) };
    case "http.fetch": {
      const req = args[0] as { method: string; url: string };
      const method = req.method.toUpperCase();
      if (!/^[A-Z]{1,16}$/.test(method)) throw new GuestError({ tag: "invalid", val: "an HTTP method is one word of letters" });
      return { ...base, resource: canonicalUrl(req.url), method };
    }
    case "sql.query":
      return sql ? { ...base, resource: args[0] as string, sql } : { ...base, resource: args[0] as string };
    case "log.write":
      return { ...base, resource: args[0] as string };
    case "process.checkpoint":
      return { ...base, resource: args[0] as string };
    default:
      return { ...base, resource: "" };
  }
}

/** Arguments as the log records them: bodies and file contents by size, not content. */
function recordedArgs(op: OpName, args: unknown[]): unknown[] {
  return args.map((arg) => (arg instanceof Uint8Array && arg.length > 4096 ? { bytes: arg.length } : arg));
}

/** Turns anything a capability threw into a WIT error with no host detail in it. */
export function toWitError(error: unknown): WitError {
  if (error instanceof GuestError) return error.error;
  return { tag: "io", val: "the host could not carry out the call" };
}

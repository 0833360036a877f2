/**
 * The gate: the one place where a host call is decided, logged and carried out.
 *
 *   request -> canonical form -> policy.decide -> (verify | ask) -> log the call (durable)
 *           -> capability -> log the result -> reply
 *
 * Every error on the way to a decision denies. Capabilities never see the policy; the policy
 * never performs I/O; engines never decide.
 */
import { canonicalUrl } from "./canonical.js";
import { EFFECT_FREE, LOG_UNWRITABLE, answerInOneEvent, callRecord, carriedOut, logResult, secretsNote } from "./gate-records.js";
import { buildRequest, toWitError } from "./gate-request.js";
import { dispatch, type RunCapabilities } from "./capabilities/index.js";
import type { HopAuthorizer } from "./capabilities/types.js";
import { secretsOf, withoutSecrets } from "./capabilities/secret-names.js";
import type { WitError } from "./errors.js";
import { decideFsCall, fsCallOf, planFsCall, type FsCall } from "./gate-fs.js";
import type { Reply } from "./engines/engine.js";
import { OPS, isOpName, type OpName } from "./kernel/ops.js";
import type { KernelLog } from "./episodic/log.js";
import { checkResourceArgs, checkResourceSize, clipReason, recordArgs } from "./episodic/args.js";
import { errorText, wellFormedDecision } from "./decision.js";
import { checkModelAlias } from "./capabilities/llm.js";
import { listAllowedTools, prepareToolCall } from "./gate-tools.js";
import { askApprover, askOnRedirect, type Approver } from "./gate-ask.js";
import { sharedRateRules, takeSharedRates, type SharedRates } from "./gate-rates.js";
import type { Action, DecideOptions, Decision, Denial, Limits, Policy, Request, SqlFacts, TokenCount } from "./types.js";

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
  /** Answers decisions with effect "ask" (a person, see runtime/approvals). Absent: "ask" denies at once (no approver). */
  approver?: Approver;
  /** Rate limits counted with other kernels too (a cluster): taken after the policy lets a call through. */
  sharedRates?: SharedRates;
  /**
   * Marks the run `waiting` while a call is held for a person; `cancel` is called if the run ends
   * or is asked to finish meanwhile. Returns the release. Absent: nothing is marked.
   */
  hold?(cancel: (why: string) => void): () => void;
  /** Calls seen so far (counted before the decision, so that a flood is cut off). */
  hostCalls: number;
  /** Model tokens used so far (the llm capability counts them from the providers' usage). */
  tokens: TokenCount;
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
  // The call that crossed the quota was logged whole; the next one ends the run (its exit is logged).
  if (run.log.runBytes(run.runId) >= run.limits.logBytes) return { abort: "limit", message: logQuotaReached(run.limits.logBytes) };
  // SQL is analyzed in the run's SQL process, off this thread: the decision waits for its facts.
  if (action === "sql.query" && run.capabilities.sql) {
    let facts: Promise<SqlFacts>;
    try {
      checkResourceArgs(op, args);
      facts = run.capabilities.sql.analyze(args[0] as string, args[1] as string);
    } catch (error) {
      return refuseInvalid(run, op, action, args, toWitError(error));
    }
    return facts.then(
      (sql) => decideCall(run, op, action, args, sql),
      (error: unknown) => refuseInvalid(run, op, action, args, toWitError(error)),
    );
  }
  // A tool call's arguments are checked against the tool's schema before the policy sees them.
  if (action === "tool.call") {
    let hash: Promise<string>;
    try {
      checkResourceArgs(op, args);
      hash = prepareToolCall(run, args);
    } catch (error) {
      return refuseInvalid(run, op, action, args, toWitError(error));
    }
    return hash.then(
      (toolHash) => decideCall(run, op, action, args, undefined, toolHash),
      (error: unknown) => refuseInvalid(run, op, action, args, toWitError(error)),
    );
  }
  return decideCall(run, op, action, args);
}

function decideCall(run: GateRun, op: OpName, action: Action, args: unknown[], sql?: SqlFacts, toolHash?: string): Reply | Promise<Reply> {
  let request: Request;
  try {
    // (a resource too long to record whole is refused: checked before and after canonicalization)
    checkResourceArgs(op, args);
    request = buildRequest(run, op, args, sql);
    if (toolHash !== undefined) request.toolHash = toolHash;
    checkResourceSize(request);
    if (action === "llm.chat") checkModelAlias(run.capabilities.llm, request.resource);
  } catch (error) {
    return refuseInvalid(run, op, action, args, toWitError(error));
  }

  if (run.terminating) return carryOut(run, op, args, request, FAIL_CLOSED("SIGTERM: the agent has been asked to finish"));
  if (run.capabilities.fs && action.startsWith("fs.")) return handleFsCall(run, op, args, request);
  const decision = decide(run.policy, request);
  if (held(decision)) return settle(run, request, decision, { op, args }).then((settled) => carryOut(run, op, args, request, settled));
  return carryOut(run, op, args, request, decision);
}

/**
 * An fs call: the policy decides every path it touches (the resolved one, the written one, each
 * link, each entry of a recursive operation: see gate-fs.ts), then the capability acts on
 * exactly the resolved target. A tree is planned only for a call its paths would let through.
 */
function handleFsCall(run: GateRun, op: OpName, args: unknown[], written: Request): Reply | Promise<Reply> {
  const fs = run.capabilities.fs!;
  let call: FsCall;
  try {
    call = fsCallOf(fs, op, args, written);
  } catch {
    return carryOut(run, op, args, written, FAIL_CLOSED("the path could not be resolved"));
  }
  const decideOne = (request: Request, count: boolean) => decide(run.policy, request, { count });
  const go = (): Reply | Promise<Reply> => {
    const { decision, request } = decideFsCall(call, decideOne);
    if (!held(decision)) return carryOut(run, op, args, call.request, decision, call);
    return settle(run, request, decision, { op, args }).then((settled) => carryOut(run, op, args, call.request, settled, call));
  };
  if (call.plan === null || ["deny", "stop", "kill"].includes(decideFsCall(call, decideOne, false).decision.effect)) return go();
  return planFsCall(fs, call, decideOne).then(go);
}

/**
 * A call whose arguments cannot even be put into a request (a malformed path or URL, several
 * SQL statements at once) is refused before the policy, and still recorded: the log holds
 * every attempt, with `invalid` saying why and a deny that names no rule.
 */
function refuseInvalid(run: GateRun, op: OpName, action: Action, args: unknown[], error: WitError): Reply | Promise<Reply> {
  const why = clipReason(typeof error.val === "string" ? error.val : error.val.reason);
  try {
    const staged = run.log.stage({
      type: "call",
      runId: run.runId,
      pid: run.pid,
      agent: run.agent,
      // (the error's tag too, when it is not `invalid`: replay answers with it)
      data: { op, action, resource: "", args: recordArgs(op, args, true), invalid: why, ...(error.tag !== "invalid" ? { invalidTag: error.tag } : {}), decision: { effect: "deny", rule: null, reason: `invalid call: ${why}`, matched: [] } },
    });
    const denial: Denial = { seq: staged.seq, action, resource: "", rule: null, reason: `invalid call: ${why}`, kind: "invalid" };
    const refused = (): Reply => {
      run.denials.push(denial);
      return { err: error };
    };
    if (run.log.durable) return staged.written.then(refused, () => LOG_UNWRITABLE);
    return refused();
  } catch {
    return LOG_UNWRITABLE;
  }
}

/** Logs the decided call, then carries it out (or not) as decided; a shared rate limit is taken first. */
function carryOut(run: GateRun, op: OpName, args: unknown[], request: Request, decision: Decision, fsCall?: FsCall): Reply | Promise<Reply> {
  const shared = run.sharedRates && sharedRateRules(run.policy, decision);
  if (shared && shared.length > 0) {
    return takeSharedRates(run.sharedRates!, run.policy, request, decision, shared, Date.now()).then((taken) => carryOutDecided(run, op, args, request, taken, fsCall));
  }
  return carryOutDecided(run, op, args, request, decision, fsCall);
}

function carryOutDecided(run: GateRun, op: OpName, args: unknown[], request: Request, decision: Decision, fsCall?: FsCall): Reply | Promise<Reply> {
  if (EFFECT_FREE.has(op) && (decision.effect === "allow" || decision.effect === "audit")) return answerInOneEvent(run, op, args, request, decision);
  let staged: { seq: number; written: Promise<void> };
  try {
    staged = run.log.stage({ type: "call", runId: run.runId, pid: run.pid, agent: run.agent, data: callRecord(op, args, request, decision, fsCall) });
  } catch {
    return LOG_UNWRITABLE;
  }
  // An in-memory log has nothing to wait for; a failed write there still fails every later call.
  if (!run.log.durable) return afterLogged(run, op, args, request, decision, staged.seq, fsCall);
  // A durable log: nothing is carried out (or answered) before the call event is on disk.
  return staged.written.then(() => afterLogged(run, op, args, request, decision, staged.seq, fsCall), () => LOG_UNWRITABLE);
}

function afterLogged(run: GateRun, op: OpName, args: unknown[], request: Request, decision: Decision, callSeq: number, fsCall?: FsCall): Reply | Promise<Reply> {
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
      if (run.terminating) {
        run.denials.push(denialOf(callSeq, request, decision, "interrupted"));
        return { err: { tag: "interrupted", val: decision.reason } };
      }
      return deny(run, callSeq, request, decision);
  }

  run.decidedUrl = request.action === "http.fetch" ? request.resource : undefined;
  const denialsBefore = run.denials.length;
  // A model call's result also records its alias and latency (for `agent-os log`'s one line);
  // an http.fetch's, the secrets the kernel injected (by name).
  const started = op === "llm.chat" ? performance.now() : 0;
  const note = () => (op === "llm.chat" ? { model: { alias: request.resource, latencyMs: Math.round(performance.now() - started) } } : undefined);
  const failed = (error: unknown) =>
    logResult(run, callSeq, refusedByCapability(run, denialsBefore, callSeq, request, { err: toWitError(error) }), { ...note(), ...secretsNote(secretsOf(error)) });
  // A listing also records every listed tool's hash.
  if (op === "tools.list") return listAllowedTools(run).then(({ listed, hashes }) => logResult(run, callSeq, { ok: listed }, { tools: hashes }), failed);
  let value: unknown;
  try {
    value = dispatch(op, args, run.capabilities, fsCall?.target);
  } catch (error) {
    return failed(error);
  }
  if (value instanceof Promise && op === "http.fetch") return value.then((ok: unknown) => logResult(run, callSeq, { ok: withoutSecrets(ok) }, secretsNote(secretsOf(ok))), failed);
  if (value instanceof Promise) return value.then((ok: unknown) => logResult(run, callSeq, { ok }, note()), failed);
  return logResult(run, callSeq, { ok: value });
}

/**
 * A capability that refuses a call the policy allowed (a read-only mount, the address guard)
 * makes it a denial too, unless the call already reported its own (a redirect hop the policy
 * denied is one, with the hop's event): one denial per refused call.
 */
function refusedByCapability(run: GateRun, denialsBefore: number, seq: number, request: Request, reply: { err: WitError }): { err: WitError } {
  const { err } = reply;
  if (err.tag === "denied" && run.denials.length === denialsBefore) {
    run.denials.push({ seq, action: request.action, resource: request.resource, rule: err.val.rule ?? null, reason: err.val.reason, kind: "capability" });
  }
  return reply;
}

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
    const interrupted = run.terminating;
    let decision = interrupted ? FAIL_CLOSED("SIGTERM: the agent has been asked to finish") : decide(run.policy, request);
    if (decision.effect === "verify") decision = await verify(run, request, decision);
    else if (decision.effect === "ask") decision = askOnRedirect(decision);
    const shared = run.sharedRates && sharedRateRules(run.policy, decision);
    if (shared && shared.length > 0) decision = await takeSharedRates(run.sharedRates!, run.policy, request, decision, shared, Date.now());
    try {
      const call = await run.log.append({
        type: "call",
        runId: run.runId,
        pid: run.pid,
        agent: run.agent,
        data: { op: "http.fetch", action: "http.fetch", resource, method: request.method, redirect: true, decision: { ...decision } },
      });
      if (decision.effect === "allow" || decision.effect === "audit") return true;
      run.denials.push(denialOf(call.seq, request, decision, interrupted ? "interrupted" : "policy"));
      if (decision.effect === "kill") run.kill(decision.reason);
      else if (decision.effect === "stop") run.stop(decision.reason);
      return false;
    } catch {
      return false;
    }
  };
}

/**
 * Decides under the policy. A policy that throws, or answers anything but a well-formed
 * decision (a custom Policy is host code the kernel cannot vouch for), denies: it must not,
 * but never fail open.
 */
export function decide(policy: Policy, request: Request, options?: DecideOptions): Decision {
  try {
    const decision = options === undefined ? policy.decide(request) : policy.decide(request, options);
    return wellFormedDecision(decision) ?? FAIL_CLOSED("the policy gave no decision");
  } catch (error) {
    return FAIL_CLOSED(`the policy failed: ${errorText(error)}`);
  }
}

/** A decision the gate holds the call for: cross-model verification, or a person's answer. */
function held(decision: Decision): boolean {
  return decision.effect === "verify" || decision.effect === "ask";
}

function settle(run: GateRun, request: Request, decision: Decision, call: { op: OpName; args: readonly unknown[] }): Promise<Decision> {
  return decision.effect === "ask" ? askApprover(run, request, decision, call) : verify(run, request, decision, call);
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

function denialOf(seq: number, request: Request, decision: Decision, kind: Denial["kind"] = "policy"): Denial {
  return { seq, action: request.action, resource: request.resource, rule: decision.rule, reason: decision.reason, kind };
}

/** The error a run ends with when its events reach `limits.logBytes`. */
function logQuotaReached(bytes: number): string {
  return `log quota of ${bytes} bytes reached (limits.logBytes)`;
}

export { buildRequest, toWitError };
export type { Approver, SharedRates };

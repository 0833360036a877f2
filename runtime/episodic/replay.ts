/**
 * Replay: the host-call handler of a replayed run. The agent runs again in a fresh isolate, and
 * every call it makes is compared with the next call the log recorded for the run (operation,
 * canonical resource, method, arguments as recorded). The same call is answered from the log as
 * it was then: the recorded value or error, a denial for a denied call, an abort for a kill.
 * Nothing is carried out: no file, network or database is touched, and the clock and random
 * bytes are the recorded ones. The first call that differs, or a call the log does not hold,
 * ends the replay with the divergence.
 */
import { GuestError, type WitError } from "../errors.js";
import type { Reply } from "../engines/engine.js";
import type { GateRun } from "../gate.js";
// (from gate-request, not gate: the gate carries out calls, on Node; replay only rebuilds requests)
import { buildRequest, toWitError } from "../gate-request.js";
import { OPS, isOpName, type OpName } from "../kernel/ops.js";
import type { LoggedEvent, Request, RunResult } from "../types.js";
import { canonicalJson, decodeValue, encodeValue, type JsonValue } from "./encoding.js";
import { asRecorded, checkResourceArgs, checkResourceSize, recordArgs } from "./args.js";
import type { RecordedCall, RecordedRun, StopPoint } from "./recording.js";

export { recordedAgent, replayGateRun, spawnedWith, type ReplayAgent } from "./replay-setup.js";

/** One host call as replay compares it: the call as the gate records it. */
export interface CallSummary {
  op: string;
  action: string;
  resource: string;
  method?: string;
  /** The arguments as the log records them (large ones by size and sha256: see args.ts). */
  args: JsonValue;
}

/** How a run ended, as the exit event records it and as the replay ended. */
export interface EndSummary {
  status: string;
  reason?: string;
  output?: string;
}

/** A replayed call: the recorded call it matched, and how it was answered. */
export interface ReplayedCall {
  /** The sequence number of the recorded call event. */
  seq: number;
  /** The sequence number of its result event, when it has one. */
  resultSeq?: number;
  op: string;
  action: string;
  resource: string;
  effect: string;
  rule: string | null;
  /** "ok", the WIT error's tag ("denied", "not-found", ...), or "abort" for a kill. */
  outcome: string;
}

/** The first point where the replay and the log disagree. */
export interface Divergence {
  /** The recorded event the replay did not reproduce (the call, or the exit). */
  seq: number;
  /** What the log holds there (null: the log holds nothing more for this run). */
  expected: CallSummary | EndSummary | null;
  /** What the replayed agent did instead (null: it ended without making the call). */
  actual: CallSummary | EndSummary | null;
  reason: string;
}

/** The call the agent was about to make at the checkpoint. */
export interface PendingCall {
  seq: number;
  expected: CallSummary;
  actual: CallSummary;
  /** Whether the agent's call is the recorded one. */
  matches: boolean;
}

/** What `kernel.replay` resolves to. */
export interface ReplayResult {
  runId: string;
  agent: string;
  /** identical: every call and the ending as recorded; stopped: at the checkpoint; diverged: see divergence. */
  status: "identical" | "diverged" | "stopped";
  /** The replayed calls, in order. */
  events: ReplayedCall[];
  /** The agent's output when it returned. */
  output?: string;
  divergence?: Divergence;
  /** With a checkpoint: where the replay stopped. */
  checkpoint?: StopPoint;
  pending?: PendingCall;
  /** How the recorded run ended, when the log has its exit event. */
  recorded?: EndSummary;
  /** How the replayed run ended (for a stopped or diverged replay: killed by the replay). */
  replayed?: EndSummary;
}

/** Options of {@link Replayer}. Default: no SQL analyzer. */
export interface ReplayerOptions {
  /** Where to stop (see stopPoint). */
  stop?: StopPoint;
  /**
   * Analyzes a statement as the gate did, when a sql.query is not the recorded call: a statement
   * the analyzer refused was answered with its error before any decision (and never logged).
   */
  analyzeSql?: (database: string, statement: string) => unknown;
}

// Endings that came from outside the agent: a replay cannot (and need not) reproduce their moment.
const EXTERNAL_ENDINGS = new Set(["signal", "deadline"]);

const str = (v: unknown): string => (typeof v === "string" ? v : "");

/**
 * Answers a replayed run's host calls from its recording.
 *
 * @example
 * const replayer = new Replayer(await readRun(log, runId));
 * // process deps: handle: (gate, request) => replayer.handle(gate, request)
 * const report = replayer.finish(await proc.wait());
 */
export class Replayer {
  private next = 0;
  private readonly events: ReplayedCall[] = [];
  private divergence: Divergence | undefined;
  private pending: PendingCall | undefined;
  /** The recording ends here (a run killed from outside, or a call that never finished). */
  private recordingEnded = false;
  private terminating = false;
  private signalsSeen = 0;
  private readonly signals: LoggedEvent[];

  constructor(
    private readonly run: RecordedRun,
    private readonly options: ReplayerOptions = {},
  ) {
    this.signals = run.events.filter((e) => e.type === "signal" && e.data.signal === "SIGTERM");
  }

  /** Whether the replay has stopped answering (diverged, at the checkpoint, or past the recording). */
  get over(): boolean {
    return this.divergence !== undefined || this.pending !== undefined || this.recordingEnded;
  }

  /** The process hook: one host call of the replayed agent. Never performs I/O (the SQL analyzer only reads schemas, in its own process). */
  handle(gate: GateRun, message: unknown): Reply | Promise<Reply> {
    const { op, args } = (message ?? {}) as { op?: unknown; args?: unknown };
    // What the gate does before anything is logged, the replay does too.
    if (typeof op !== "string" || !isOpName(op) || !Array.isArray(args)) return { err: { tag: "invalid", val: "malformed host call" } };
    gate.hostCalls++;
    if (gate.hostCalls > gate.limits.hostCalls) return { abort: "limit", message: `host-call limit of ${gate.limits.hostCalls} reached` };
    if (OPS[op].action === null) return { ok: undefined };
    if (this.over) return END;
    const recorded = this.run.calls[this.next];
    const expected = recorded && recordedSummary(recorded.call);
    // The gate refuses a call it cannot build a request from (a malformed path or URL, a
    // statement SQLite's compiler refuses) before any decision, and logs it with `invalid`.
    const recordedInvalid = recorded !== undefined && typeof recorded.call.data.invalid === "string";
    let request: Request | undefined;
    let invalid: WitError | undefined;
    try {
      checkResourceArgs(op, args);
      request = buildRequest({ agent: gate.agent, pid: gate.pid }, op, args);
      checkResourceSize(request);
    } catch (error) {
      invalid = toWitError(error);
    }
    // Compared in the recorded form: what the recording summarized, by the same summary.
    const actual = summarize(op, request, asRecorded(args, recorded?.call.data.args as JsonValue | undefined));
    const same = expected !== undefined && (recordedInvalid ? sameInvalidCall(expected, actual) : invalid === undefined && sameCall(expected, actual));
    const call: CallInReplay = { op, recorded, expected, recordedInvalid, actual, same, invalid, request, args };
    if (op === "sql.query" && invalid === undefined && (recordedInvalid || !same)) {
      const refused = this.refusedByAnalyzer(args);
      const go = (error: WitError | undefined) => this.answer({ ...call, invalid: error, same: error && !recordedInvalid ? false : same });
      return refused instanceof Promise ? refused.then(go) : go(refused);
    }
    const reply = this.answer(call);
    if (op === "llm.chat" && "ok" in reply) countTokens(gate, reply.ok);
    return reply;
  }

  /** The reply to one call, once it is known whether the gate refused it before deciding. */
  private answer(call: CallInReplay): Reply {
    const { op, recorded, expected, recordedInvalid, actual, same, invalid, request, args } = call;
    // Logs written before the gate recorded refused calls hold nothing for them: answer as it did.
    if (!same && invalid && !recordedInvalid) return { err: invalid };
    const hint = !same && op === "sql.query" && !this.options.analyzeSql ? " (a statement the gate refused before deciding is in the log only since the gate records refused calls: give the databases so that replay can tell)" : "";
    if (!recorded || !expected) {
      const exit = this.run.exit;
      // A limit the replay does not count (the log quota) ended the run at its next call, whatever it was.
      if (exit && exit.data.status === "killed" && exit.data.reason === "limit") {
        this.recordingEnded = true;
        return { abort: "limit", message: str(exit.data.error) };
      }
      if (exit && !EXTERNAL_ENDINGS.has(str(exit.data.reason))) {
        this.diverge(exit.seq, null, shown(op, request, args, invalid !== undefined), `the recorded run ended here; the replayed agent made another call${hint}`);
      } else this.recordingEnded = true;
      return END;
    }
    const stop = this.options.stop;
    // A checkpoint at a call event stops at that call, like a breakpoint: it is the pending one.
    const refused = recordedInvalid || invalid !== undefined || !carriedOut(recorded.call);
    if (stop && recorded.call.seq >= stop.seq) {
      this.pending = { seq: recorded.call.seq, expected, actual: same ? actual : shown(op, request, args, refused), matches: same };
      return END;
    }
    if (!same) {
      this.diverge(recorded.call.seq, expected, shown(op, request, args, refused), `the replayed agent made another call than the recorded one${hint}`);
      return END;
    }
    this.next++;
    this.passSignals(recorded.call.seq);
    const reply: Reply = recordedInvalid ? { err: invalid ?? recordedRefusal(recorded.call) } : this.replyFor(recorded);
    const decision = (recorded.call.data.decision ?? {}) as { effect?: unknown; rule?: unknown };
    this.events.push({
      seq: recorded.call.seq,
      ...(recorded.result ? { resultSeq: recorded.result.seq } : {}),
      op,
      action: expected.action,
      resource: expected.resource,
      effect: str(decision.effect),
      rule: typeof decision.rule === "string" ? decision.rule : null,
      outcome: "ok" in reply ? "ok" : "err" in reply ? reply.err.tag : "abort",
    });
    return reply;
  }

  /**
   * The replay's report, once the replayed process has ended.
   *
   * @example const report = replayer.finish(await proc.wait()); report.status // "identical"
   */
  finish(result: RunResult): ReplayResult {
    const recorded = this.run.exit ? endOf(this.run.exit) : undefined;
    const replayed: EndSummary = {
      status: result.status,
      ...(result.reason ? { reason: result.reason } : {}),
      ...(result.output !== undefined ? { output: result.output } : {}),
    };
    if (!this.over) {
      const missing = this.run.calls[this.next];
      if (missing) {
        this.diverge(missing.call.seq, recordedSummary(missing.call), null, `the replayed agent ended (${result.status}) without making the recorded call`);
      } else if (recorded && !sameEnding(recorded, replayed)) {
        this.diverge(this.run.exit!.seq, recorded, replayed, "the replayed run ended differently");
      }
    }
    const status = this.divergence ? "diverged" : this.pending ? "stopped" : "identical";
    return {
      runId: this.run.runId,
      agent: this.run.spawn.agent,
      status,
      events: this.events,
      ...(status === "identical" && result.output !== undefined ? { output: result.output } : {}),
      ...(this.divergence ? { divergence: this.divergence } : {}),
      ...(this.options.stop ? { checkpoint: this.options.stop } : {}),
      ...(this.pending ? { pending: this.pending } : {}),
      ...(recorded ? { recorded } : {}),
      replayed,
    };
  }

  private diverge(seq: number, expected: Divergence["expected"], actual: Divergence["actual"], reason: string): void {
    this.divergence ??= { seq, expected, actual, reason };
  }

  /** The error the analyzer refuses a statement with (the gate refused it so, before deciding). */
  private refusedByAnalyzer(args: unknown[]): WitError | undefined | Promise<WitError | undefined> {
    if (!this.options.analyzeSql) return undefined;
    const refusal = (error: unknown) => (error instanceof GuestError ? error.error : undefined);
    try {
      const analysis = this.options.analyzeSql(args[0] as string, args[1] as string);
      return analysis instanceof Promise ? analysis.then(() => undefined, refusal) : undefined;
    } catch (error) {
      return refusal(error);
    }
  }

  /** SIGTERM recorded before this call: the gate answered `interrupted` to denied calls from then on. */
  private passSignals(seq: number): void {
    while (this.signalsSeen < this.signals.length && this.signals[this.signalsSeen].seq < seq) {
      this.terminating = true;
      this.signalsSeen++;
    }
  }

  /** The reply the guest got, as the log recorded it. */
  private replyFor(recorded: RecordedCall): Reply {
    const decision = (recorded.call.data.decision ?? {}) as { effect?: unknown; rule?: unknown; reason?: unknown };
    const reason = str(decision.reason);
    switch (decision.effect) {
      case "allow":
      case "audit":
        break;
      case "kill":
        return { abort: "policy", message: reason };
      case "stop":
        return denied(decision.rule, reason);
      default:
        if (this.terminating) return { err: { tag: "interrupted", val: reason } };
        return denied(decision.rule, reason);
    }
    const result = recorded.result;
    if (!result) {
      // The run ended (killed, or the kernel stopped) while this call was being carried out.
      this.recordingEnded = true;
      return END;
    }
    if ("err" in result.data) return { err: decodeValue(result.data.err) as WitError };
    const ok = decodeValue(result.data.ok);
    // The gate records a void result as null (JSON has no undefined).
    return { ok: ok === null ? undefined : ok };
  }
}

/** A replayed model answer counts its recorded tokens, as the run did. */
function countTokens(gate: GateRun, ok: unknown): void {
  const usage = (ok as { usage?: { inputTokens?: unknown; outputTokens?: unknown } } | null)?.usage;
  if (typeof usage?.inputTokens === "number") gate.tokens.input += usage.inputTokens;
  if (typeof usage?.outputTokens === "number") gate.tokens.output += usage.outputTokens;
}

const END: Reply = { abort: "signal", message: "replay: the recorded run does not go on from here" };

/** One call being replayed: what was recorded, what the agent asked, and how they compare. */
interface CallInReplay {
  op: OpName;
  recorded: RecordedCall | undefined;
  expected: ReturnType<typeof recordedSummary> | undefined;
  recordedInvalid: boolean;
  actual: ReturnType<typeof summarize>;
  same: boolean;
  invalid: WitError | undefined;
  /** The replayed call's request (absent when it could not be built) and arguments, for the report. */
  request: Request | undefined;
  args: unknown[];
}

function denied(rule: unknown, reason: string): Reply {
  return { err: { tag: "denied", val: typeof rule === "string" ? { rule, reason } : { reason } } };
}

/** The error a call refused before any decision was answered with, as the gate recorded it. */
function recordedRefusal(call: LoggedEvent): WitError {
  const tag = call.data.invalidTag;
  const why = str(call.data.invalid);
  if (tag === "denied") return { tag, val: { reason: why } };
  return { tag: tag === "not-found" || tag === "io" || tag === "limit" || tag === "interrupted" ? tag : "invalid", val: why };
}

/** Whether a recorded call was carried out (allowed or audited). */
function carriedOut(call: LoggedEvent): boolean {
  const effect = (call.data.decision as { effect?: unknown } | undefined)?.effect;
  return effect === "allow" || effect === "audit";
}

/** A replayed call that differs from the recorded one, shown with its arguments as the gate would record them. */
function shown(op: OpName, request: Request | undefined, args: unknown[], refused: boolean): CallSummary {
  return summarize(op, request, recordArgs(op, args, refused));
}

function summarize(op: OpName, request: Request | undefined, args: unknown): CallSummary {
  let encoded: JsonValue;
  try {
    encoded = encodeValue(args);
  } catch {
    encoded = null;
  }
  // A call refused before it became a request is recorded with an empty resource.
  if (!request) return { op, action: OPS[op].action ?? "", resource: "", args: encoded };
  return { op, action: request.action, resource: request.resource, ...(request.method ? { method: request.method } : {}), args: encoded };
}

/** A call the gate refused as invalid: recorded without a resource, so compared without one. */
function sameInvalidCall(recorded: CallSummary, actual: CallSummary): boolean {
  return recorded.op === actual.op && recorded.action === actual.action && canonicalJson(recorded.args) === canonicalJson(actual.args);
}

function recordedSummary(call: LoggedEvent): CallSummary {
  const d = call.data;
  return {
    op: str(d.op),
    action: str(d.action),
    // An fs call's resource is where its path led; the agent wrote `path` (recorded when they differ).
    resource: str(str(d.action).startsWith("fs.") && typeof d.path === "string" ? d.path : d.resource),
    ...(typeof d.method === "string" ? { method: d.method } : {}),
    args: (d.args ?? null) as JsonValue,
  };
}

function sameCall(a: CallSummary, b: CallSummary): boolean {
  return a.op === b.op && a.action === b.action && a.resource === b.resource && a.method === b.method && canonicalJson(a.args) === canonicalJson(b.args);
}

function endOf(exit: LoggedEvent): EndSummary {
  const d = exit.data;
  return {
    status: str(d.status),
    ...(typeof d.reason === "string" ? { reason: d.reason } : {}),
    ...(typeof d.output === "string" ? { output: d.output } : {}),
  };
}

/** The same ending: status and output; a run killed from outside ends however the replay's recording ends. */
function sameEnding(recorded: EndSummary, replayed: EndSummary): boolean {
  if (recorded.status === "killed" && EXTERNAL_ENDINGS.has(recorded.reason ?? "")) return true;
  if (recorded.status !== replayed.status || recorded.output !== replayed.output) return false;
  return recorded.status === "ok" || recorded.reason === replayed.reason;
}

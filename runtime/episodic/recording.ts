/**
 * A recorded run as replay reads it back from the log: its spawn event, its host calls (each
 * with its result and, for http.fetch, its redirect hops), its checkpoints, signals and exit.
 * Also where a replay stops: a checkpoint given as a sequence number, a label or a time.
 */
import { ReplayError } from "../errors.js";
import { canonicalSql } from "../capabilities/sql-text.js";
import type { LoggedEvent, SqlFacts } from "../types.js";
import type { KernelLog } from "./log.js";
import type { JsonValue } from "./encoding.js";

/** One host call of a run, as the gate recorded it. */
export interface RecordedCall {
  call: LoggedEvent;
  /**
   * The event holding the call's result (`data.ok` or `data.err`): its result event, or, for a
   * call recorded with its result in one event (an effect-free call: see the gate), the call
   * event with its `result` as data. Absent for a call that was not carried out (denied) or
   * never finished.
   */
  result?: LoggedEvent;
  /** Redirects of an http.fetch, each decided and logged as a call of its own. */
  hops: LoggedEvent[];
}

/** Everything the log holds about one run, oldest first. */
export interface RecordedRun {
  runId: string;
  spawn: LoggedEvent;
  calls: RecordedCall[];
  events: LoggedEvent[];
  exit?: LoggedEvent;
}

/**
 * Where a replay stops: at the event `seq`. The calls recorded before it are replayed; the
 * first call at or after it is the pending one (a checkpoint at a call event stops at that call).
 */
export interface StopPoint {
  seq: number;
  /** How the checkpoint was given. */
  by: "seq" | "label" | "time";
  label?: string;
  time?: number;
}

/**
 * The call event a result event answers: `call` as the gate writes it (`callSeq` in older logs).
 *
 * @example resultOf(e) === 12 // for { type: "result", data: { call: 12, ok: null } }
 */
export function resultOf(e: LoggedEvent): number | undefined {
  const seq = e.data.call ?? e.data.callSeq;
  return typeof seq === "number" ? seq : undefined;
}

/**
 * Reads one run's events from the log.
 *
 * @example const run = await readRun(log, "0b6c..."); run.calls.length
 * @throws ReplayError when the log holds no spawn event for the run.
 */
export async function readRun(log: KernelLog, runId: string): Promise<RecordedRun> {
  const events: LoggedEvent[] = [];
  for await (const e of log.query({ runId })) events.push(e);
  const spawn = events.find((e) => e.type === "spawn");
  if (!spawn) {
    throw new ReplayError(events.length === 0 ? `there is no run ${runId} in the log` : `the log holds no spawn event for run ${runId}`);
  }
  const calls: RecordedCall[] = [];
  const bySeq = new Map<number, RecordedCall>();
  let exit: LoggedEvent | undefined;
  for (const e of events) {
    if (e.type === "call") {
      const last = calls[calls.length - 1];
      if (e.data.redirect === true && last) last.hops.push(e);
      else {
        const call: RecordedCall = { call: e, hops: [] };
        const inline = e.data.result;
        if (inline !== null && typeof inline === "object" && !Array.isArray(inline)) call.result = { ...e, data: inline as LoggedEvent["data"] };
        calls.push(call);
        bySeq.set(e.seq, call);
      }
    } else if (e.type === "result") {
      const of = resultOf(e);
      const call = of === undefined ? undefined : bySeq.get(of);
      if (call && !call.result) call.result = e;
    } else if (e.type === "exit") exit ??= e;
  }
  return { runId, spawn, calls, events, ...(exit ? { exit } : {}) };
}

/**
 * The run that was going on at a time: the one with the newest event at or before it that had
 * not exited before it (several runs at once: the one that was last active).
 *
 * @example await findRunAt(log, Date.parse("2026-01-15T10:30:00Z")) // "0b6c..."
 * @throws ReplayError when no run was going on at that time.
 */
export async function findRunAt(log: KernelLog, time: number): Promise<string> {
  const ended = new Set<string>();
  for await (const e of log.query({ until: time, order: "newest" })) {
    if (ended.has(e.runId)) continue;
    if (e.type === "exit" && e.time < time) {
      ended.add(e.runId);
      continue;
    }
    if (e.pid === 0 && e.agent === "host") continue; // the kernel's own verification votes
    return e.runId;
  }
  throw new ReplayError(`no run was going on at ${new Date(time).toISOString()}`);
}

/**
 * What a checkpoint argument means: digits are a sequence number, an ISO date-time is a time,
 * anything else is a checkpoint label.
 *
 * @example parseCheckpoint("42") // { seq: 42 }
 * @example parseCheckpoint("2026-01-15T10:30:00Z") // { time: 1768473000000 }
 * @example parseCheckpoint("before-upload") // { label: "before-upload" }
 */
export function parseCheckpoint(spec: number | string): { seq: number } | { time: number } | { label: string } {
  if (typeof spec === "number") {
    if (!Number.isSafeInteger(spec) || spec < 1) throw new ReplayError(`a checkpoint sequence number is a positive integer, not ${spec}`);
    return { seq: spec };
  }
  if (typeof spec !== "string" || spec === "") throw new ReplayError("a checkpoint is a sequence number, a label or an ISO time");
  if (/^\d+$/.test(spec)) return parseCheckpoint(Number(spec));
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(spec)) {
    const time = Date.parse(spec);
    if (Number.isNaN(time)) throw new ReplayError(`not a valid time: ${JSON.stringify(spec)}`);
    return { time };
  }
  return { label: spec };
}

/**
 * The point of a run where a replay stops.
 *
 * @example stopPoint(run, "before-upload") // { seq: 17, by: "label", label: "before-upload" }
 * @throws ReplayError for a label the run never recorded, or a time before the run started.
 */
export function stopPoint(run: RecordedRun, spec: number | string): StopPoint {
  const parsed = parseCheckpoint(spec);
  if ("seq" in parsed) return { seq: parsed.seq, by: "seq" };
  if ("label" in parsed) {
    const event = run.events.find((e) => e.type === "checkpoint" && e.data.label === parsed.label);
    if (!event) {
      const labels = run.events.filter((e) => e.type === "checkpoint").map((e) => JSON.stringify(e.data.label));
      throw new ReplayError(
        `run ${run.runId} has no checkpoint ${JSON.stringify(parsed.label)}` + (labels.length ? ` (its checkpoints: ${labels.join(", ")})` : " (it recorded none)"),
      );
    }
    return { seq: event.seq, by: "label", label: parsed.label };
  }
  let seq: number | undefined;
  for (const e of run.events) if (e.time <= parsed.time) seq = e.seq;
  if (seq === undefined) throw new ReplayError(`run ${run.runId} had not started at ${new Date(parsed.time).toISOString()}`);
  return { seq, by: "time", time: parsed.time };
}

/** Options of {@link locateRun}: a run id, a checkpoint, or both (at least one). */
export interface LocateOptions {
  runId?: string;
  /** A sequence number, a checkpoint label, or an ISO time (which alone also finds the run). */
  checkpoint?: number | string;
}

/**
 * The run a replay is about, and where it stops.
 *
 * @example const { run, stop } = await locateRun(log, { checkpoint: "2026-01-15T10:30:00Z" });
 * @throws ReplayError when neither is given, the run is unknown, or the checkpoint is not in it.
 */
export async function locateRun(log: KernelLog, options: LocateOptions): Promise<{ run: RecordedRun; stop?: StopPoint }> {
  let runId = options.runId;
  if (runId !== undefined && (typeof runId !== "string" || runId === "")) throw new ReplayError("replay: the run id must be a non-empty string");
  if (runId === undefined) {
    if (options.checkpoint === undefined) throw new ReplayError("replay: give a run id, or a checkpoint time to find the run by");
    const parsed = parseCheckpoint(options.checkpoint);
    if (!("time" in parsed)) throw new ReplayError("replay: without a run id, the checkpoint must be an ISO time (a sequence number or label needs the run)");
    runId = await findRunAt(log, parsed.time);
  }
  const run = await readRun(log, runId);
  return options.checkpoint === undefined ? { run } : { run, stop: stopPoint(run, options.checkpoint) };
}

/**
 * The SQL facts a recorded sql.query call was decided on, as the gate recorded them with the
 * call (operations and tables; the statement is the call's second argument), or undefined for
 * a call recorded without them.
 */
export function recordedSqlFacts(data: Record<string, unknown>): SqlFacts | undefined {
  const sql = data.sql as { operations?: unknown; reads?: unknown; writes?: unknown } | undefined;
  const args = data.args;
  if (typeof sql !== "object" || sql === null || !Array.isArray(args) || typeof args[1] !== "string") return undefined;
  const strings = (v: unknown): string[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === "string") ? (v as string[]) : undefined);
  const operations = strings(sql.operations);
  const reads = strings(sql.reads);
  const writes = strings(sql.writes);
  if (!operations || !reads || !writes) return undefined;
  const statement = args[1];
  return { statement, canonical: canonicalSql(statement), operations, reads, writes };
}

/**
 * What the policy saw of a recorded tool.call: its arguments (parsed from the recorded JSON
 * text; absent when the log summarized them) and the tool's hash when it was decided.
 */
export function recordedToolFacts(data: Record<string, unknown>): { args?: JsonValue; toolHash?: string } {
  const out: { args?: JsonValue; toolHash?: string } = {};
  const args = data.args;
  if (Array.isArray(args) && typeof args[1] === "string") {
    try {
      out.args = JSON.parse(args[1]) as JsonValue;
    } catch {
      // (recorded as the agent sent it: not JSON, refused as invalid before any decision)
    }
  }
  const hash = (data.tool as { hash?: unknown } | undefined)?.hash;
  if (typeof hash === "string") out.toolHash = hash;
  return out;
}

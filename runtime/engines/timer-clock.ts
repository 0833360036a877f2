/**
 * The clock behind timers, the same on both engines, so that one agent makes the same kernel
 * calls on either.
 *
 * The guest's known monotonic time is the answer of its last `clock.monotonic-now` or
 * `clock.sleep-until` call, valid until any other call through the gate. A timer counts its
 * delay from the known time, or makes one `clock.monotonic-now` call when it is not valid. The
 * next timer to fire is the one due first (the first set, among those due at the same time);
 * waiting for it makes one `clock.sleep-until` call, unless the known time shows it due already.
 *
 * StarlingMonkey reads the WASI monotonic clock many times per timer for its own purposes: those
 * reads get the last known time and make no call. Only the read that sets a timer's deadline
 * counts (the subscription that follows it; see component/wasi.ts), as QuickJS's setTimeout does.
 */
import type { OpName } from "../kernel/ops.js";
import type { AbortReason, Reply } from "./engine.js";

/**
 * A timer could not read the clock or wait: the run ends. `abort` is set when the kernel ended
 * the run (a kill, a limit); otherwise the call was refused, and the run fails with `message`.
 */
export class TimerStop extends Error {
  override readonly name = "TimerStop";
  constructor(
    message: string,
    readonly abort?: AbortReason,
  ) {
    super(message);
  }
}

/** Sends one call through the gate, as the engine's imports do (counted, with its abort handled). */
export type SendCall = (op: OpName, args: unknown[]) => Reply;

const CLOCK_READS: ReadonlySet<OpName> = new Set(["clock.monotonic-now", "clock.sleep-until"]);

/** A wall-clock reading, as `clock.now` answers it. */
export interface WallTime {
  seconds: bigint;
  nanoseconds: number;
}

export class TimerClock {
  private known = 0n;
  private valid = false;
  private wall: WallTime = { seconds: 0n, nanoseconds: 0 };

  constructor(private readonly send: SendCall) {}

  /** Every answered call through the gate passes here: a clock reading sets the known time, any other call spoils it. */
  observe(op: OpName, reply: Reply): void {
    if (op === "clock.now" && "ok" in reply) this.wall = reply.ok as WallTime;
    if (CLOCK_READS.has(op) && "ok" in reply && typeof reply.ok === "bigint") {
      this.known = reply.ok;
      this.valid = true;
    } else {
      this.valid = false;
    }
  }

  /**
   * The agent's last `clock.now` answer (the epoch before any): what StarlingMonkey's own reads of
   * the wall clock get (its time-zone cache reads it), with no call. The agent's `Date` is the
   * prelude's, a `clock.now` call each time.
   */
  get lastWall(): WallTime {
    return this.wall;
  }

  /** The last time read (0 before any): what a read of the clock that sets no timer gets. */
  get last(): bigint {
    return this.known;
  }

  /**
   * The time a new timer's delay counts from.
   * @throws TimerStop when the clock cannot be read
   */
  base(): bigint {
    if (this.valid) return this.known;
    return this.clockCall("clock.monotonic-now", [], "a timer could not read the clock");
  }

  /**
   * Waits until `deadline`, unless the known time shows it has passed; returns the time then.
   * @throws TimerStop when the wait is refused or the run ends
   */
  waitUntil(deadline: bigint): bigint {
    if (this.valid && deadline <= this.known) return this.known;
    return this.clockCall("clock.sleep-until", [deadline], "a timer could not wait");
  }

  /**
   * base() for an engine whose calls may wait (the asynchronous QuickJS engine): the known time
   * at once, or the call's answer when it comes. @throws (or rejects with) TimerStop
   */
  baseMaybeAsync(send: MaybeAsyncSend): bigint | Promise<bigint> {
    if (this.valid) return this.known;
    return maybeAnswer(send("clock.monotonic-now", []), "clock.monotonic-now", "a timer could not read the clock");
  }

  /** waitUntil() for an engine whose calls may wait. @throws (or rejects with) TimerStop */
  waitUntilMaybeAsync(deadline: bigint, send: MaybeAsyncSend): bigint | Promise<bigint> {
    if (this.valid && deadline <= this.known) return this.known;
    return maybeAnswer(send("clock.sleep-until", [deadline]), "clock.sleep-until", "a timer could not wait");
  }

  private clockCall(op: OpName, args: unknown[], what: string): bigint {
    return answer(this.send(op, args), op, what);
  }
}

/** Sends one call through the gate; the reply may come later. */
export type MaybeAsyncSend = (op: OpName, args: unknown[]) => Reply | Promise<Reply>;

function maybeAnswer(reply: Reply | Promise<Reply>, op: OpName, what: string): bigint | Promise<bigint> {
  return reply instanceof Promise ? reply.then((r) => answer(r, op, what)) : answer(reply, op, what);
}

/** A clock call's time. @throws TimerStop when it was refused or the run ends */
function answer(reply: Reply, op: OpName, what: string): bigint {
  if ("abort" in reply) throw new TimerStop(reply.message, reply.abort);
  if ("err" in reply) {
    const val = reply.err.val;
    throw new TimerStop(`${what}: ${op} was refused (${reply.err.tag}: ${typeof val === "string" ? val : val.reason})`);
  }
  if (typeof reply.ok !== "bigint") throw new TimerStop(`${what}: ${op} answered ${typeof reply.ok}, not a time`);
  return reply.ok;
}

/** The index of the timer to fire next: the earliest deadline, the first listed among equal ones. */
export function earliest(deadlines: readonly bigint[]): number {
  let best = 0;
  for (let i = 1; i < deadlines.length; i++) if (deadlines[i] < deadlines[best]) best = i;
  return best;
}

/**
 * Runs one agent on the asynchronous engine: its own engine instance (its own linear memory),
 * sharing the thread with other agents. The guest sees exactly what it sees on the synchronous
 * engine; what differs is how it waits:
 * - a host call whose reply comes later suspends the guest's stack, and the thread serves others;
 * - at every interrupt (10,000 interpreter steps, one fuel slice) the guest yields its turn
 *   (see Turns), so that a guest in a tight loop delays the others by one slice at most;
 * - SIGSTOP suspends it there, or after the host call it is in, until SIGCONT.
 * Limits are the same: memory (QuickJS's and the instance's), stack, fuel, host calls, output.
 */
import type { OpName } from "../../kernel/ops.js";
import type { AbortReason, Finished, Outcome, Reply, RunSpec } from "../engine.js";
import { inIntrinsicCall, releaseIntrinsics } from "../quickjs/intrinsics.js";
import { ENTRY, FUEL_PER_SLICE, RunState, describeHostError, entrySource, spendSlice } from "../quickjs/outcome.js";
import { TimerClock } from "../timer-clock.js";
import { EngineAbandoned } from "./glue.js";
import type { PreparedInstance, PreparedPool } from "./prepare.js";
import { runModuleAsync } from "./steps.js";
import type { Turns } from "./turns.js";

/** What the kernel wants of a run right now. */
export type ControlWord = "run" | "stop" | "kill";

/** The run's end of the gate on the asynchronous engine. */
export interface AsyncBridge {
  /** One call through the gate: the reply, or a promise of it when it must be waited for. */
  call(op: OpName, args: unknown[]): Reply | Promise<Reply>;
  /** Publishes the fuel used so far; says what the kernel wants. */
  tick(fuel: number): ControlWord;
  /** What the kernel wants, read without publishing anything. */
  control(): ControlWord;
  /** While the run is stopped: reports it paused, and resolves once it may go on ("run") or must end ("kill"). */
  whileStopped(): Promise<"run" | "kill">;
  pendingSignal(): "sigterm" | undefined;
}

export interface AsyncRunOptions {
  turns: Turns;
  /** Where the run's engine instance comes from (one reserve per thread). */
  instances: PreparedPool;
  /** QuickJS's stack limit for this thread (see stack.ts). */
  maxStackBytes: number;
}

/** A run in progress: its result, and how to end it from outside. */
export interface AsyncRun {
  readonly finished: Promise<Finished>;
  /** Ends the run for good: a suspended guest is never resumed, a running one stops at its next interrupt. */
  abandon(): void;
}

/** The message of a run ended because guest code run by a kernel call would not yield. */
const NESTED_TOO_LONG = "guest code run inside a kernel call (a getter or a Proxy trap read as an argument) ran longer than one time slice";

/** Starts `spec` on an engine instance of its own. */
export function startQuickJsAsync(spec: RunSpec, bridge: AsyncBridge, options: AsyncRunOptions): AsyncRun {
  let instance: PreparedInstance | undefined;
  let abandoned = false;
  const finished = options.instances.take().then(
    async (taken) => {
      instance = taken;
      if (abandoned) return killedBeforeStart();
      const { finished, idle } = await run(spec, bridge, options, taken);
      // (from here on, abandon() must not reach the instance: it may serve another run)
      instance = undefined;
      release(taken, idle, options.instances);
      return finished;
    },
    (error: unknown): Finished => ({
      outcome: { status: "error", reason: "trap", error: "the agent's engine could not start: " + describeHostError(error) },
      fuel: 0,
      hostCalls: 0,
      reusable: false,
    }),
  );
  return {
    finished,
    abandon: () => {
      abandoned = true;
      instance?.glue.abandonRun("the run was ended");
    },
  };
}

function killedBeforeStart(): Finished {
  return { outcome: { status: "killed", reason: "signal", error: "ended by the kernel" }, fuel: 0, hostCalls: 0, reusable: false };
}

/** The interrupt handler of one run: fuel, the kernel's control word, and the turns. */
function interruptFor(spec: RunSpec, bridge: AsyncBridge, turns: Turns, state: RunState): (canSuspend: boolean) => boolean | Promise<boolean> {
  const kill = () => {
    state.abort ??= { reason: "signal", message: "ended by the kernel" };
    return true;
  };
  return (canSuspend) => {
    const fuel = spendSlice(state, spec);
    if (typeof fuel === "boolean") return fuel;
    const word = bridge.tick(fuel);
    if (word === "kill") return kill();
    if (!canSuspend) {
      // An intrinsic the kernel calls (a u64 reply's BigInt, Array.isArray on an argument) is
      // the kernel's own bounded work: its slice is counted, and the turn is taken at the next.
      if (inIntrinsicCall()) return false;
      // Guest code that a kernel call runs cannot yield: it ends at the first slice it would
      // have yielded, so that it holds the thread for one slice at most.
      state.abort = { reason: "limit", message: NESTED_TOO_LONG };
      return true;
    }
    if (word === "stop") return bridge.whileStopped().then((next) => (next === "kill" ? kill() : turns.next().then(() => state.abort !== null)));
    return turns.next().then(() => state.abort !== null);
  };
}

async function run(spec: RunSpec, bridge: AsyncBridge, options: AsyncRunOptions, instance: PreparedInstance): Promise<{ finished: Finished; idle: boolean }> {
  const { glue, runtime, ctx, slot } = instance;
  const state = new RunState();
  slot.state = state;
  slot.interrupt = interruptFor(spec, bridge, options.turns, state);
  let outcome: Outcome;
  let abandoned = false;
  try {
    glue.heapLimit = glue.memory.buffer.byteLength + spec.limits.memory;
    runtime.setMemoryLimit(spec.limits.memory);
    runtime.setMaxStackSize(options.maxStackBytes);
    instance.modules.set(ENTRY, entrySource(spec));
    bind(instance, bridge, state);
    const end = () => {
      state.ended = true;
      runtime.setMemoryLimit(-1);
      glue.heapLimit = Infinity;
    };
    outcome = await runModuleAsync({ glue, ctx, runtime, spec, state, turnFn: instance.turnFn, end });
  } catch (error) {
    abandoned = error instanceof EngineAbandoned;
    outcome = abandoned
      ? { status: "killed", reason: state.abort?.reason ?? "signal", error: state.abort?.message ?? "ended by the kernel" }
      : { status: "error", error: "the agent's engine failed: " + describeHostError(error), reason: "trap" };
  }
  const finished: Finished = { outcome, fuel: state.slices * FUEL_PER_SLICE, hostCalls: state.hostCalls, reusable: false };
  return { finished, idle: !abandoned && glue.usable && !glue.suspended };
}

/**
 * After a run: an idle instance goes back to the pool, which makes it new for another run or
 * declines; a declined one has its runtime freed as on the synchronous engine. A suspended
 * stack is never resumed and a trapped engine is never called again: such an instance is
 * dropped whole.
 */
function release(instance: PreparedInstance, idle: boolean, pool: PreparedPool): void {
  if (idle) {
    try {
      instance.disposeTimers();
      releaseIntrinsics(instance.ctx);
    } catch {
      idle = false;
    }
  }
  if (pool.give(instance, idle) || !idle) return;
  try {
    instance.ctx.dispose();
    instance.runtime.dispose();
  } catch {
    // the instance goes with its memory either way
  }
}

/** Binds the instance's functions to this run: its calls through the gate, and the timers' clock. */
function bind(instance: PreparedInstance, bridge: AsyncBridge, state: RunState): void {
  const abortWith = (reason: AbortReason, message: string): Reply => {
    state.abort ??= { reason, message };
    return { abort: reason, message };
  };
  // After a reply: kept for the timers' clock, its abort kept, and a stop (SIGSTOP during the
  // call, or a policy's stop) taking effect before the guest goes on.
  const after = (op: OpName, reply: Reply): Reply | Promise<Reply> => {
    clock.observe(op, reply);
    if ("abort" in reply) state.abort = { reason: reply.abort, message: reply.message };
    const word = bridge.control();
    if (word === "kill") return abortWith("signal", "killed");
    if (word === "stop") return bridge.whileStopped().then((next) => (next === "kill" ? abortWith("signal", "killed") : reply));
    return reply;
  };
  const send = (op: OpName, args: unknown[]): Reply | Promise<Reply> => {
    state.hostCalls++;
    const reply = bridge.call(op, args);
    return reply instanceof Promise ? reply.then((r) => after(op, r)) : after(op, reply);
  };
  const clock = new TimerClock(() => {
    throw new Error("kernel: the asynchronous engine's timers call through baseMaybeAsync and waitUntilMaybeAsync");
  });
  const { slot, glue } = instance;
  slot.link = { send, pendingSignal: () => bridge.pendingSignal(), canWait: () => glue.canSuspend() };
  slot.clock = { base: () => clock.baseMaybeAsync(send), waitUntil: (deadline) => clock.waitUntilMaybeAsync(deadline, send) };
}

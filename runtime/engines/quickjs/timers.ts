/**
 * The host side of QuickJS's timers (the guest side is ../timers.ts): three private functions
 * on a global that the prelude takes and deletes before any agent code runs, and the timer turn
 * that the job loop calls when no job is left.
 *
 * A timer that cannot read the clock or wait ends the run (as on the component engine, where
 * StarlingMonkey's WASI clock cannot report an error): every later host call is refused, the
 * interrupt handler stops the guest, and the run fails with the message.
 */
import type { QuickJSContext, QuickJSHandle } from "quickjs-emscripten";
import type { AbortReason } from "../engine.js";
import { TimerStop, type TimerClock } from "../timer-clock.js";
import { newMaybeAsyncFunction } from "./functions.js";
import { MarshalError, copyIn, copyOut } from "./marshal.js";

export const TIMER_HOST_GLOBAL = "__agentos_timers";

/** What the timers need of the run's state. */
export interface TimerRunState {
  abort: { reason: AbortReason; message: string } | null;
  /** Why a timer ended the run (it fails with this message). */
  timerFailure: string | null;
}

export interface TimerHost {
  /**
   * Runs the next timer turn: waits for the timer due first and calls it. Returns false when no
   * timer is pending, or the guest's error (a callback threw, or the run ended: see the state).
   */
  turn(): { fired: boolean } | { error: QuickJSHandle };
  dispose(): void;
}

/** The clock as the timer functions use it: either engine's (the asynchronous one's answers may wait). */
export interface TimerClockOps {
  base(): bigint | Promise<bigint>;
  waitUntil(deadline: bigint): bigint | Promise<bigint>;
  /** Whether an answer that must wait can be waited for here (the asynchronous engine: at the bottom of the stack). */
  canWait(): boolean;
}

/** Defines the private global the prelude takes (see QUICKJS_TIMERS). */
export function installTimerHost(ctx: QuickJSContext, clock: TimerClock, state: TimerRunState): TimerHost {
  const timers = installTimerFunctions(ctx, { base: () => clock.base(), waitUntil: (d) => clock.waitUntil(d), canWait: () => true }, state);
  return {
    turn() {
      const turnFn = timers.turnFn();
      if (turnFn === undefined) return { fired: false };
      const called = ctx.callFunction(turnFn, ctx.undefined);
      if (called.error) return { error: called.error };
      return { fired: firedResult(ctx, called.value) };
    },
    dispose: () => timers.dispose(),
  };
}

/** Whether a timer turn's result says a timer fired; consumes it. */
export function firedResult(ctx: QuickJSContext, value: QuickJSHandle): boolean {
  const fired = ctx.typeof(value) === "boolean" && ctx.dump(value) === true;
  value.dispose();
  return fired;
}

/**
 * The three private functions, on either engine. Returns the turn function the prelude
 * registered (undefined before it does).
 */
export function installTimerFunctions(
  ctx: QuickJSContext,
  clock: TimerClockOps,
  state: TimerRunState,
  registered?: QuickJSHandle,
): { turnFn(): QuickJSHandle | undefined; dispose(): void } {
  // (`registered`: the turn function a context this one is a copy of had registered)
  let turnFn: QuickJSHandle | undefined = registered;
  const stopped = (error: unknown): { error: QuickJSHandle } => {
    if (!(error instanceof TimerStop)) throw error;
    if (error.abort) state.abort ??= { reason: error.abort, message: error.message };
    else state.timerFailure ??= error.message;
    return { error: ctx.newError("interrupted") };
  };
  const refused = () => state.abort !== null || state.timerFailure !== null;
  // An answer now, or (asynchronous engine) one the guest waits for; a TimerStop ends the run either way.
  const answer = (compute: () => bigint | Promise<bigint>, reply: (time: bigint) => QuickJSHandle) => {
    if (refused()) return { error: ctx.newError("interrupted") };
    if (!clock.canWait()) return { error: ctx.newError("a timer cannot be set or waited for here (inside another kernel call)") };
    try {
      const time = compute();
      return time instanceof Promise ? time.then(reply, stopped) : reply(time);
    } catch (error) {
      if (error instanceof MarshalError) return { error: ctx.newError(error.message) };
      return stopped(error);
    }
  };

  const host = ctx.newObject();
  const functions: [string, QuickJSHandle][] = [
    ["base", newMaybeAsyncFunction(ctx, "base", () => answer(() => clock.base(), (time) => copyOut(ctx, time)))],
    ["wait", newMaybeAsyncFunction(ctx, "wait", (due) => answer(() => clock.waitUntil(copyIn(ctx, due, "u64", "timer deadline") as bigint), () => ctx.undefined))],
    [
      "register",
      ctx.newFunction("register", (fn) => {
        if (turnFn === undefined && ctx.typeof(fn) === "function") turnFn = fn.dup();
        return ctx.undefined;
      }),
    ],
  ];
  for (const [name, fn] of functions) {
    ctx.setProp(host, name, fn);
    fn.dispose();
  }
  ctx.defineProp(ctx.global, TIMER_HOST_GLOBAL, { value: host, configurable: true, enumerable: false });
  host.dispose();
  return {
    turnFn: () => turnFn,
    dispose() {
      turnFn?.dispose();
      turnFn = undefined;
    },
  };
}

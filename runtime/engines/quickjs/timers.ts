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

/** Defines the private global the prelude takes (see QUICKJS_TIMERS). */
export function installTimerHost(ctx: QuickJSContext, clock: TimerClock, state: TimerRunState): TimerHost {
  let turnFn: QuickJSHandle | undefined;
  const stopped = (error: unknown): { error: QuickJSHandle } => {
    if (!(error instanceof TimerStop)) throw error;
    if (error.abort) state.abort ??= { reason: error.abort, message: error.message };
    else state.timerFailure ??= error.message;
    return { error: ctx.newError("interrupted") };
  };
  const refused = () => state.abort !== null || state.timerFailure !== null;

  const host = ctx.newObject();
  const functions: [string, QuickJSHandle][] = [
    [
      "base",
      ctx.newFunction("base", () => {
        if (refused()) return { error: ctx.newError("interrupted") };
        try {
          return copyOut(ctx, clock.base());
        } catch (error) {
          return stopped(error);
        }
      }),
    ],
    [
      "wait",
      ctx.newFunction("wait", (due) => {
        if (refused()) return { error: ctx.newError("interrupted") };
        try {
          clock.waitUntil(copyIn(ctx, due, "u64", "timer deadline") as bigint);
          return ctx.undefined;
        } catch (error) {
          if (error instanceof MarshalError) return { error: ctx.newError(error.message) };
          return stopped(error);
        }
      }),
    ],
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
    turn() {
      if (turnFn === undefined) return { fired: false };
      const called = ctx.callFunction(turnFn, ctx.undefined);
      if (called.error) return { error: called.error };
      const fired = ctx.typeof(called.value) === "boolean" && ctx.dump(called.value) === true;
      called.value.dispose();
      return { fired };
    },
    dispose() {
      turnFn?.dispose();
      turnFn = undefined;
    },
  };
}

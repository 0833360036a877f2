/**
 * Runs one agent in a fresh QuickJS runtime, inside the worker.
 *
 * The runtime has a memory limit, a stack limit and an interrupt handler that counts fuel and
 * honours SIGSTOP and SIGKILL between any two slices of guest work. Nothing is reachable from
 * the guest but the kernel modules: the module loader knows `agent-os/guest` and
 * `agentos:kernel/*`, and refuses everything else.
 */
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime, QuickJSWASMModule } from "quickjs-emscripten";
import type { OpName } from "../../kernel/ops.js";
import type { Finished, GuestBridge, Outcome, Reply, RunSpec } from "../engine.js";
import { PRELUDE } from "./guest-modules.js";
import { installWebLoader } from "../web/quickjs.js";
import { captureIntrinsics, releaseIntrinsics } from "./intrinsics.js";
import { installHost } from "./host.js";
import { ENTRY, FUEL_PER_SLICE, RunState, spendSlice, describeHostError, disposeResult, failure, installModuleLoader, never, result } from "./outcome.js";
import { newString } from "./strings.js";
import { TimerClock } from "../timer-clock.js";
import { installTimerHost, type TimerHost } from "./timers.js";

export { FUEL_PER_SLICE } from "./outcome.js";
/** QuickJS's own stack limit; the worker's native stack is larger (see the pool). */
export const MAX_STACK_BYTES = 256 * 1024;

/** What the worker does around a run. */
export interface RunHooks {
  /** Called once the guest's run is over, before the kernel reads its result (lifts the heap's budget). */
  ended?: () => void;
}

/**
 * Runs `spec` once in a fresh runtime of `module`, calling the host through `bridge`. Once the
 * guest's run is over (returned, thrown, settled), no guest code runs and no host call is made:
 * the kernel only reads the result. Default `hooks`: none.
 */
export function runQuickJs(module: QuickJSWASMModule, spec: RunSpec, bridge: GuestBridge, sdkSource: string, hooks: RunHooks = {}): Finished {
  const state = new RunState();
  let runtime: QuickJSRuntime | undefined;
  let ctx: QuickJSContext | undefined;
  let outcome: Outcome;
  let reusable = true;
  try {
    runtime = module.newRuntime();
    runtime.setMemoryLimit(spec.limits.memory);
    runtime.setMaxStackSize(MAX_STACK_BYTES);
    runtime.setInterruptHandler(() => {
      const fuel = spendSlice(state, spec);
      if (typeof fuel === "boolean") return fuel;
      const reason = bridge.tick(fuel);
      if (reason) state.abort = { reason, message: "ended by the kernel" };
      return state.abort !== null;
    });
    installModuleLoader(runtime, spec, sdkSource);
    ctx = runtime.newContext();
    const rt = runtime;
    const end = () => {
      state.ended = true;
      // The kernel's reads (the output, the error) need room of their own, even in a full heap.
      rt.setMemoryLimit(-1);
      hooks.ended?.();
    };
    outcome = runIn(ctx, runtime, spec, bridge, state, end);
  } catch (error) {
    // A failure of the engine itself (an emscripten abort): never the guest's fault to see.
    reusable = false;
    outcome = { status: "error", error: "the agent's engine failed: " + describeHostError(error), reason: "trap" };
  } finally {
    try {
      if (ctx) releaseIntrinsics(ctx);
      ctx?.dispose();
      runtime?.dispose();
    } catch {
      reusable = false;
    }
  }
  if (state.abort) reusable = false;
  return { outcome, fuel: state.slices * FUEL_PER_SLICE, hostCalls: state.hostCalls, reusable };
}

function runIn(ctx: QuickJSContext, runtime: QuickJSRuntime, spec: RunSpec, bridge: GuestBridge, state: RunState, end: () => void): Outcome {
  captureIntrinsics(ctx);
  // Every call through the gate: counted, its abort kept, and seen by the timers' clock.
  const send = (op: OpName, args: unknown[]): Reply => {
    state.hostCalls++;
    const reply = bridge.call(op, args);
    clock.observe(op, reply);
    if ("abort" in reply) state.abort = { reason: reply.abort, message: reply.message };
    return reply;
  };
  const clock = new TimerClock(send);
  installHost(ctx, state, { send, pendingSignal: () => bridge.pendingSignal(), canWait: () => true });
  installWebLoader(ctx);
  const timers = installTimerHost(ctx, clock, state);
  try {
    return runModule(ctx, runtime, spec, state, timers, end);
  } finally {
    timers.dispose();
  }
}

function runModule(ctx: QuickJSContext, runtime: QuickJSRuntime, spec: RunSpec, state: RunState, timers: TimerHost, end: () => void): Outcome {
  const fail = (error: QuickJSHandle): Outcome => {
    end();
    return failure(ctx, error, spec, state);
  };

  const prelude = ctx.evalCode(PRELUDE, "prelude", { type: "module", strict: true });
  if (prelude.error) return fail(prelude.error);
  prelude.value.dispose();

  const evaluated = ctx.evalCode(`import * as agent from "${ENTRY}"; globalThis.__agentos_exports = agent;`, spec.filename, {
    type: "module",
  });
  if (evaluated.error) return fail(evaluated.error);
  const settledModule = settle(ctx, runtime, evaluated.value, timers);
  if ("never" in settledModule) return never(end, "the agent's module never finishes loading (it awaits something nothing is left to settle)");
  if ("error" in settledModule) return fail(settledModule.error);
  settledModule.value.dispose();

  const exportsHandle = ctx.getProp(ctx.global, "__agentos_exports");
  const runFn = ctx.getProp(exportsHandle, "run");
  exportsHandle.dispose();
  disposeResult(ctx.evalCode("delete globalThis.__agentos_exports"));
  if (ctx.typeof(runFn) !== "function") {
    runFn.dispose();
    end();
    return { status: "error", error: `the agent must export a function run(task); ${spec.filename} does not` };
  }
  const taskHandle = newString(ctx, spec.task);
  const called = ctx.callFunction(runFn, ctx.undefined, taskHandle);
  taskHandle.dispose();
  runFn.dispose();
  if (called.error) return fail(called.error);
  const settled = settle(ctx, runtime, called.value, timers);
  if ("never" in settled) return never(end, "run() returned a promise that never settles (nothing is left that could settle it)");
  if ("error" in settled) return fail(settled.error);
  end();
  try {
    return result(ctx, settled.value, spec, state);
  } finally {
    settled.value.dispose();
  }
}

type Settled = { value: QuickJSHandle } | { error: QuickJSHandle } | { never: true };

/**
 * Runs pending jobs until `handle` (maybe a promise) settles, and a timer turn whenever no job
 * is left (its microtasks run before the next turn); consumes `handle`.
 */
function settle(ctx: QuickJSContext, runtime: QuickJSRuntime, handle: QuickJSHandle, timers: TimerHost): Settled {
  for (;;) {
    const state = ctx.getPromiseState(handle);
    if (state.type === "fulfilled") {
      if (state.notAPromise) return { value: handle };
      handle.dispose();
      return { value: state.value };
    }
    if (state.type === "rejected") {
      handle.dispose();
      return { error: state.error };
    }
    const jobs = runtime.executePendingJobs();
    if (jobs.error) {
      handle.dispose();
      return { error: jobs.error };
    }
    if (jobs.value === 0 && ctx.getPromiseState(handle).type === "pending") {
      const turn = timers.turn();
      if ("error" in turn) {
        handle.dispose();
        return { error: turn.error };
      }
      if (!turn.fired) {
        handle.dispose();
        return { never: true };
      }
    }
  }
}



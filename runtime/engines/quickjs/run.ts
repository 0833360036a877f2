/**
 * Runs one agent in a fresh QuickJS runtime, inside the worker.
 *
 * The runtime has a memory limit, a stack limit and an interrupt handler that counts fuel and
 * honours SIGSTOP and SIGKILL between any two slices of guest work. Nothing is reachable from
 * the guest but the kernel modules: the module loader knows `agent-os/guest` and
 * `agentos:kernel/*`, and refuses everything else.
 */
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime, QuickJSWASMModule } from "quickjs-emscripten";
import type { WitError } from "../../errors.js";
import { OPS, type OpName } from "../../kernel/ops.js";
import type { AbortReason, Finished, GuestBridge, Outcome, Reply, RunSpec } from "../engine.js";
import { HOST_GLOBAL, PRELUDE, functionModule, kernelModules } from "./guest-modules.js";
import { installWebLoader } from "../web/quickjs.js";
import { captureIntrinsics, releaseIntrinsics } from "./intrinsics.js";
import { MarshalError, copyIn, copyOut } from "./marshal.js";
import { StringTransferError, newString, readString } from "./strings.js";
import { formatThrown, isOutOfMemory, readThrown, type Thrown } from "./thrown.js";
import { TimerClock } from "../timer-clock.js";
import { installTimerHost, type TimerHost } from "./timers.js";

/**
 * QuickJS checks for interrupts every 10,000 interpreter steps (a loop iteration is about two
 * steps, a call about one): one interrupt is one slice of 10,000 fuel units.
 */
export const FUEL_PER_SLICE = 10_000;
/** QuickJS's own stack limit; the worker's native stack is larger (see the pool). */
export const MAX_STACK_BYTES = 256 * 1024;
const ENTRY = "agent";
const MAX_MESSAGE = 4096;

class RunState {
  slices = 0;
  hostCalls = 0;
  abort: { reason: AbortReason; message: string } | null = null;
  /** A timer could not read the clock or wait: the run fails with this (see timers.ts). */
  timerFailure: string | null = null;
  /**
   * Set once the guest's run is over (it returned, threw, or its promise settled): from then on
   * the kernel only reads what is left, no guest code runs, and no host call is made.
   */
  ended = false;
}

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
      if (state.abort || state.timerFailure !== null) return true;
      if (state.ended) return false; // only the kernel's own readers run now
      state.slices++;
      const fuel = state.slices * FUEL_PER_SLICE;
      if (fuel > spec.limits.fuel) {
        state.abort = { reason: "fuel", message: `fuel budget of ${spec.limits.fuel} exhausted` };
        return true;
      }
      const reason = bridge.tick(fuel);
      if (reason) state.abort = { reason, message: "ended by the kernel" };
      return state.abort !== null;
    });
    const modules = kernelModules(sdkSource);
    modules.set(ENTRY, spec.kind === "function" ? functionModule(spec.source) : spec.source);
    runtime.setModuleLoader(
      (name) => {
        const source = modules.get(name);
        return source === undefined ? { error: new Error(notImportable(name)) } : { value: source };
      },
      // Identity: no relative or path resolution at all. (Refusing here would make
      // quickjs-emscripten 0.32 call the loader with an empty name; the loader refuses instead.)
      (_base, requested) => requested,
    );
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
  installHost(ctx, bridge, state, send);
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

/** The run's result: its output string, read whole, within the output limit. */
function result(ctx: QuickJSContext, value: QuickJSHandle, spec: RunSpec, state: RunState): Outcome {
  if (state.abort) return { status: "killed", reason: state.abort.reason, error: state.abort.message };
  if (state.timerFailure !== null) return { status: "error", error: state.timerFailure };
  if (ctx.typeof(value) !== "string") {
    return { status: "error", error: `run() must return a string (or a promise of one), not ${ctx.typeof(value)}` };
  }
  const overLimit = (bytes: number | string) => ({
    status: "error" as const,
    reason: "limit" as const,
    error: `the output has ${bytes} bytes, over the limit of ${spec.limits.output}`,
  });
  // Every UTF-16 unit is at least one byte of UTF-8: a longer string is over the limit unread.
  const units = stringLength(ctx, value);
  if (units > spec.limits.output) return overLimit(`at least ${units}`);
  let output: string;
  try {
    output = readString(ctx, value);
  } catch (error) {
    if (!(error instanceof StringTransferError)) throw error;
    return { status: "error", reason: "trap", error: `the output could not be read: ${error.message}` };
  }
  const bytes = Buffer.byteLength(output);
  if (bytes > spec.limits.output) return overLimit(bytes);
  return { status: "ok", output };
}

/** The length of a guest string primitive (its own, unchangeable `length`). */
function stringLength(ctx: QuickJSContext, handle: QuickJSHandle): number {
  const length = ctx.getProp(handle, "length");
  try {
    return ctx.getNumber(length);
  } finally {
    length.dispose();
  }
}

function never(end: () => void, error: string): Outcome {
  end();
  return { status: "error", error };
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

function installHost(ctx: QuickJSContext, bridge: GuestBridge, state: RunState, send: (op: OpName, args: unknown[]) => Reply): void {
  const host = ctx.newObject();
  for (const op of Object.keys(OPS) as OpName[]) {
    const params = OPS[op].params;
    const fn = ctx.newFunction(op, (...argHandles) => {
      // After the run's end no guest code should run at all; if some did, it reaches nothing.
      if (state.ended) return { error: ctx.undefined };
      if (state.abort || state.timerFailure !== null) return { error: ctx.newError("interrupted") };
      if (op === "process.pending-signal") {
        const signal = bridge.pendingSignal();
        return signal ? ctx.newString(signal) : ctx.undefined;
      }
      let args: unknown[];
      try {
        args = params.map(([name, type], i) => copyIn(ctx, argHandles[i] ?? ctx.undefined, type, `${op}: ${name}`));
      } catch (error) {
        if (error instanceof MarshalError) return { error: witError(ctx, { tag: "invalid", val: error.message }) };
        throw error;
      }
      const reply = send(op, args);
      if ("ok" in reply) return copyOut(ctx, reply.ok);
      if ("err" in reply) return { error: witError(ctx, reply.err) };
      return { error: ctx.newError("interrupted") };
    });
    ctx.setProp(host, op, fn);
    fn.dispose();
  }
  const object = ctx.getProp(ctx.global, "Object");
  const freeze = ctx.getProp(object, "freeze");
  disposeResult(ctx.callFunction(freeze, ctx.undefined, host));
  freeze.dispose();
  object.dispose();
  ctx.defineProp(ctx.global, HOST_GLOBAL, { value: host, configurable: true, enumerable: false });
  host.dispose();
}

/** A WIT error as the guest sees it: an Error whose `payload` is the variant, as jco does. */
function witError(ctx: QuickJSContext, error: WitError): QuickJSHandle {
  const message = typeof error.val === "string" ? error.val : error.val.reason;
  const handle = ctx.newError();
  for (const [key, text] of [["name", "ComponentError"], ["message", `${error.tag}: ${message}`]]) {
    const value = newString(ctx, text); // whole, NUL characters included
    ctx.setProp(handle, key, value);
    value.dispose();
  }
  const payload = copyOut(ctx, error);
  ctx.setProp(handle, "payload", payload);
  payload.dispose();
  return handle;
}

/** The outcome of a run that threw (or rejected) `errorHandle`; consumes it. The run has ended. */
function failure(ctx: QuickJSContext, errorHandle: QuickJSHandle, spec: RunSpec, state: RunState): Outcome {
  if (state.abort) {
    errorHandle.dispose();
    return { status: "killed", reason: state.abort.reason, error: state.abort.message };
  }
  if (state.timerFailure !== null) {
    errorHandle.dispose();
    return { status: "error", error: state.timerFailure };
  }
  let thrown: Thrown;
  try {
    thrown = readThrown(ctx, errorHandle);
  } catch (error) {
    if (!(error instanceof StringTransferError)) throw error;
    thrown = { kind: "object", internalError: false };
  } finally {
    errorHandle.dispose();
  }
  if (isOutOfMemory(thrown)) {
    return { status: "error", reason: "memory", error: `InternalError: out of memory (limit ${spec.limits.memory} bytes)` };
  }
  const { name, message } = formatThrown(thrown);
  if (spec.kind === "function" && name === "ReferenceError") {
    const missing = /^'?([^' ]+)'? is not defined/.exec(message)?.[1] ?? "a variable";
    return {
      status: "error",
      error:
        `ReferenceError: ${spec.agent} refers to ${missing}, which does not exist inside the isolate. ` +
        `A registered function runs from its source text alone: it cannot use variables from outside it ` +
        `(pass data in the task, and use the SDK passed as its second argument).`,
    };
  }
  return { status: "error", error: name ? `${name}: ${message}` : message };
}

function disposeResult(result: ReturnType<QuickJSContext["evalCode"]>): void {
  if (result.error) result.error.dispose();
  else result.value.dispose();
}

function describeHostError(error: unknown): string {
  return clip(error instanceof Error ? error.message : String(error)).replace(/\/[^\s)]+/g, "<path>");
}

function clip(text: string): string {
  return text.length > MAX_MESSAGE ? text.slice(0, MAX_MESSAGE) + "…" : text;
}

function notImportable(name: string): string {
  return `cannot import ${JSON.stringify(name)}: an agent can import only "agent-os/guest" and "agentos:kernel/*"`;
}

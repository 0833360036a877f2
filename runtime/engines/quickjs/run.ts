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
import type { AbortReason, Finished, GuestBridge, Outcome, RunSpec } from "../engine.js";
import { HOST_GLOBAL, PRELUDE, functionModule, kernelModules } from "./guest-modules.js";
import { MarshalError, captureIntrinsics, copyIn, copyOut, releaseIntrinsics } from "./marshal.js";

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
}

export function runQuickJs(module: QuickJSWASMModule, spec: RunSpec, bridge: GuestBridge, sdkSource: string): Finished {
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
      if (state.abort) return true;
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
    outcome = runIn(ctx, runtime, spec, bridge, state);
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

function runIn(ctx: QuickJSContext, runtime: QuickJSRuntime, spec: RunSpec, bridge: GuestBridge, state: RunState): Outcome {
  captureIntrinsics(ctx);
  installHost(ctx, bridge, state);

  const prelude = ctx.evalCode(PRELUDE, "prelude", { type: "module", strict: true });
  if (prelude.error) return failure(ctx, prelude.error, spec, state);
  prelude.value.dispose();

  const evaluated = ctx.evalCode(`import * as agent from "${ENTRY}"; globalThis.__agentos_exports = agent;`, spec.filename, {
    type: "module",
  });
  if (evaluated.error) return failure(ctx, evaluated.error, spec, state);
  const settledModule = settle(ctx, runtime, evaluated.value);
  if ("error" in settledModule) return failure(ctx, settledModule.error, spec, state);
  settledModule.value.dispose();

  const exportsHandle = ctx.getProp(ctx.global, "__agentos_exports");
  const runFn = ctx.getProp(exportsHandle, "run");
  exportsHandle.dispose();
  disposeResult(ctx.evalCode("delete globalThis.__agentos_exports"));
  if (ctx.typeof(runFn) !== "function") {
    runFn.dispose();
    return { status: "error", error: `the agent must export a function run(task); ${spec.filename} does not` };
  }
  const taskHandle = ctx.newString(spec.task);
  const called = ctx.callFunction(runFn, ctx.undefined, taskHandle);
  taskHandle.dispose();
  runFn.dispose();
  if (called.error) return failure(ctx, called.error, spec, state);
  const settled = settle(ctx, runtime, called.value);
  if ("error" in settled) return failure(ctx, settled.error, spec, state);
  const value = settled.value;
  try {
    if (state.abort) return failure(ctx, ctx.undefined, spec, state);
    if (ctx.typeof(value) !== "string") {
      return { status: "error", error: `run() must return a string (or a promise of one), not ${ctx.typeof(value)}` };
    }
    const output = ctx.getString(value);
    const bytes = Buffer.byteLength(output);
    if (bytes > spec.limits.output) {
      return { status: "error", reason: "limit", error: `the output has ${bytes} bytes, over the limit of ${spec.limits.output}` };
    }
    return { status: "ok", output };
  } finally {
    value.dispose();
  }
}

/** Runs pending jobs until `handle` (maybe a promise) settles; consumes `handle`. */
function settle(ctx: QuickJSContext, runtime: QuickJSRuntime, handle: QuickJSHandle): { value: QuickJSHandle } | { error: QuickJSHandle } {
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
      handle.dispose();
      return { error: ctx.newError("run() returned a promise that never settles (nothing is left that could settle it)") };
    }
  }
}

function installHost(ctx: QuickJSContext, bridge: GuestBridge, state: RunState): void {
  const host = ctx.newObject();
  for (const op of Object.keys(OPS) as OpName[]) {
    const params = OPS[op].params;
    const fn = ctx.newFunction(op, (...argHandles) => {
      if (state.abort) return { error: ctx.newError("interrupted") };
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
      state.hostCalls++;
      const reply = bridge.call(op, args);
      if ("ok" in reply) return copyOut(ctx, reply.ok);
      if ("err" in reply) return { error: witError(ctx, reply.err) };
      state.abort = { reason: reply.abort, message: reply.message };
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
  const handle = ctx.newError({ name: "ComponentError", message: `${error.tag}: ${message}` });
  const payload = copyOut(ctx, error);
  ctx.setProp(handle, "payload", payload);
  payload.dispose();
  return handle;
}

function failure(ctx: QuickJSContext, errorHandle: QuickJSHandle, spec: RunSpec, state: RunState): Outcome {
  const { name, message } = describeGuestError(ctx, errorHandle);
  errorHandle.dispose();
  if (state.abort) return { status: "killed", reason: state.abort.reason, error: state.abort.message };
  if (name === "InternalError" && message === "out of memory") {
    return { status: "error", reason: "memory", error: `InternalError: out of memory (limit ${spec.limits.memory} bytes)` };
  }
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

/** Reads an error's name and message without running guest code that could lie twice. */
function describeGuestError(ctx: QuickJSContext, handle: QuickJSHandle): { name: string; message: string } {
  const kind = ctx.typeof(handle);
  if (kind === "string") return { name: "", message: clip(ctx.getString(handle)) };
  if (kind !== "object") return { name: "", message: `the agent threw a ${kind}` };
  const read = (key: string): string => {
    try {
      const h = ctx.getProp(handle, key);
      const text = ctx.typeof(h) === "string" ? ctx.getString(h) : "";
      h.dispose();
      return text;
    } catch {
      return "";
    }
  };
  const name = read("name");
  const message = read("message");
  return { name: clip(name), message: clip(message || "the agent threw an object") };
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

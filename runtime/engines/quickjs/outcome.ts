/**
 * What both QuickJS engines (the synchronous one in a worker per agent, the asynchronous one
 * with many agents per thread) share around a run: its state, and how its end is read into an
 * Outcome (the output, the error the guest threw, the kill that ended it).
 */
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from "quickjs-emscripten";
import { functionModule, kernelModules, moduleSpecifier } from "./guest-modules.js";
import type { WitError } from "../../errors.js";
import type { AbortReason, Outcome, RunSpec } from "../engine.js";
import { copyOut } from "./marshal.js";
import { StringTransferError, newString, readString } from "./strings.js";
import { formatThrown, isOutOfMemory, readThrown, type Thrown } from "./thrown.js";
import { utf8Length } from "../../portable/utf8.js";

const MAX_MESSAGE = 4096;

/**
 * QuickJS checks for interrupts every 10,000 interpreter steps (a loop iteration is about two
 * steps, a call about one): one interrupt is one slice of 10,000 fuel units.
 */
export const FUEL_PER_SLICE = 10_000;

/**
 * What every interrupt does first, on either engine: a run being ended stops, an ended run's
 * readers go on, and one slice of fuel is spent. Returns true (interrupt the guest), false (go
 * on), or the fuel used so far, when the engine must still ask the kernel.
 */
export function spendSlice(state: RunState, spec: RunSpec): boolean | number {
  if (state.abort || state.timerFailure !== null) return true;
  if (state.ended) return false; // only the kernel's own readers run now
  state.slices++;
  const fuel = state.slices * FUEL_PER_SLICE;
  if (fuel > spec.limits.fuel) {
    state.abort = { reason: "fuel", message: `fuel budget of ${spec.limits.fuel} exhausted` };
    return true;
  }
  return fuel;
}

/** The name of the module the agent's code is served as. */
export const ENTRY = "agent";

/** One run's state, as the host functions, the interrupt handler and the end of the run see it. */
export class RunState {
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


/** The run's result: its output string, read whole, within the output limit. */
export function result(ctx: QuickJSContext, value: QuickJSHandle, spec: RunSpec, state: RunState): Outcome {
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
  const bytes = utf8Length(output);
  if (bytes > spec.limits.output) return overLimit(bytes);
  return { status: "ok", output };
}

/** The length of a guest string primitive (its own, unchangeable `length`). */
export function stringLength(ctx: QuickJSContext, handle: QuickJSHandle): number {
  const length = ctx.getProp(handle, "length");
  try {
    return ctx.getNumber(length);
  } finally {
    length.dispose();
  }
}

export function never(end: () => void, error: string): Outcome {
  end();
  return { status: "error", error };
}


/** A WIT error as the guest sees it: an Error whose `payload` is the variant, as jco does. */
export function witError(ctx: QuickJSContext, error: WitError): QuickJSHandle {
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
export function failure(ctx: QuickJSContext, errorHandle: QuickJSHandle, spec: RunSpec, state: RunState): Outcome {
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

export function disposeResult(result: ReturnType<QuickJSContext["evalCode"]>): void {
  if (result.error) result.error.dispose();
  else result.value.dispose();
}

export function describeHostError(error: unknown): string {
  return clip(error instanceof Error ? error.message : String(error)).replace(/\/[^\s)]+/g, "<path>");
}

export function clip(text: string): string {
  return text.length > MAX_MESSAGE ? text.slice(0, MAX_MESSAGE) + "…" : text;
}

export function notImportable(name: string): string {
  return `cannot import ${JSON.stringify(name)}: an agent can import only "agent-os/guest" and "agentos:kernel/*"`;
}

/**
 * The runtime's module loader: the kernel's modules and, once `ENTRY` is added to the map it
 * returns, the agent's; nothing else. Names are taken as they are (no relative or path
 * resolution at all), except that a kernel interface's plain name is its versioned one.
 */
export function installModuleLoader(runtime: QuickJSRuntime, spec: RunSpec | undefined, sdkSource: string): Map<string, string> {
  const modules = kernelModules(sdkSource);
  if (spec) modules.set(ENTRY, entrySource(spec));
  runtime.setModuleLoader(
    (name) => {
      const source = modules.get(name);
      return source === undefined ? { error: new Error(notImportable(name)) } : { value: source };
    },
    // (Refusing here would make quickjs-emscripten 0.32 call the loader with an empty name; the loader refuses instead.)
    (_base, requested) => moduleSpecifier(requested),
  );
  return modules;
}

/** The agent's module source for `spec` (a registered function is wrapped into one). */
export function entrySource(spec: RunSpec): string {
  return spec.kind === "function" ? functionModule(spec.source) : spec.source;
}

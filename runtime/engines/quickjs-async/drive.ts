/**
 * The calls that run guest code, made so that the guest may suspend in them: evaluating code,
 * calling a function, and running pending jobs. Each is quickjs-emscripten's own synchronous
 * method with the one FFI call that runs guest code made through `glue.drive` (which re-makes
 * that same call, with the same arguments, to resume a suspended stack). Arguments live on the
 * heap, not the C stack, so that nothing moves while the guest is suspended.
 *
 * They reach into quickjs-emscripten's protected members (its FFI, its pointers and its handle
 * factory) in this file only; the types below say exactly which.
 */
import { EvalFlags, type QuickJSContext, type QuickJSHandle, type QuickJSRuntime } from "quickjs-emscripten";
import type { EngineGlue } from "./glue.js";

type Pointer = number;
interface Ffi {
  QTS_ResolveException(ctx: Pointer, value: Pointer): Pointer;
  QTS_FreeValuePointer(ctx: Pointer, value: Pointer): void;
  QTS_FreeValuePointerRuntime(rt: Pointer, value: Pointer): void;
}
interface ContextInternals {
  ffi: Ffi;
  ctx: { value: Pointer };
  memory: { heapValueHandle(ptr: Pointer): QuickJSHandle };
}
interface RuntimeInternals {
  rt: { value: Pointer };
}

export type DriveResult = { value: QuickJSHandle } | { error: QuickJSHandle };

function internals(ctx: QuickJSContext): ContextInternals {
  return ctx as unknown as ContextInternals;
}

/** Copies `text` (and a NUL) to the heap; the caller frees it. */
function heapString(glue: EngineGlue, text: string): { ptr: Pointer; length: number } {
  const length = glue.lengthBytesUTF8(text);
  const ptr = glue._malloc(length + 1);
  if (ptr === 0) throw new RangeError("the engine has no room for the code");
  glue.stringToUTF8(text, ptr, length + 1);
  return { ptr, length };
}

function resolve(ctx: QuickJSContext, resultPtr: Pointer): DriveResult {
  const { ffi, ctx: pointer, memory } = internals(ctx);
  const errorPtr = ffi.QTS_ResolveException(pointer.value, resultPtr);
  if (errorPtr) {
    ffi.QTS_FreeValuePointer(pointer.value, resultPtr);
    return { error: memory.heapValueHandle(errorPtr) };
  }
  return { value: memory.heapValueHandle(resultPtr) };
}

/** `ctx.evalCode(code, filename, { type, strict })`, suspendable. */
export async function evalCodeAsync(glue: EngineGlue, ctx: QuickJSContext, code: string, filename: string, options: { type: "module" | "global"; strict?: boolean }): Promise<DriveResult> {
  const { ctx: pointer } = internals(ctx);
  let flags = options.type === "module" ? EvalFlags.JS_EVAL_TYPE_MODULE : EvalFlags.JS_EVAL_TYPE_GLOBAL;
  if (options.strict) flags |= EvalFlags.JS_EVAL_FLAG_STRICT;
  const source = heapString(glue, code);
  const name = heapString(glue, filename);
  try {
    const evaluate = glue.raw("QTS_Eval");
    const resultPtr = await glue.drive(() => evaluate(pointer.value, source.ptr, source.length, name.ptr, 0, flags));
    return resolve(ctx, resultPtr);
  } finally {
    glue._free(source.ptr);
    glue._free(name.ptr);
  }
}

/** `ctx.callFunction(fn, self, ...args)`, suspendable. */
export async function callFunctionAsync(glue: EngineGlue, ctx: QuickJSContext, fn: QuickJSHandle, self: QuickJSHandle, args: QuickJSHandle[] = []): Promise<DriveResult> {
  const { ctx: pointer } = internals(ctx);
  const argv = glue._malloc(Math.max(4, args.length * 4));
  if (argv === 0) throw new RangeError("the engine has no room for the arguments");
  args.forEach((arg, i) => (glue.HEAP32[(argv >> 2) + i] = arg.value as unknown as number));
  try {
    const fnPtr = fn.value as unknown as Pointer;
    const selfPtr = self.value as unknown as Pointer;
    const call = glue.raw("QTS_Call");
    const resultPtr = await glue.drive(() => call(pointer.value, fnPtr, selfPtr, args.length, argv));
    return resolve(ctx, resultPtr);
  } finally {
    glue._free(argv);
  }
}

/**
 * `runtime.executePendingJobs()` for a runtime with the one context `ctx`, suspendable: the
 * number of jobs run, or the error a job threw.
 */
export async function executePendingJobsAsync(glue: EngineGlue, runtime: QuickJSRuntime, ctx: QuickJSContext): Promise<{ value: number } | { error: QuickJSHandle }> {
  const { ffi, memory, ctx: pointer } = internals(ctx);
  const rt = (runtime as unknown as RuntimeInternals).rt.value;
  const out = glue._malloc(4);
  if (out === 0) throw new RangeError("the engine has no room to run jobs");
  try {
    glue.HEAP32[out >> 2] = 0;
    const execute = glue.raw("QTS_ExecutePendingJob");
    const valuePtr = await glue.drive(() => execute(rt, -1, out));
    const jobCtx = glue.HEAP32[out >> 2];
    if (jobCtx === 0) {
      ffi.QTS_FreeValuePointerRuntime(rt, valuePtr);
      return { value: 0 };
    }
    if (jobCtx !== pointer.value) throw new Error("kernel: a job ran in a context the kernel did not make");
    const result = memory.heapValueHandle(valuePtr);
    if (ctx.typeof(result) === "number") {
      const jobs = ctx.getNumber(result);
      result.dispose();
      return { value: jobs };
    }
    return { error: result };
  } finally {
    glue._free(out);
  }
}

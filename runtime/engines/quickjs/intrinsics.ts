/**
 * Functions of a context's own realm that the kernel keeps from before any guest code runs:
 * the guest may replace every global afterwards (`Array.isArray`, the typed-array getters,
 * `Object.getOwnPropertyDescriptor`), but not what was captured.
 */
import type { QuickJSContext, QuickJSHandle } from "quickjs-emscripten";
import { MAX_THROWN_TEXT, describeThrownSource } from "../kernel-globals.js";
import { calibrateStrings, releaseStrings } from "./strings.js";

export interface Intrinsics {
  isArray: QuickJSHandle;
  /** (v) => [buffer, byteOffset, byteLength] for a genuine Uint8Array, else null. */
  uint8Parts: QuickJSHandle;
  /** (v) => a description of a thrown value, read without running any guest code (see describeThrownSource). */
  describeThrown: QuickJSHandle;
  /** The realm's own `BigInt`: replies of type u64 are made with it, never with the guest's global. */
  bigInt: QuickJSHandle;
}

/** What callIntrinsic reads of quickjs-emscripten's context (its FFI, its module, its handles). */
interface ContextInternals {
  ffi: {
    QTS_Call(ctx: number, fn: number, thisValue: number, argc: number, argv: number): number;
    QTS_ResolveException(ctx: number, value: number): number;
    QTS_FreeValuePointer(ctx: number, value: number): void;
  };
  ctx: { value: number };
  module: { _malloc(bytes: number): number; HEAPU8: Uint8Array };
  memory: { heapValueHandle(ptr: number): QuickJSHandle };
}

/**
 * How many intrinsic calls are under way on this thread. An intrinsic runs no guest code, but
 * QuickJS polls its interrupt on every call, intrinsics included: an interrupt that comes while
 * one runs is the kernel's own bounded work, not guest code run by a kernel call.
 */
let intrinsicDepth = 0;

/** Whether an intrinsic is being called right now (see intrinsicDepth). */
export function inIntrinsicCall(): boolean {
  return intrinsicDepth > 0;
}

/**
 * Calls an intrinsic of `ctx` as `ctx.callFunction` does, marked as one (see inIntrinsicCall).
 * @example const result = callIntrinsicFunction(ctx, intrinsics(ctx).isArray, handle);
 */
export function callIntrinsicFunction(ctx: QuickJSContext, fn: QuickJSHandle, arg: QuickJSHandle): ReturnType<QuickJSContext["callFunction"]> {
  intrinsicDepth++;
  try {
    return ctx.callFunction(fn, ctx.undefined, arg);
  } finally {
    intrinsicDepth--;
  }
}

/** Per context, a word of the guest's heap that holds the one argument of callIntrinsic. */
const argSlots = new WeakMap<QuickJSContext, number>();

/** Thrown when the kernel's own realm functions cannot be set up: a kernel bug, never the guest's. */
export class IntrinsicsError extends Error {}

const captured = new WeakMap<QuickJSContext, Intrinsics>();

const UINT8_PARTS = `(() => {
  const apply = Reflect.apply;
  const proto = Object.getPrototypeOf(Uint8Array.prototype);
  const getter = (key) => Object.getOwnPropertyDescriptor(proto, key).get;
  const tag = getter(Symbol.toStringTag), buffer = getter("buffer"), offset = getter("byteOffset"), length = getter("byteLength");
  return (v) => apply(tag, v, []) === "Uint8Array" ? [apply(buffer, v, []), apply(offset, v, []), apply(length, v, [])] : null;
})()`;

/** Captures a context's intrinsics; call before any guest code runs in it. */
export function captureIntrinsics(ctx: QuickJSContext): void {
  calibrateStrings(ctx);
  const array = ctx.getProp(ctx.global, "Array");
  const isArray = ctx.getProp(array, "isArray");
  array.dispose();
  const bigInt = ctx.getProp(ctx.global, "BigInt");
  const held: QuickJSHandle[] = [isArray, bigInt];
  try {
    const uint8Parts = evaluate(ctx, UINT8_PARTS, "typed-array");
    held.push(uint8Parts);
    const describeThrown = evaluate(ctx, describeThrownSource(MAX_THROWN_TEXT), "thrown-value");
    captured.set(ctx, { isArray, uint8Parts, describeThrown, bigInt });
  } catch (error) {
    for (const handle of held) handle.dispose();
    throw error;
  }
}

/** Gives `ctx` intrinsics captured on a context it is a copy of (the same values, as `ctx`'s handles). */
export function adoptIntrinsics(ctx: QuickJSContext, held: Intrinsics): void {
  captured.set(ctx, held);
}

/**
 * Calls an intrinsic with one argument, as `ctx.callFunction` does but without making and
 * freeing an argument array each time (the reply path calls it for every bigint). Undefined
 * when the call throws (the exception is freed).
 */
export function callIntrinsic(ctx: QuickJSContext, fn: QuickJSHandle, arg: QuickJSHandle): QuickJSHandle | undefined {
  const { ffi, ctx: pointer, module, memory } = ctx as unknown as ContextInternals;
  let slot = argSlots.get(ctx);
  if (slot === undefined) {
    slot = module._malloc(4);
    if (slot === 0) return undefined;
    argSlots.set(ctx, slot);
  }
  const heap = module.HEAPU8;
  const value = arg.value as unknown as number;
  heap[slot] = value & 0xff;
  heap[slot + 1] = (value >>> 8) & 0xff;
  heap[slot + 2] = (value >>> 16) & 0xff;
  heap[slot + 3] = value >>> 24;
  let result: number;
  intrinsicDepth++;
  try {
    result = ffi.QTS_Call(pointer.value, fn.value as unknown as number, ctx.undefined.value as unknown as number, 1, slot);
  } finally {
    intrinsicDepth--;
  }
  const error = ffi.QTS_ResolveException(pointer.value, result);
  if (error !== 0) {
    ffi.QTS_FreeValuePointer(pointer.value, result);
    ffi.QTS_FreeValuePointer(pointer.value, error);
    return undefined;
  }
  return memory.heapValueHandle(result);
}

/** Frees what captureIntrinsics kept. */
export function releaseIntrinsics(ctx: QuickJSContext): void {
  const slot = argSlots.get(ctx);
  argSlots.delete(ctx);
  if (slot !== undefined) (ctx as unknown as { module: { _free(ptr: number): void } }).module._free(slot);
  const held = captured.get(ctx);
  held?.isArray.dispose();
  held?.uint8Parts.dispose();
  held?.describeThrown.dispose();
  held?.bigInt.dispose();
  captured.delete(ctx);
  releaseStrings(ctx);
}

/** The intrinsics of a context. @throws IntrinsicsError if they were not captured. */
export function intrinsics(ctx: QuickJSContext): Intrinsics {
  const held = captured.get(ctx);
  if (!held) throw new IntrinsicsError("kernel: intrinsics were not captured");
  return held;
}

function evaluate(ctx: QuickJSContext, source: string, what: string): QuickJSHandle {
  const result = ctx.evalCode(source, `kernel:${what}.js`);
  if (result.error) {
    result.error.dispose();
    throw new IntrinsicsError(`kernel: the ${what} intrinsics could not be captured`);
  }
  return result.value;
}

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
}

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
  const held: QuickJSHandle[] = [isArray];
  try {
    const uint8Parts = evaluate(ctx, UINT8_PARTS, "typed-array");
    held.push(uint8Parts);
    const describeThrown = evaluate(ctx, describeThrownSource(MAX_THROWN_TEXT), "thrown-value");
    captured.set(ctx, { isArray, uint8Parts, describeThrown });
  } catch (error) {
    for (const handle of held) handle.dispose();
    throw error;
  }
}

/** Gives `ctx` intrinsics captured on a context it is a copy of (the same values, as `ctx`'s handles). */
export function adoptIntrinsics(ctx: QuickJSContext, held: Intrinsics): void {
  captured.set(ctx, held);
}

/** Frees what captureIntrinsics kept. */
export function releaseIntrinsics(ctx: QuickJSContext): void {
  const held = captured.get(ctx);
  held?.isArray.dispose();
  held?.uint8Parts.dispose();
  held?.describeThrown.dispose();
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

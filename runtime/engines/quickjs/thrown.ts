/**
 * What a QuickJS run failed with, read once the run has ended without running any guest code
 * (see THROWN in intrinsics.ts), and how it is reported.
 */
import type { QuickJSContext, QuickJSHandle } from "quickjs-emscripten";
import { MAX_THROWN_TEXT } from "../kernel-globals.js";
import { callIntrinsicFunction, intrinsics } from "./intrinsics.js";
import { readString } from "./strings.js";

/**
 * A thrown value as the kernel saw it. `name` and `message` are the own (or built-in prototype)
 * data properties of a genuine Error: a string, `null` when present but not a plain string, or
 * undefined when absent.
 */
export interface Thrown {
  /** "error" (a genuine Error), "string", "object" (anything else that is an object), "null", or another typeof. */
  kind: string;
  name?: string | null;
  message?: string | null;
  /** Whether the Error's prototype is the built-in InternalError.prototype. */
  internalError: boolean;
}

const MAX_MESSAGE = MAX_THROWN_TEXT - 1;
const NO_MESSAGE = "the agent threw an Error without a plain message";

/** Reads a thrown value (the caller still owns `handle`). */
export function readThrown(ctx: QuickJSContext, handle: QuickJSHandle): Thrown {
  const kind = ctx.typeof(handle);
  if (kind !== "object" && kind !== "string") return { kind, internalError: false };
  const result = callIntrinsicFunction(ctx, intrinsics(ctx).describeThrown, handle);
  if (result.error) {
    result.error.dispose();
    return { kind, internalError: false };
  }
  try {
    const field = (i: number): string | null | undefined => {
      const h = ctx.getProp(result.value, i); // an own element of the helper's array literal
      try {
        const type = ctx.typeof(h);
        return type === "string" ? readString(ctx, h) : type === "undefined" ? undefined : null;
      } finally {
        h.dispose();
      }
    };
    const internal = ctx.getProp(result.value, 3);
    const internalError = ctx.typeof(internal) === "boolean" && ctx.sameValue(internal, ctx.true);
    internal.dispose();
    return { kind: field(0) ?? kind, name: field(1), message: field(2), internalError };
  } finally {
    result.value.dispose();
  }
}

/**
 * Whether a run failed because the guest ran out of memory. QuickJS throws an InternalError
 * "out of memory", or, when even that error cannot be allocated, `null` (or an InternalError
 * whose message could not be allocated). Once the stack has unwound, nothing tells that `null`
 * from an agent's own `throw null`: an uncaught `null` is taken as out of memory.
 */
export function isOutOfMemory(thrown: Thrown): boolean {
  if (thrown.kind === "null") return true;
  return thrown.kind === "error" && thrown.internalError && (thrown.message === "out of memory" || typeof thrown.message !== "string");
}

/** The run's error as reported: "Name: message", a thrown string as it is, or a fixed description. */
export function formatThrown(thrown: Thrown): { name: string; message: string } {
  switch (thrown.kind) {
    case "string":
      return { name: "", message: clip(thrown.message ?? "") };
    case "error":
      return { name: clip(typeof thrown.name === "string" ? thrown.name : ""), message: clip(thrown.message || NO_MESSAGE) };
    case "object":
      return { name: "", message: "the agent threw an object that is not an Error" };
    default:
      return { name: "", message: `the agent threw ${thrown.kind === "undefined" ? "undefined" : `a ${thrown.kind}`}` };
  }
}

function clip(text: string): string {
  return text.length > MAX_MESSAGE ? text.slice(0, MAX_MESSAGE) + "…" : text;
}

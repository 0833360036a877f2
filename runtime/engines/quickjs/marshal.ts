/**
 * Copies values between a QuickJS guest and the host.
 *
 * Guest arguments are read exactly once, by their WIT type, into plain host data: a getter or
 * a Proxy that answers differently on a second read gets no second read, and nothing that is
 * not of the declared type gets through (no coercion, so no guest `toString` or `toJSON` runs).
 * Strings go by length both ways (strings.ts): a NUL is carried, never a cut-off point.
 */
import type { QuickJSContext, QuickJSHandle } from "quickjs-emscripten";
import type { WitType } from "../../kernel/ops.js";
import { callIntrinsic, callIntrinsicFunction, intrinsics } from "./intrinsics.js";
import { StringTransferError, keyString, newString, readString } from "./strings.js";

/** Thrown for a guest argument that does not match its WIT type; becomes `invalid`. */
export class MarshalError extends Error {}

/** The most elements a guest list may have in one call. */
export const MAX_LIST = 1_000_000;

export function copyIn(ctx: QuickJSContext, handle: QuickJSHandle, type: WitType, where: string): unknown {
  if (typeof type === "string") return copyScalar(ctx, handle, type, where);
  if ("option" in type) {
    const kind = ctx.typeof(handle);
    return kind === "undefined" || isNull(ctx, handle) ? undefined : copyIn(ctx, handle, type.option, where);
  }
  if ("enum" in type) {
    const value = copyScalar(ctx, handle, "string", where) as string;
    if (!type.enum.includes(value)) throw new MarshalError(`${where} must be one of ${type.enum.join(", ")}`);
    return value;
  }
  if ("list" in type) return copyList(ctx, handle, where, (item, i) => copyIn(ctx, item, type.list, `${where}[${i}]`));
  if ("tuple" in type) {
    const items = copyList(ctx, handle, where, (item, i) => {
      if (i >= type.tuple.length) throw new MarshalError(`${where} must have ${type.tuple.length} elements`);
      return copyIn(ctx, item, type.tuple[i], `${where}[${i}]`);
    });
    if (items.length !== type.tuple.length) throw new MarshalError(`${where} must have ${type.tuple.length} elements`);
    return items;
  }
  if ("record" in type) {
    requireObject(ctx, handle, where);
    const out: Record<string, unknown> = {};
    for (const [field, fieldType] of Object.entries(type.record)) {
      const value = ctx.getProp(handle, field);
      try {
        out[field] = copyIn(ctx, value, fieldType, `${where}.${field}`);
      } finally {
        value.dispose();
      }
    }
    return out;
  }
  // variant: { tag, val }
  requireObject(ctx, handle, where);
  const tagHandle = ctx.getProp(handle, "tag");
  let tag: string;
  try {
    tag = copyScalar(ctx, tagHandle, "string", `${where}.tag`) as string;
  } finally {
    tagHandle.dispose();
  }
  if (!Object.prototype.hasOwnProperty.call(type.variant, tag)) {
    throw new MarshalError(`${where}.tag must be one of ${Object.keys(type.variant).join(", ")}`);
  }
  const caseType = type.variant[tag];
  if (caseType === null) return { tag };
  const valHandle = ctx.getProp(handle, "val");
  try {
    return { tag, val: copyIn(ctx, valHandle, caseType, `${where}.val`) };
  } finally {
    valHandle.dispose();
  }
}

function copyScalar(ctx: QuickJSContext, handle: QuickJSHandle, type: string, where: string): unknown {
  const kind = ctx.typeof(handle);
  switch (type) {
    case "string": {
      if (kind !== "string") throw new MarshalError(`${where} must be a string`);
      try {
        return readString(ctx, handle);
      } catch (error) {
        if (error instanceof StringTransferError) throw new MarshalError(`${where}: ${error.message}`);
        throw error;
      }
    }
    case "bool":
      if (kind !== "boolean") throw new MarshalError(`${where} must be a boolean`);
      return ctx.sameValue(handle, ctx.true);
    case "u32": {
      if (kind !== "number") throw new MarshalError(`${where} must be a number`);
      const n = ctx.getNumber(handle);
      if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new MarshalError(`${where} must be an integer from 0 to 4294967295`);
      return n;
    }
    case "f64":
      if (kind !== "number") throw new MarshalError(`${where} must be a number`);
      return ctx.getNumber(handle);
    case "s64":
    case "u64": {
      let value: bigint;
      if (kind === "bigint") value = ctx.getBigInt(handle);
      else if (kind === "number" && Number.isSafeInteger(ctx.getNumber(handle))) value = BigInt(ctx.getNumber(handle));
      else throw new MarshalError(`${where} must be an integer (a bigint or a safe integer)`);
      const [lo, hi] = type === "s64" ? [-(2n ** 63n), 2n ** 63n - 1n] : [0n, 2n ** 64n - 1n];
      if (value < lo || value > hi) throw new MarshalError(`${where} is out of range for ${type}`);
      return value;
    }
    case "bytes":
      return copyBytes(ctx, handle, where);
    default:
      throw new MarshalError(`${where}: unsupported type ${type}`);
  }
}

/** Bytes from a Uint8Array (what the SDK passes) or an ArrayBuffer, copied out of the guest heap. */
function copyBytes(ctx: QuickJSContext, handle: QuickJSHandle, where: string): Uint8Array {
  const what = `${where} must be a Uint8Array or an ArrayBuffer`;
  if (ctx.typeof(handle) !== "object" || isNull(ctx, handle)) throw new MarshalError(what);
  const view = typedArrayParts(ctx, handle);
  if (view === null) return copyArrayBuffer(ctx, handle, 0, undefined, what);
  try {
    return copyArrayBuffer(ctx, view.buffer, view.offset, view.length, what);
  } finally {
    view.buffer.dispose();
  }
}

function copyArrayBuffer(ctx: QuickJSContext, handle: QuickJSHandle, offset: number, length: number | undefined, what: string): Uint8Array {
  let lifetime;
  try {
    lifetime = ctx.getArrayBuffer(handle);
  } catch {
    throw new MarshalError(what);
  }
  try {
    const bytes = lifetime.value;
    const end = length === undefined ? bytes.length : offset + length;
    if (offset < 0 || end > bytes.length || end < offset) throw new MarshalError(what);
    return bytes.slice(offset, end); // a copy out of the guest heap
  } finally {
    lifetime.dispose();
  }
}

/**
 * A genuine Uint8Array's buffer, offset and length, read through the typed-array getters the
 * context had before any guest code ran (a guest cannot fake them with its own properties).
 */
function typedArrayParts(ctx: QuickJSContext, handle: QuickJSHandle): { buffer: QuickJSHandle; offset: number; length: number } | null {
  const parts = intrinsics(ctx).uint8Parts;
  const result = callIntrinsicFunction(ctx, parts, handle);
  if (result.error) {
    result.error.dispose();
    return null;
  }
  try {
    if (ctx.typeof(result.value) !== "object" || isNull(ctx, result.value)) return null;
    const [buffer, offset, length] = [0, 1, 2].map((i) => ctx.getProp(result.value, i));
    const numbers = [offset, length].map((h) => (ctx.typeof(h) === "number" ? ctx.getNumber(h) : -1));
    offset.dispose();
    length.dispose();
    return { buffer, offset: numbers[0], length: numbers[1] };
  } finally {
    result.value.dispose();
  }
}

function copyList<T>(
  ctx: QuickJSContext,
  handle: QuickJSHandle,
  where: string,
  each: (item: QuickJSHandle, index: number) => T,
): T[] {
  requireArray(ctx, handle, where);
  const lengthHandle = ctx.getProp(handle, "length");
  let length: number;
  try {
    length = ctx.typeof(lengthHandle) === "number" ? ctx.getNumber(lengthHandle) : NaN;
  } finally {
    lengthHandle.dispose();
  }
  if (!Number.isInteger(length) || length < 0) throw new MarshalError(`${where} must be an array`);
  if (length > MAX_LIST) throw new MarshalError(`${where} has more than ${MAX_LIST} elements`);
  const out: T[] = [];
  for (let i = 0; i < length; i++) {
    const item = ctx.getProp(handle, i);
    try {
      out.push(each(item, i));
    } finally {
      item.dispose();
    }
  }
  return out;
}

function isNull(ctx: QuickJSContext, handle: QuickJSHandle): boolean {
  // Never ctx.dump() a guest object: it runs the guest's toJSON.
  return ctx.typeof(handle) === "object" && ctx.sameValue(handle, ctx.null);
}

function requireObject(ctx: QuickJSContext, handle: QuickJSHandle, where: string): void {
  if (ctx.typeof(handle) !== "object" || isNull(ctx, handle)) throw new MarshalError(`${where} must be an object`);
}

function requireArray(ctx: QuickJSContext, handle: QuickJSHandle, where: string): void {
  requireObject(ctx, handle, where);
  if (!arrayCheck(ctx, handle)) throw new MarshalError(`${where} must be an array`);
}

function arrayCheck(ctx: QuickJSContext, handle: QuickJSHandle): boolean {
  const result = callIntrinsicFunction(ctx, intrinsics(ctx).isArray, handle);
  if (result.error) {
    result.error.dispose();
    return false;
  }
  const yes = ctx.sameValue(result.value, ctx.true);
  result.value.dispose();
  return yes;
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * A guest bigint, made by the realm's own BigInt (captured before any guest code ran) from a
 * number when it is exact, else from its decimal digits.
 */
function newBigInt(ctx: QuickJSContext, value: bigint): QuickJSHandle {
  const from = value <= SAFE && value >= -SAFE ? ctx.newNumber(Number(value)) : ctx.newString(value.toString());
  const made = callIntrinsic(ctx, intrinsics(ctx).bigInt, from);
  from.dispose();
  if (made === undefined) throw new MarshalError("a bigint reply could not be made");
  return made;
}

/** Builds a guest value from plain host data (the reply of a host call). */
export function copyOut(ctx: QuickJSContext, value: unknown): QuickJSHandle {
  switch (typeof value) {
    case "undefined":
      return ctx.undefined;
    case "boolean":
      return value ? ctx.true : ctx.false;
    case "number":
      return ctx.newNumber(value);
    case "string":
      return newString(ctx, value);
    case "bigint":
      return newBigInt(ctx, value);
    case "object": {
      if (value === null) return ctx.null;
      if (value instanceof Uint8Array) {
        return ctx.newArrayBuffer(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
      }
      if (Array.isArray(value)) {
        const array = ctx.newArray();
        value.forEach((item, i) => {
          const h = copyOut(ctx, item);
          ctx.setProp(array, i, h);
          h.dispose();
        });
        return array;
      }
      const object = ctx.newObject();
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        const h = copyOut(ctx, item);
        ctx.setProp(object, keyString(ctx, key) ?? key, h);
        h.dispose();
      }
      return object;
    }
    default:
      return ctx.undefined;
  }
}

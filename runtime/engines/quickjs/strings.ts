/**
 * Strings between the host and a QuickJS guest, by length.
 *
 * quickjs-emscripten's `getString` and `newString` pass strings as NUL-terminated UTF-8: a guest
 * string `"a\u0000b"` reaches the host as `"a"`, and a host string with a NUL reaches the guest
 * cut off. Here a guest string is read through QuickJS's binary serialisation (`bjson`), which
 * writes its length and its code units, and a host string that has a NUL is made the same way
 * in reverse. A host string without a NUL takes `newString`, which is faster and carries it whole.
 *
 * A WIT string is a sequence of Unicode scalar values: an unpaired surrogate, which a JavaScript
 * string may hold, becomes U+FFFD in both directions, as the component engine's canonical ABI
 * makes it.
 */
import type { QuickJSContext, QuickJSHandle } from "quickjs-emscripten";
import { latin1Bytes } from "../../portable/bytes.js";
import { latin1Text, utf16leBytes, utf16leText } from "./bytes.js";

/** A string the engine could not hand over (the guest's heap is full, or the format is not the one expected). */
export class StringTransferError extends Error {}

/** The bytes before a serialised string's length: format version, no atoms, the string tag. */
const headers = new WeakMap<QuickJSContext, Uint8Array>();

/**
 * Learns the engine's serialisation header from a string whose encoding is known, before any
 * guest code runs. @throws StringTransferError if the engine does not serialise strings as expected.
 */
export function calibrateStrings(ctx: QuickJSContext): void {
  // "a" serialises as the header, then its length field (1 unit, 8-bit: 1 << 1 | 0 = 2), then "a".
  const probe = ctx.newString("a");
  try {
    const header = serialised(ctx, probe, (bytes) => {
      const tail = bytes.subarray(bytes.length - 2);
      return bytes.length > 2 && tail[0] === 2 && tail[1] === 0x61 ? bytes.slice(0, bytes.length - 2) : undefined;
    });
    if (!header) throw new StringTransferError("kernel: QuickJS serialises strings in an unknown format");
    headers.set(ctx, header);
  } finally {
    probe.dispose();
  }
}

/** What calibrateStrings learnt for `ctx` (to give a copy of its context the same). */
export function stringHeader(ctx: QuickJSContext): Uint8Array | undefined {
  return headers.get(ctx);
}

/** Gives `ctx` a header learnt on a context it is a copy of. */
export function adoptStringHeader(ctx: QuickJSContext, header: Uint8Array): void {
  headers.set(ctx, header);
}

/** Guest strings for the property keys the host writes, by context (see keyString). */
const keyStrings = new WeakMap<QuickJSContext, Map<string, QuickJSHandle>>();
/** At most this many keys are kept per context (a database's column names are the guest's choice). */
const MAX_KEY_STRINGS = 256;

/**
 * A guest string for a property key of the objects the host makes (a record's field names): made
 * once per context, so that setting a property does not make and free a string each time.
 * Undefined once MAX_KEY_STRINGS are kept (the caller passes the key itself).
 */
export function keyString(ctx: QuickJSContext, key: string): QuickJSHandle | undefined {
  let kept = keyStrings.get(ctx);
  if (kept === undefined) keyStrings.set(ctx, (kept = new Map()));
  let handle = kept.get(key);
  if (handle === undefined && kept.size < MAX_KEY_STRINGS) {
    handle = newString(ctx, key);
    kept.set(key, handle);
  }
  return handle;
}

/** Forgets what calibrateStrings learnt, and frees the kept key strings. */
export function releaseStrings(ctx: QuickJSContext): void {
  headers.delete(ctx);
  const kept = keyStrings.get(ctx);
  keyStrings.delete(ctx);
  if (kept) for (const handle of kept.values()) if (handle.alive) handle.dispose();
}

/**
 * Reads a guest string (the caller has checked it is one) whole, NUL characters included.
 * @throws StringTransferError when the guest's heap has no room for the copy.
 */
export function readString(ctx: QuickJSContext, handle: QuickJSHandle): string {
  const header = headerOf(ctx);
  return serialised(ctx, handle, (bytes) => decode(bytes, header));
}

function decode(bytes: Uint8Array, header: Uint8Array): string {
  for (let i = 0; i < header.length; i++) {
    if (bytes[i] !== header[i]) throw new StringTransferError("kernel: a guest string was not serialised as a string");
  }
  let at = header.length;
  let field = 0;
  for (let scale = 1; ; scale *= 128) {
    if (at >= bytes.length || scale > 2 ** 35) throw new StringTransferError("kernel: a guest string's length is malformed");
    const byte = bytes[at++];
    field += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) break;
  }
  const length = Math.floor(field / 2);
  const wide = field % 2 === 1;
  if (bytes.length - at !== (wide ? 2 * length : length)) throw new StringTransferError("kernel: a guest string's length does not match its bytes");
  const body = bytes.subarray(at);
  // (a lone surrogate decodes as U+FFFD: the host's strings are well formed)
  return wide ? utf16leText(body) : latin1Text(body);
}

/** Makes a guest string from a host string, NUL characters included. */
export function newString(ctx: QuickJSContext, text: string): QuickJSHandle {
  const whole = text.isWellFormed() ? text : text.toWellFormed();
  if (!whole.includes("\0")) return ctx.newString(whole);
  const header = headerOf(ctx);
  let wide = false;
  for (let i = 0; i < whole.length && !wide; i++) wide = whole.charCodeAt(i) > 0xff;
  const lengthField: number[] = [];
  for (let field = whole.length * 2 + (wide ? 1 : 0); ; ) {
    const low = field % 128;
    field = Math.floor(field / 128);
    lengthField.push(field > 0 ? low | 0x80 : low);
    if (field === 0) break;
  }
  const body = wide ? utf16leBytes(whole) : latin1Bytes(whole);
  const bytes = new Uint8Array(header.length + lengthField.length + body.length);
  bytes.set(header);
  bytes.set(lengthField, header.length);
  bytes.set(body, header.length + lengthField.length);
  const buffer = ctx.newArrayBuffer(bytes.buffer);
  try {
    const value = ctx.decodeBinaryJSON(buffer);
    if (ctx.typeof(value) !== "string") {
      value.dispose();
      throw new StringTransferError("kernel: a string could not be made in the guest (its heap is full)");
    }
    return value;
  } finally {
    buffer.dispose();
  }
}

function headerOf(ctx: QuickJSContext): Uint8Array {
  const header = headers.get(ctx);
  if (!header) throw new StringTransferError("kernel: strings were not calibrated for this context");
  return header;
}

/** Reads a value's bjson bytes (a view of the guest's heap, valid only during `read`). */
function serialised<T>(ctx: QuickJSContext, handle: QuickJSHandle, read: (bytes: Uint8Array) => T): T {
  const buffer = ctx.encodeBinaryJSON(handle);
  try {
    let lifetime;
    try {
      lifetime = ctx.getArrayBuffer(buffer);
    } catch {
      // The encoder returned an exception, not a buffer: the guest's heap had no room for the copy.
      throw new StringTransferError("kernel: a guest string could not be read (the guest's heap is full)");
    }
    try {
      return read(lifetime.value);
    } finally {
      lifetime.dispose();
    }
  } finally {
    buffer.dispose();
  }
}

/**
 * Bytes on any host: UTF-8, Latin-1 and base64 over plain `Uint8Array`s, on Web-standard APIs
 * (TextEncoder, TextDecoder) only. Where the host has Node's `Buffer` (Node, Bun, Deno, workerd
 * with `nodejs_compat`), its native methods are used instead, chosen once when this module
 * loads: on Node they are faster than TextEncoder's and TextDecoder's (verifying a log, which
 * writes every record's text as UTF-8, takes about 9% longer without them). Both give the same
 * bytes and text; a test compares them on random inputs.
 *
 * The fast path applies to buffers made by {@link allocBytes} (on Node, Buffers); any other
 * `Uint8Array` takes the portable path, so every function works on every `Uint8Array`.
 *
 * `Buffer` is reached through `globalThis`, never imported, so that this module bundles for any
 * platform.
 */

/** What these helpers do, once per host (see {@link portableBytes} and {@link nodeBytes}). */
export interface ByteCodec {
  /** A new buffer of `n` bytes, its contents unspecified (Node's is not zeroed). */
  allocBytes(n: number): Uint8Array;
  /** Writes `text` as UTF-8 at `at` and gives the number of bytes written; `buf` must have room for 3 bytes per UTF-16 unit. */
  writeUtf8(buf: Uint8Array, text: string, at: number): number;
  /** Writes `text` (every unit below 256) one byte per unit at `at`. */
  writeLatin1(buf: Uint8Array, text: string, at: number): void;
  /** The UTF-8 text from `from` to `to` (a byte order mark is kept, as Buffer keeps it). */
  readUtf8(buf: Uint8Array, from: number, to: number): string;
  /** `text` as UTF-8 (a lone surrogate becomes U+FFFD), in a new buffer of the kind {@link allocBytes} makes. */
  utf8Bytes(text: string): Uint8Array;
  /** Base64 with padding, the standard alphabet. */
  toBase64(bytes: Uint8Array): string;
  /**
   * The bytes of base64 text, as Buffer decodes it: either alphabet (`+/` or `-_`), padding
   * optional, characters outside the alphabet skipped, and the first `=` ends the data. (One
   * difference, on text no encoder makes: Node reads a character above U+00FF by its low byte,
   * the portable decoder skips it.)
   */
  fromBase64(text: string): Uint8Array;
}

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder("utf-8", { ignoreBOM: true });
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const TO_DIGIT = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));
const FROM_DIGIT = base64Digits();
const PAD = 61; // =

function base64Digits(): Int8Array {
  const digits = new Int8Array(256).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) digits[ALPHABET.charCodeAt(i)] = i;
  digits[45] = 62; // -
  digits[95] = 63; // _
  return digits;
}

function writeLatin1Portable(buf: Uint8Array, text: string, at: number): void {
  for (let i = 0; i < text.length; i++) buf[at + i] = text.charCodeAt(i);
}

function toBase64Portable(bytes: Uint8Array): string {
  const n = bytes.length;
  const out = new Uint8Array(Math.ceil(n / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out[o++] = TO_DIGIT[v >>> 18];
    out[o++] = TO_DIGIT[(v >>> 12) & 63];
    out[o++] = TO_DIGIT[(v >>> 6) & 63];
    out[o++] = TO_DIGIT[v & 63];
  }
  if (i < n) {
    const two = i + 1 < n;
    const v = (bytes[i] << 16) | (two ? bytes[i + 1] << 8 : 0);
    out[o++] = TO_DIGIT[v >>> 18];
    out[o++] = TO_DIGIT[(v >>> 12) & 63];
    out[o++] = two ? TO_DIGIT[(v >>> 6) & 63] : PAD;
    out[o++] = PAD;
  }
  // (ASCII: the decoder makes one string of any length, where String.fromCharCode.apply would not)
  return DECODER.decode(out);
}

function fromBase64Portable(text: string): Uint8Array {
  const out = new Uint8Array(((text.length * 3) >>> 2) + 1);
  let o = 0;
  let bits = 0;
  let acc = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === PAD) break;
    const digit = c < 256 ? FROM_DIGIT[c] : -1;
    if (digit < 0) continue;
    acc = ((acc << 6) | digit) & 0xffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = acc >>> bits;
    }
  }
  return out.slice(0, o);
}

/**
 * The helpers on Web-standard APIs only: what a browser or workerd uses.
 *
 * @example portableBytes.toBase64(new Uint8Array([1, 2])) === "AQI="
 */
export const portableBytes: ByteCodec = {
  allocBytes: (n) => new Uint8Array(n),
  writeUtf8: (buf, text, at) => ENCODER.encodeInto(text, buf.subarray(at)).written,
  writeLatin1: writeLatin1Portable,
  readUtf8: (buf, from, to) => DECODER.decode(buf.subarray(from, to)),
  utf8Bytes: (text) => ENCODER.encode(text),
  toBase64: toBase64Portable,
  fromBase64: fromBase64Portable,
};

/** The part of Node's Buffer used here. */
interface NodeBuffer extends Uint8Array {
  write(text: string, offset: number, length: number, encoding: "latin1" | "utf8"): number;
  toString(encoding?: "utf8" | "base64", start?: number, end?: number): string;
}

interface NodeBufferClass {
  new (...args: never[]): NodeBuffer;
  allocUnsafe(n: number): NodeBuffer;
  from(data: ArrayBufferLike, byteOffset: number, length: number): NodeBuffer;
  from(text: string, encoding: "base64" | "utf8"): NodeBuffer;
}

/**
 * The helpers on Node's Buffer, for buffers that are Buffers (others take the portable path).
 *
 * @example nodeBytes(Buffer)?.toBase64(new Uint8Array([1, 2])) === "AQI="
 */
export function nodeBytes(B: unknown): ByteCodec | undefined {
  const Buf = B as NodeBufferClass | undefined;
  if (typeof Buf !== "function" || typeof Buf.allocUnsafe !== "function" || typeof Buf.from !== "function") return undefined;
  const portable = portableBytes;
  return {
    allocBytes: (n) => Buf.allocUnsafe(n),
    writeUtf8: (buf, text, at) => (buf instanceof Buf ? buf.write(text, at, buf.length - at, "utf8") : portable.writeUtf8(buf, text, at)),
    writeLatin1: (buf, text, at) => {
      if (buf instanceof Buf) buf.write(text, at, text.length, "latin1");
      else writeLatin1Portable(buf, text, at);
    },
    readUtf8: (buf, from, to) => (buf instanceof Buf ? buf.toString("utf8", from, to) : portable.readUtf8(buf, from, to)),
    utf8Bytes: (text) => Buf.from(text, "utf8"),
    toBase64: (bytes) => Buf.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64"),
    fromBase64: (text) => new Uint8Array(Buf.from(text, "base64")),
  };
}

const chosen: ByteCodec = nodeBytes((globalThis as { Buffer?: unknown }).Buffer) ?? portableBytes;

/** Whether this host's helpers are Node's Buffer (else the portable ones). */
export const bytesNative: boolean = chosen !== portableBytes;

/**
 * The helpers this host uses. Each is described on {@link ByteCodec}.
 *
 * @example const buf = allocBytes(8); const n = writeUtf8(buf, "é", 0); readUtf8(buf, 0, n) === "é"
 */
export const { allocBytes, writeUtf8, writeLatin1, readUtf8, utf8Bytes, toBase64, fromBase64 } = chosen;

/**
 * The bytes of text whose every UTF-16 unit is below 256, one byte each (for constants). Made by
 * {@link allocBytes}, like the buffers they are copied into: code that reads both then sees one
 * kind of array, which V8 keeps fast.
 *
 * @example latin1Bytes("ab")[1] === 98
 */
export function latin1Bytes(text: string): Uint8Array {
  const bytes = allocBytes(text.length);
  writeLatin1Portable(bytes, text, 0);
  return bytes;
}

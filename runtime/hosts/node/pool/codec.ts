/**
 * The channel's wire format: a small binary encoding of the plain data that host calls carry
 * (WIT values as the engines marshal them: strings, numbers, bigints, bytes, lists, records,
 * variants, options). It exists because `v8.serialize` costs several microseconds a message,
 * more than the rest of a cheap host call together.
 *
 * Decoding never trusts the bytes: every length is checked against the buffer, nesting is
 * bounded, and a malformed message throws a CodecError (which the kernel turns into `invalid`).
 * Anything that is not plain data (a Date, a Map, a class instance) travels inside the message
 * as a `v8.serialize` blob, so the codec never changes what a message means.
 */
import { deserialize, serialize } from "node:v8";

const T_UNDEFINED = 0;
const T_NULL = 1;
const T_FALSE = 2;
const T_TRUE = 3;
const T_INT = 4;
const T_FLOAT = 5;
const T_STRING = 6;
const T_BIGINT = 7;
const T_BYTES = 8;
const T_ARRAY = 9;
const T_OBJECT = 10;
const T_V8 = 11;

/** Deeper than any WIT value the kernel defines; a deeper message is refused, not recursed into. */
const MAX_DEPTH = 64;

export class CodecError extends Error {
  override readonly name = "CodecError";
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: false });

/** Encodes messages into a reusable buffer; `encode` returns a view valid until the next call. */
export class Encoder {
  private buf = new Uint8Array(4096);
  private view = new DataView(this.buf.buffer);
  private pos = 0;

  /** @example new Encoder().encode({ op: "log.write", args: ["info", "x", []] }).length */
  encode(value: unknown): Uint8Array {
    this.pos = 0;
    this.value(value, 0);
    return this.buf.subarray(0, this.pos);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  private u8(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  private u32(n: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, n, true);
    this.pos += 4;
  }

  private string(s: string): void {
    // At most 3 bytes per UTF-16 unit; the length is written once the bytes are.
    this.ensure(5 + s.length * 3);
    this.buf[this.pos] = T_STRING;
    const start = this.pos + 5;
    let n = 0;
    let ascii = true;
    if (s.length < 64) {
      for (; n < s.length; n++) {
        const c = s.charCodeAt(n);
        if (c > 0x7f) {
          ascii = false;
          break;
        }
        this.buf[start + n] = c;
      }
    } else {
      ascii = false;
    }
    if (!ascii) n = utf8.encodeInto(s, this.buf.subarray(start)).written;
    this.view.setUint32(this.pos + 1, n, true);
    this.pos = start + n;
  }

  private raw(tag: number, bytes: Uint8Array): void {
    this.u8(tag);
    this.u32(bytes.length);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  private value(v: unknown, depth: number): void {
    if (depth > MAX_DEPTH) throw new CodecError("a message nests too deeply");
    switch (typeof v) {
      case "undefined":
        return this.u8(T_UNDEFINED);
      case "boolean":
        return this.u8(v ? T_TRUE : T_FALSE);
      case "number":
        if ((v | 0) === v && !Object.is(v, -0)) {
          this.ensure(5);
          this.buf[this.pos] = T_INT;
          this.view.setInt32(this.pos + 1, v, true);
          this.pos += 5;
        } else {
          this.ensure(9);
          this.buf[this.pos] = T_FLOAT;
          this.view.setFloat64(this.pos + 1, v, true);
          this.pos += 9;
        }
        return;
      case "string":
        return this.string(v);
      case "bigint":
        return this.raw(T_BIGINT, utf8.encode(v.toString()));
      case "object":
        if (v === null) return this.u8(T_NULL);
        if (v instanceof Uint8Array && v.constructor === Uint8Array) return this.raw(T_BYTES, v);
        if (Array.isArray(v)) {
          this.u8(T_ARRAY);
          this.u32(v.length);
          for (let i = 0; i < v.length; i++) this.value(v[i], depth + 1);
          return;
        }
        if (Object.getPrototypeOf(v) === Object.prototype) {
          const keys = Object.keys(v);
          this.u8(T_OBJECT);
          this.u32(keys.length);
          for (const k of keys) {
            this.string(k);
            this.value((v as Record<string, unknown>)[k], depth + 1);
          }
          return;
        }
        return this.raw(T_V8, serialize(v));
      default:
        throw new CodecError(`a ${typeof v} cannot cross the channel`);
    }
  }
}

/**
 * Decodes one message from bytes the caller owns (copied out of shared memory first, so that
 * nothing can change them while they are read).
 *
 * @example decode(new Encoder().encode([1, "a", 2n])) // [1, "a", 2n]
 * @throws CodecError for a truncated or malformed message.
 */
export function decode(bytes: Uint8Array): unknown {
  const reader = new Reader(bytes);
  const value = reader.value(0);
  if (reader.pos !== bytes.length) throw new CodecError("a message has trailing bytes");
  return value;
}

class Reader {
  pos = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new CodecError("a message is truncated");
  }

  private u32(): number {
    this.need(4);
    const n = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return n;
  }

  private bytes(): Uint8Array {
    const n = this.u32();
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private string(): string {
    const b = this.bytes();
    if (b.length < 64) {
      let s = "";
      for (let i = 0; i < b.length; i++) {
        if (b[i] > 0x7f) return utf8Decoder.decode(b);
        s += String.fromCharCode(b[i]);
      }
      return s;
    }
    return utf8Decoder.decode(b);
  }

  value(depth: number): unknown {
    if (depth > MAX_DEPTH) throw new CodecError("a message nests too deeply");
    this.need(1);
    const tag = this.buf[this.pos++];
    switch (tag) {
      case T_UNDEFINED:
        return undefined;
      case T_NULL:
        return null;
      case T_FALSE:
        return false;
      case T_TRUE:
        return true;
      case T_INT: {
        this.need(4);
        const n = this.view.getInt32(this.pos, true);
        this.pos += 4;
        return n;
      }
      case T_FLOAT: {
        this.need(8);
        const n = this.view.getFloat64(this.pos, true);
        this.pos += 8;
        return n;
      }
      case T_STRING:
        return this.string();
      case T_BIGINT: {
        const text = utf8Decoder.decode(this.bytes());
        if (!/^-?[0-9]{1,40}$/.test(text)) throw new CodecError("a message holds a malformed integer");
        return BigInt(text);
      }
      case T_BYTES:
        return this.bytes().slice();
      case T_ARRAY: {
        const n = this.u32();
        // Every element takes at least one byte: a count larger than what is left is a lie.
        this.need(n);
        const out: unknown[] = new Array(n);
        for (let i = 0; i < n; i++) out[i] = this.value(depth + 1);
        return out;
      }
      case T_OBJECT: {
        const n = this.u32();
        this.need(n * 6);
        const out: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          this.need(1);
          if (this.buf[this.pos++] !== T_STRING) throw new CodecError("a message holds a key that is not a string");
          const key = this.string();
          const v = this.value(depth + 1);
          // An own data property even for "__proto__", as structured clone would give.
          if (key === "__proto__") Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
          else out[key] = v;
        }
        return out;
      }
      case T_V8:
        return deserialize(this.bytes().slice());
      default:
        throw new CodecError(`a message holds an unknown tag ${tag}`);
    }
  }
}

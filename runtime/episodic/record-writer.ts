/**
 * The log's hot path: an event sealed straight into bytes. The text the hash covers,
 * `prev + "\n" + body`, is written as UTF-8 into an arena, hashed there, and the hash's hex
 * digits then overwrite `prev` and the newline (65 bytes: the hash goes in after the first),
 * which leaves the stored record, `hash + body`, in place for LevelDB to copy; the byte in
 * front of it becomes a newline, so that consecutive records are already a stored segment. No string is made
 * for the text at all: ASCII is copied byte by byte, anything else goes through the same
 * `JSON.stringify` and UTF-8 conversion as the string encoder, so the bytes are the same (a
 * property test checks it against `canonicalJson(encodeValue(...))`).
 *
 * Records are views into an arena of ARENA_BYTES; a full arena is left to the batches that still
 * refer to it, and a new one started.
 */
import { LogError } from "../errors.js";
import type { LoggedEvent, NewEvent } from "../types.js";
import { allocBytes, latin1Bytes, readUtf8, toBase64, utf8Bytes, writeLatin1, writeUtf8 } from "../portable/bytes.js";
import { canonicalJson, checkNewEvent, encodeValue, sha256Hex, type JsonValue } from "./encoding.js";

const ARENA_BYTES = 1 << 20;
const MAX_DEPTH = 64;
const MAX_CACHED_KEYS = 1024;
const TAGS = new Set(["$bigint", "$bytes", "$number", "$object"]);
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
const NOT_DATA = Symbol("not data");
const HEX_LENGTH = 64;
const AGENT = latin1Bytes('\n{"agent":');
const DATA = latin1Bytes(',"data":');
const PID = latin1Bytes(',"pid":');
const PREV = latin1Bytes(',"prev":"');
const RUN_ID = latin1Bytes('","runId":');
const SEQ = latin1Bytes(',"seq":');
const TIME = latin1Bytes(',"time":');
const TYPE = latin1Bytes(',"type":"');
const END = latin1Bytes('"}');
const HEX = /^[0-9a-f]{64}$/;
/** Strings longer than this are checked and copied natively. */
const LONG_STRING = 64;

/**
 * Seals events into records, one after another, reusing its arena and its cache of quoted keys.
 * After `seal`, the record is `arena.subarray(recordFrom, recordTo)`; it stays there until
 * `recycle` (which the log calls once every record sealed so far has been copied out).
 *
 * @example const w = new RecordWriter(); const event = w.seal(e, 1, Date.now(), GENESIS); w.lastRecord();
 */
export class RecordWriter {
  private buf = allocBytes(ARENA_BYTES);
  private at = 0;
  /** Where the record being written starts in `buf`. */
  private start = 0;
  private readonly keys = new Map<string, Uint8Array>();
  private readonly shapes = new Map<string, Shape>();
  /** Whether Object.prototype has an enumerable key (someone added one): then `for...in` is not used. */
  private inherited = false;
  private plain = true;
  /** The arena holding the last sealed record, and where the record is in it. */
  arena: Uint8Array = this.buf;
  recordFrom = 0;
  recordTo = 0;
  /** The last hash made, and where its hex digits are in `buf` (-1: not there). */
  private lastHash = "";
  private lastHashAt = -1;

  /**
   * Gives an event its place in the chain (see sealEvent in encoding.ts: the same hash). `prev`
   * must be 64 lower-case hex digits (every hash the log makes is).
   * @throws LogError when the event is malformed or its data cannot be encoded (nothing is kept).
   */
  seal(e: NewEvent, seq: number, time: number, prev: string): LoggedEvent;
  /** With `lean`, only the record and its hash are made: the event's `data` is not decoded back. */
  seal(e: NewEvent, seq: number, time: number, prev: string, lean: true): { hash: string };
  seal(e: NewEvent, seq: number, time: number, prev: string, lean = false): LoggedEvent | { hash: string } {
    checkNewEvent(e);
    this.inherited = hasEnumerableKey(Object.prototype);
    this.start = this.at;
    let data: { [key: string]: JsonValue };
    try {
      this.room(HEX_LENGTH);
      // The previous hash, twice: in front (what the hash covers) and as the body's "prev".
      // Copied from where the previous record's hash was written, when it is this one.
      const prevAt = this.at;
      if (this.lastHashAt >= 0 && prev === this.lastHash) this.buf.copyWithin(prevAt, this.lastHashAt, this.lastHashAt + HEX_LENGTH);
      else if (HEX.test(prev)) writeLatin1(this.buf, prev, prevAt);
      else throw new LogError(`the previous hash ${JSON.stringify(prev)} is not 64 hex digits`);
      this.at = prevAt + HEX_LENGTH;
      this.bytes(AGENT);
      this.string(e.agent);
      this.bytes(DATA);
      // Positions are kept relative to the record: room() may move it to a new arena.
      const dataFrom = this.at - this.start;
      data = this.data(e.data) as { [key: string]: JsonValue };
      if (!this.plain && !lean) data = JSON.parse(readUtf8(this.buf, this.start + dataFrom, this.at)) as { [key: string]: JsonValue };
      this.bytes(PID);
      this.integer(e.pid);
      this.bytes(PREV);
      this.room(HEX_LENGTH);
      // (prev is at the start of the record: room() moves it along)
      this.buf.copyWithin(this.at, this.start, this.start + HEX_LENGTH);
      this.at += HEX_LENGTH;
      this.bytes(RUN_ID);
      this.string(e.runId);
      this.bytes(SEQ);
      this.integer(seq);
      this.bytes(TIME);
      if (Number.isSafeInteger(time)) this.integer(time);
      else this.ascii(Number.isFinite(time) ? "" + time : "null");
      this.bytes(TYPE);
      this.ascii(e.type);
      this.bytes(END);
    } catch (err) {
      this.at = this.start;
      throw err;
    }
    const buf = this.buf;
    const start = this.start;
    const end = this.at;
    const hash = sha256Hex(buf.subarray(start, end));
    writeLatin1(buf, hash, start + 1);
    // The byte before the record (what is left of `prev`) becomes a newline: records sealed one
    // after another lie in the arena as a segment is stored, and the backend stores them as they are.
    buf[start] = 10;
    this.lastHash = hash;
    this.lastHashAt = start + 1;
    this.arena = buf;
    this.recordFrom = start + 1;
    this.recordTo = end;
    if (lean) return { hash };
    return { agent: e.agent, data, pid: e.pid, prev, runId: e.runId, seq, time, type: e.type, hash };
  }

  /** The last sealed record (a view into the arena). */
  lastRecord(): Uint8Array {
    return this.arena.subarray(this.recordFrom, this.recordTo);
  }

  /**
   * Starts the arena over: the caller has copied out every record sealed so far (their views
   * would see the next records' bytes).
   */
  recycle(): void {
    if (this.buf.length > ARENA_BYTES) this.buf = allocBytes(ARENA_BYTES);
    this.at = 0;
    this.start = 0;
    this.lastHashAt = -1;
  }

  /** Makes room for `n` more bytes, moving the record being written to a new arena if needed. */
  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const written = this.at - this.start;
    const next = allocBytes(Math.max(ARENA_BYTES, 2 * (written + n)));
    next.set(this.buf.subarray(this.start, this.at));
    this.buf = next;
    this.lastHashAt = -1;
    this.start = 0;
    this.at = written;
  }

  /** Text known to be ASCII and to need no escaping. */
  private ascii(text: string): void {
    const n = text.length;
    this.room(n);
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < n; i++) buf[at++] = text.charCodeAt(i);
    this.at = at;
  }

  private bytes(b: Uint8Array): void {
    this.room(b.length);
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < b.length; i++) buf[at++] = b[i];
    this.at = at;
  }

  /** A safe integer, in decimal, as `"" + n` writes it. */
  private integer(n: number): void {
    this.room(17);
    const buf = this.buf;
    let at = this.at;
    if (n < 0) {
      buf[at++] = 45; // -
      n = -n;
    }
    if (n < 10) {
      buf[at++] = 48 + n;
      this.at = at;
      return;
    }
    // Digits from the right, the low eight and the rest in int32 arithmetic.
    let digits = 1;
    for (let p = 10; p <= n && digits < 16; p *= 10) digits++;
    let i = at + digits;
    this.at = i;
    let high = Math.floor(n / 1e8);
    let low = n - high * 1e8;
    if (high > 0) {
      for (let k = 0; k < 8; k++) {
        const q = (low / 10) | 0;
        buf[--i] = 48 + low - q * 10;
        low = q;
      }
      low = high;
    }
    while (i > at) {
      const q = (low / 10) | 0;
      buf[--i] = 48 + low - q * 10;
      low = q;
    }
  }

  /** Text as UTF-8, as it is (already JSON). */
  private utf8(text: string): void {
    this.room(text.length * 3);
    this.at += writeUtf8(this.buf, text, this.at);
  }

  /** A JSON string: ASCII without escapes byte by byte, anything else as JSON.stringify writes it. */
  private string(text: string): void {
    const n = text.length;
    if (n > LONG_STRING) {
      // Checked by the regular expression and written by the UTF-8 encoder, both native, rather than char by char.
      if (NEEDS_ESCAPE.test(text)) this.utf8(JSON.stringify(text));
      else {
        this.room(3 * n + 2);
        const buf = this.buf;
        buf[this.at++] = 34;
        this.at += writeUtf8(buf, text, this.at);
        buf[this.at++] = 34;
      }
      return;
    }
    this.room(n + 2);
    const buf = this.buf;
    const from = this.at;
    let at = from;
    buf[at++] = 34;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x20 || c === 34 || c === 92 || c >= 0x80) {
        this.at = from;
        this.utf8(NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : '"' + text + '"');
        return;
      }
      buf[at++] = c;
    }
    buf[at++] = 34;
    this.at = at;
  }

  private byte(c: number): void {
    this.room(1);
    this.buf[this.at++] = c;
  }

  /** The canonical JSON of a value; the value itself as its encoded form unless `plain` turns false. */
  private data(value: unknown): JsonValue {
    const from = this.at - this.start;
    this.plain = true;
    try {
      this.write(value, 0);
    } catch (err) {
      if (err !== NOT_DATA) throw err;
      // Not data, or nested deeper than the writer walks: the Encoder names the place, or encodes it.
      this.at = this.start + from;
      const encoded = encodeValue(value);
      this.utf8(canonicalJson(encoded));
      this.plain = false;
      return encoded;
    }
    return value as JsonValue;
  }

  private write(v: unknown, depth: number): void {
    switch (typeof v) {
      case "string":
        this.string(v);
        return;
      case "number":
        if (Number.isSafeInteger(v)) this.integer(v);
        else if (Number.isFinite(v)) this.ascii("" + v);
        else {
          this.plain = false;
          this.ascii('{"$number":"' + v + '"}');
        }
        return;
      case "boolean":
        this.ascii(v ? "true" : "false");
        return;
      case "bigint":
        this.plain = false;
        this.ascii('{"$bigint":"' + v.toString() + '"}');
        return;
      case "object":
        if (v === null) this.ascii("null");
        else if (depth >= MAX_DEPTH) throw NOT_DATA;
        else if (Array.isArray(v)) this.array(v, depth);
        else if (v instanceof Uint8Array) {
          this.plain = false;
          this.ascii('{"$bytes":"' + toBase64(v) + '"}');
        } else this.object(v, depth);
        return;
      default:
        throw NOT_DATA;
    }
  }

  private array(v: unknown[], depth: number): void {
    this.byte(91); // [
    for (let i = 0; i < v.length; i++) {
      if (i > 0) this.byte(44); // ,
      const x = v[i];
      if (x === undefined) {
        this.plain = false;
        this.ascii("null");
      } else this.write(x, depth + 1);
    }
    this.byte(93); // ]
  }

  private object(v: object, depth: number): void {
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) throw NOT_DATA;
    const record = v as Record<string, unknown>;
    const shape = this.knownShape(record) ?? this.shapeOf(Object.keys(record));
    const keys = shape.sorted;
    const quoted = shape.quoted;
    const from = this.at - this.start;
    this.byte(123); // {
    let n = 0;
    let only = "";
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const x = record[k];
      if (x === undefined) {
        this.plain = false;
        continue;
      }
      if (n++ > 0) this.byte(44);
      else only = k;
      this.bytes(quoted[i]);
      this.write(x, depth + 1);
    }
    this.byte(125); // }
    if (shape.proto) this.plain = false;
    if (n === 1 && only.charCodeAt(0) === 36 /* $ */ && TAGS.has(only)) {
      // A plain object that looks like a tag is wrapped: {"$object":{...}}.
      this.plain = false;
      const inner = readUtf8(this.buf, this.start + from, this.at);
      this.at = this.start + from;
      this.ascii('{"$object":');
      this.utf8(inner);
      this.byte(125);
    }
  }

  /**
   * The remembered shape of an object whose keys (as `for...in` lists them, which allocates
   * nothing) are those of a shape seen before; undefined otherwise. `for...in` also lists
   * inherited enumerable keys: it is used only while Object.prototype has none (checked once per
   * event), so that it lists exactly what Object.keys would.
   */
  private knownShape(record: Record<string, unknown>): Shape | undefined {
    if (this.inherited) return undefined;
    let shape: Shape | undefined;
    let keys: string[] = EMPTY_SHAPE.keys;
    let i = 0;
    for (const k in record) {
      if (i === 0) {
        shape = this.shapes.get(k);
        if (shape === undefined) return undefined;
        keys = shape.keys;
      }
      if (i >= keys.length || keys[i] !== k) return undefined;
      i++;
    }
    if (i === 0) return EMPTY_SHAPE;
    return i === keys.length ? shape : undefined;
  }

  /**
   * The keys of an object in canonical order, with their quoted bytes: remembered by the first
   * key, for the objects of the same form that the kernel logs over and over (one key list per
   * first key; a different list under the same first key takes its place).
   */
  private shapeOf(keys: string[]): Shape {
    const n = keys.length;
    if (n === 0) return EMPTY_SHAPE;
    const first = keys[0];
    const known = this.shapes.get(first);
    if (known !== undefined && known.keys.length === n) {
      const seen = known.keys;
      let i = 1;
      while (i < n && seen[i] === keys[i]) i++;
      if (i === n) return known;
    }
    const sorted = keys.slice();
    sortKeys(sorted);
    const shape: Shape = { keys, sorted, quoted: sorted.map((k) => this.quotedKey(k)), proto: keys.includes("__proto__") };
    if (n <= MAX_SHAPE_KEYS && (known !== undefined || this.shapes.size < MAX_SHAPES)) this.shapes.set(first, shape);
    return shape;
  }

  private quotedKey(k: string): Uint8Array {
    let bytes = this.keys.get(k);
    if (bytes === undefined) {
      bytes = utf8Bytes((NEEDS_ESCAPE.test(k) ? JSON.stringify(k) : '"' + k + '"') + ":");
      if (this.keys.size < MAX_CACHED_KEYS) this.keys.set(k, bytes);
    }
    return bytes;
  }
}

function hasEnumerableKey(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

/** An object's keys as Object.keys gives them, in canonical order, and quoted with their colon. */
interface Shape {
  keys: string[];
  sorted: string[];
  quoted: Uint8Array[];
  /** Whether one is "__proto__" (its value is then not the object's own, for the encoded form). */
  proto: boolean;
}

const EMPTY_SHAPE: Shape = { keys: [], sorted: [], quoted: [], proto: false };
const MAX_SHAPES = 1024;
const MAX_SHAPE_KEYS = 64;

/** Sorts keys by UTF-16 code units, as Array.prototype.sort does: in place, by insertion for the usual handful. */
function sortKeys(keys: string[]): void {
  const n = keys.length;
  if (n > 12) {
    keys.sort();
    return;
  }
  for (let i = 1; i < n; i++) {
    const k = keys[i];
    let j = i - 1;
    while (j >= 0 && keys[j] > k) {
      keys[j + 1] = keys[j];
      j--;
    }
    keys[j + 1] = k;
  }
}

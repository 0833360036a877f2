/**
 * The log's hot path: an event sealed straight into bytes. The text the hash covers,
 * `prev + "\n" + body`, is written as UTF-8 into an arena, hashed there, and the hash's hex
 * digits then overwrite `prev` and the newline (65 bytes: the hash goes in after the first),
 * which leaves the stored record, `hash + body`, in place for LevelDB to copy. No string is made
 * for the text at all: ASCII is copied byte by byte, anything else goes through the same
 * `JSON.stringify` and UTF-8 conversion as the string encoder, so the bytes are the same (a
 * property test checks it against `canonicalJson(encodeValue(...))`).
 *
 * Records are views into an arena of ARENA_BYTES; a full arena is left to the batches that still
 * refer to it, and a new one started.
 */
import { LogError } from "../errors.js";
import type { LoggedEvent, NewEvent } from "../types.js";
import { canonicalJson, checkNewEvent, encodeValue, sha256Hex, type JsonValue } from "./encoding.js";

const ARENA_BYTES = 1 << 20;
const MAX_DEPTH = 64;
const MAX_CACHED_KEYS = 1024;
const TAGS = new Set(["$bigint", "$bytes", "$number", "$object"]);
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
const NOT_DATA = Symbol("not data");
const HEX_LENGTH = 64;

/** A sealed event: the event, and its stored record (hash + body) as UTF-8 bytes. */
export interface SealedRecord {
  event: LoggedEvent;
  record: Uint8Array;
}

/**
 * Seals events into records, one after another, reusing its arena and its cache of quoted keys.
 *
 * @example const w = new RecordWriter(); const { event, record } = w.seal(e, 1, Date.now(), GENESIS);
 */
export class RecordWriter {
  private buf = Buffer.allocUnsafe(ARENA_BYTES);
  private at = 0;
  /** Where the record being written starts in `buf`. */
  private start = 0;
  private readonly keys = new Map<string, Uint8Array>();
  private plain = true;

  /**
   * Gives an event its place in the chain (see sealEvent in encoding.ts: the same hash). `prev`
   * must be 64 lower-case hex digits (every hash the log makes is).
   * @throws LogError when the event is malformed or its data cannot be encoded (nothing is kept).
   */
  seal(e: NewEvent, seq: number, time: number, prev: string): SealedRecord {
    checkNewEvent(e);
    if (prev.length !== HEX_LENGTH) throw new LogError(`the previous hash ${JSON.stringify(prev)} is not 64 hex digits`);
    this.start = this.at;
    let data: { [key: string]: JsonValue };
    try {
      this.ascii(prev);
      this.ascii('\n{"agent":');
      this.string(e.agent);
      this.ascii(',"data":');
      // Positions are kept relative to the record: room() may move it to a new arena.
      const dataFrom = this.at - this.start;
      data = this.data(e.data) as { [key: string]: JsonValue };
      if (!this.plain) data = JSON.parse(this.buf.toString("utf8", this.start + dataFrom, this.at)) as { [key: string]: JsonValue };
      this.ascii(',"pid":');
      this.ascii("" + e.pid);
      this.ascii(',"prev":"');
      this.ascii(prev);
      this.ascii('","runId":');
      this.string(e.runId);
      this.ascii(',"seq":');
      this.ascii("" + seq);
      this.ascii(',"time":');
      this.ascii(Number.isFinite(time) ? "" + time : "null");
      this.ascii(',"type":"');
      this.ascii(e.type);
      this.ascii('"}');
    } catch (err) {
      this.at = this.start;
      throw err;
    }
    const buf = this.buf;
    const start = this.start;
    const end = this.at;
    const hash = sha256Hex(buf.subarray(start, end));
    buf.write(hash, start + 1, "latin1");
    const event: LoggedEvent = { agent: e.agent, data, pid: e.pid, prev, runId: e.runId, seq, time, type: e.type, hash };
    return { event, record: buf.subarray(start + 1, end) };
  }

  /** Makes room for `n` more bytes, moving the record being written to a new arena if needed. */
  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const written = this.at - this.start;
    const next = Buffer.allocUnsafe(Math.max(ARENA_BYTES, 2 * (written + n)));
    this.buf.copy(next, 0, this.start, this.at);
    this.buf = next;
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

  /** Text as UTF-8, as it is (already JSON). */
  private utf8(text: string): void {
    this.room(text.length * 3);
    this.at += this.buf.write(text, this.at, "utf8");
  }

  /** A JSON string: ASCII without escapes byte by byte, anything else as JSON.stringify writes it. */
  private string(text: string): void {
    const n = text.length;
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

  private key(k: string): void {
    let bytes = this.keys.get(k);
    if (bytes === undefined) {
      bytes = Buffer.from((NEEDS_ESCAPE.test(k) ? JSON.stringify(k) : '"' + k + '"') + ":", "utf8");
      if (this.keys.size < MAX_CACHED_KEYS) this.keys.set(k, bytes);
    }
    const n = bytes.length;
    this.room(n);
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < n; i++) buf[at++] = bytes[i];
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
        if (Number.isFinite(v)) this.ascii("" + v);
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
          this.ascii('{"$bytes":"' + Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") + '"}');
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
    const keys = Object.keys(record);
    sortKeys(keys);
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
      if (k === "__proto__") this.plain = false;
      if (n++ > 0) this.byte(44);
      else only = k;
      this.key(k);
      this.write(x, depth + 1);
    }
    this.byte(125); // }
    if (n === 1 && only.charCodeAt(0) === 36 /* $ */ && TAGS.has(only)) {
      // A plain object that looks like a tag is wrapped: {"$object":{...}}.
      this.plain = false;
      const inner = this.buf.toString("utf8", this.start + from, this.at);
      this.at = this.start + from;
      this.ascii('{"$object":');
      this.utf8(inner);
      this.byte(125);
    }
  }
}

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

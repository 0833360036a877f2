/**
 * The canonical encoding of events and the hash chain over it.
 *
 * One encoding serves three purposes: it is what the log stores, what the hash covers, and what
 * `agent-os log --json` prints. It is JSON with object keys sorted (by UTF-16 code unit, as
 * `Array.prototype.sort` orders them) and no whitespace; values JSON cannot hold are tagged:
 * `{"$bigint":"123"}`, `{"$bytes":"<base64>"}`, `{"$number":"NaN"|"Infinity"|"-Infinity"}`.
 * A plain object that happens to look like a tag is wrapped as `{"$object":{...}}`, so every
 * value decodes back to exactly what was encoded.
 */
import { fromBase64, toBase64 } from "../portable/bytes.js";
import { sha256Hex } from "../portable/sha256.js";
export { sha256Hex };
import { LogError } from "../errors.js";
import type { LoggedEvent, NewEvent } from "../types.js";

/** The `prev` of the first event. */
export const GENESIS = "0".repeat(64);

/** A JSON value, as the log stores it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const TAGS = new Set(["$bigint", "$bytes", "$number", "$object"]);

/**
 * Turns a value holding bigints, bytes or non-finite numbers into plain JSON data.
 * `undefined` object properties are dropped (as JSON does); functions, symbols, cycles and
 * class instances other than `Uint8Array` are refused, since they could not be replayed.
 *
 * @example encodeValue({ n: 12n, b: new Uint8Array([1]) }) // { b: { $bytes: "AQ==" }, n: { $bigint: "12" } }
 * @throws LogError naming the path of a value that cannot be encoded.
 */
export function encodeValue(value: unknown): JsonValue {
  return new Encoder().encode(value);
}

/**
 * Encodes a value and gives its canonical JSON. The encoded value is the given one when nothing
 * in it needed encoding (see {@link CanonicalWriter}), and is then shared, not copied.
 *
 * @example encodeCanonical({ b: 1n, a: 2 }).json === '{"a":2,"b":{"$bigint":"1"}}'
 * @throws LogError as {@link encodeValue}.
 */
export function encodeCanonical(value: unknown): { value: JsonValue; json: string } {
  const writer = new CanonicalWriter();
  writer.begin();
  const encoded = writer.data(value);
  return { value: encoded, json: writer.finish() };
}

const NOT_DATA = Symbol("not data");
const MAX_DEPTH = 64;
const MAX_CACHED_KEYS = 1024;

/**
 * Writes canonical JSON (the log's hot path): one walk over a value that appends the pieces of
 * its text to one growing string (V8 keeps it as a rope until it is read, flat, by the hash),
 * without building the encoded value first. Object keys are quoted once and cached. A writer is
 * reused for every event of a log; it holds no text after `finish`.
 *
 * @example const w = new CanonicalWriter(); w.begin(); w.data({ b: 1, a: [2] }); w.finish() === '{"a":[2],"b":1}'
 */
export class CanonicalWriter {
  private text = "";
  private readonly keys = new Map<string, string>();
  /** Whether the text of the last `data` is JSON.stringify's view of the value itself (nothing tagged or dropped). */
  private plain = true;

  begin(): void {
    this.text = "";
  }

  /** Appends literal text (already JSON). */
  raw(text: string): void {
    this.text += text;
  }

  /** Appends a JSON string. */
  string(text: string): void {
    this.text += quote(text);
  }

  /**
   * Appends the canonical JSON of a value, and gives its encoded form: the value itself when
   * nothing in it needed encoding, else a copy with the tags (parsed back from the text).
   * @throws LogError naming the path of something that is not data.
   */
  data(value: unknown): JsonValue {
    const before = this.text;
    this.plain = true;
    try {
      this.write(value, 0);
    } catch (err) {
      if (err !== NOT_DATA) throw err;
      // Not data, or nested deeper than the writer walks: the Encoder names the place, or encodes it.
      const encoded = new Encoder().encode(value);
      this.text = before + canonicalJson(encoded);
      return encoded;
    }
    if (this.plain) return value as JsonValue;
    return JSON.parse(this.text.slice(before.length)) as JsonValue;
  }

  /** The text written since `begin`. */
  finish(): string {
    const text = this.text;
    this.text = "";
    return text;
  }

  private key(k: string): string {
    let q = this.keys.get(k);
    if (q === undefined) {
      q = quote(k) + ":";
      if (this.keys.size < MAX_CACHED_KEYS) this.keys.set(k, q);
    }
    return q;
  }

  private write(v: unknown, depth: number): void {
    switch (typeof v) {
      case "string":
        this.text += quote(v);
        return;
      case "number":
        if (Number.isFinite(v)) this.text += v;
        else {
          this.plain = false;
          this.text += '{"$number":"' + v + '"}';
        }
        return;
      case "boolean":
        this.text += v ? "true" : "false";
        return;
      case "bigint":
        this.plain = false;
        this.text += '{"$bigint":"' + v.toString() + '"}';
        return;
      case "object":
        if (v === null) this.text += "null";
        else if (depth >= MAX_DEPTH) throw NOT_DATA;
        else if (Array.isArray(v)) this.array(v, depth);
        else if (v instanceof Uint8Array) {
          this.plain = false;
          this.text += '{"$bytes":"' + toBase64(v) + '"}';
        } else this.object(v, depth);
        return;
      default:
        throw NOT_DATA;
    }
  }

  private array(v: unknown[], depth: number): void {
    this.text += "[";
    for (let i = 0; i < v.length; i++) {
      if (i > 0) this.text += ",";
      const x = v[i];
      if (x === undefined) {
        this.plain = false;
        this.text += "null";
      } else this.write(x, depth + 1);
    }
    this.text += "]";
  }

  private object(v: object, depth: number): void {
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) throw NOT_DATA;
    const record = v as Record<string, unknown>;
    const keys = Object.keys(record);
    sortKeys(keys);
    const before = this.text;
    this.text += "{";
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
      if (n++ > 0) this.text += "," + this.key(k);
      else {
        only = k;
        this.text += this.key(k);
      }
      this.write(x, depth + 1);
    }
    this.text += "}";
    if (n === 1 && only.charCodeAt(0) === 36 /* $ */ && TAGS.has(only)) {
      this.plain = false;
      this.text = before + '{"$object":' + this.text.slice(before.length) + "}";
    }
  }
}

/** One walk over a value, building its encoded form with sorted keys (and naming what cannot be encoded). */
class Encoder {
  private readonly path: Array<string | number> = ["value"];
  private readonly seen = new Set<object>();

  encode(value: unknown): JsonValue {
    switch (typeof value) {
      case "string":
      case "boolean":
        return value;
      case "number":
        return Number.isFinite(value) ? value : { $number: String(value) };
      case "bigint":
        return { $bigint: value.toString() };
      case "object":
        if (value === null) return null;
        if (value instanceof Uint8Array) {
          return { $bytes: toBase64(value) };
        }
        return this.container(value);
      default:
        throw this.error(`a ${typeof value} is not data`);
    }
  }

  private container(value: object): JsonValue {
    if (this.seen.has(value)) throw this.error("it refers to itself");
    this.seen.add(value);
    let out: JsonValue;
    if (Array.isArray(value)) {
      const arr: JsonValue[] = new Array(value.length);
      for (let i = 0; i < value.length; i++) {
        this.path.push(i);
        arr[i] = value[i] === undefined ? null : this.encode(value[i]);
        this.path.pop();
      }
      out = arr;
    } else {
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        throw this.error(`a ${value.constructor?.name ?? "class"} instance is not plain data`);
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record);
      if (keys.length > 1) keys.sort();
      const obj: { [key: string]: JsonValue } = {};
      let n = 0;
      for (const k of keys) {
        const v = record[k];
        if (v === undefined) continue;
        this.path.push(k);
        setOwn(obj, k, this.encode(v));
        this.path.pop();
        n++;
      }
      out = n === 1 && TAGS.has(Object.keys(obj)[0]) ? { $object: obj } : obj;
    }
    this.seen.delete(value);
    return out;
  }

  private error(why: string): LogError {
    const where = this.path.map((p, i) => (typeof p === "number" ? `[${p}]` : i ? `.${p}` : p)).join("");
    return new LogError(`cannot log ${where}: ${why}`);
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

const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON text of a string: JSON.stringify only when the string needs escaping. */
function quote(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

/**
 * The inverse of {@link encodeValue}: restores bigints, `Uint8Array`s and non-finite numbers.
 *
 * @example decodeValue({ n: { $bigint: "12" } }) // { n: 12n }
 */
export function decodeValue(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(decodeValue);
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 1) {
    const v = obj[keys[0]];
    if (keys[0] === "$bigint" && typeof v === "string") return BigInt(v);
    if (keys[0] === "$bytes" && typeof v === "string") return fromBase64(v);
    if (keys[0] === "$number" && typeof v === "string") return Number(v);
    if (keys[0] === "$object" && v !== null && typeof v === "object") return decodeEntries(v as Record<string, unknown>);
  }
  return decodeEntries(obj);
}

function decodeEntries(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) setOwn(out, k, decodeValue(v));
  return out;
}

/** Sets a property, as an own data property even for "__proto__" (as JSON.parse does). */
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  if (key === "__proto__") Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/**
 * The canonical JSON text of an encoded value (see {@link encodeValue}): sorted keys, no spaces.
 *
 * @example canonicalJson({ b: 1, a: [true, "x"] }) === '{"a":[true,"x"],"b":1}'
 */
export function canonicalJson(value: JsonValue): string {
  if (typeof value === "string") return quote(value);
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) {
    let s = "[";
    for (let i = 0; i < value.length; i++) s += (i ? "," : "") + canonicalJson(value[i]);
    return s + "]";
  }
  const keys = Object.keys(value).sort();
  let s = "{";
  for (let i = 0; i < keys.length; i++) s += (i ? "," : "") + quote(keys[i]) + ":" + canonicalJson(value[keys[i]]);
  return s + "}";
}

/** An event whose place in the chain is fixed, with the exact text its hash covers. */
export interface SealedEvent {
  event: LoggedEvent;
  /** canonicalJson of the event without `hash`: the bytes the hash covers after `prev + "\n"`. */
  body: string;
}

/**
 * Gives an event its place in the chain: `hash = sha256(prev + "\n" + canonical(event without hash))`.
 * `writer` is reused across calls by the log (a fresh one by default).
 *
 * @example sealEvent({ type: "exit", runId: "r1", pid: 1, agent: "a", data: {} }, 1, 0, GENESIS).event.hash
 * @throws LogError when the event is malformed or its data cannot be encoded.
 */
export function sealEvent(e: NewEvent, seq: number, time: number, prev: string, writer: CanonicalWriter = new CanonicalWriter()): SealedEvent {
  const { data, hashed } = chainText(e, seq, time, prev, writer);
  const hash = sha256Hex(hashed);
  const event: LoggedEvent = { agent: e.agent, data, pid: e.pid, prev, runId: e.runId, seq, time, type: e.type, hash };
  return { event, body: hashed.slice(prev.length + 1) };
}

/**
 * The text an event's hash covers, `prev + "\n" + body`, written in one piece (the body's keys
 * in sorted order: agent, data, pid, prev, runId, seq, time, type), and the encoded data.
 *
 * @example chainText(e, 1, 0, GENESIS, new CanonicalWriter()).hashed.startsWith(GENESIS + "\n{")
 * @throws LogError when the event is malformed or its data cannot be encoded.
 */
export function chainText(e: NewEvent, seq: number, time: number, prev: string, writer: CanonicalWriter): { data: { [key: string]: JsonValue }; hashed: string } {
  checkNewEvent(e);
  writer.begin();
  writer.raw(prev);
  writer.raw('\n{"agent":');
  writer.string(e.agent);
  writer.raw(',"data":');
  let data: { [key: string]: JsonValue };
  try {
    data = writer.data(e.data) as { [key: string]: JsonValue };
  } catch (err) {
    writer.begin();
    throw err;
  }
  writer.raw(',"pid":' + e.pid + ',"prev":"' + prev + '","runId":');
  writer.string(e.runId);
  writer.raw(',"seq":' + seq + ',"time":' + (Number.isFinite(time) ? "" + time : "null") + ',"type":"' + e.type + '"}');
  return { data, hashed: writer.finish() };
}

/**
 * The hash of one link of the chain.
 *
 * @example chainHash(GENESIS, '{"agent":"a",...}') // 64 hex digits
 */
export function chainHash(prev: string, body: string): string {
  return sha256Hex(prev + "\n" + body);
}

/**
 * The canonical body of a logged event, recomputed from the event itself (what an outside
 * verifier does with `agent-os log --json` output).
 *
 * @example chainHash(e.prev, eventBody(e)) === e.hash
 */
export function eventBody(e: LoggedEvent): string {
  const { hash: _hash, ...rest } = e;
  // A logged event's data is already encoded: encoding it again would wrap its tags.
  return canonicalJson(rest as unknown as JsonValue);
}

const EVENT_TYPES = new Set(["spawn", "call", "result", "signal", "vote", "approval-request", "approval", "checkpoint", "exit"]);

/**
 * Checks the parts of a new event the log relies on (its data is checked as it is encoded).
 *
 * @example checkNewEvent({ type: "exit", runId: "r1", pid: 1, agent: "a", data: {} })
 * @throws LogError naming the field that is wrong.
 */
export function checkNewEvent(e: NewEvent): void {
  if (e === null || typeof e !== "object") throw new LogError("an event must be an object");
  if (!EVENT_TYPES.has(e.type)) throw new LogError(`unknown event type ${JSON.stringify(e.type)}`);
  if (typeof e.runId !== "string") throw new LogError("an event's runId must be a string");
  if (typeof e.agent !== "string") throw new LogError("an event's agent must be a string");
  if (!Number.isSafeInteger(e.pid)) throw new LogError("an event's pid must be an integer");
  if (e.data === null || typeof e.data !== "object" || Array.isArray(e.data)) {
    throw new LogError("an event's data must be an object");
  }
}

/**
 * The log on a host's key-value storage (a Durable Object's storage, IndexedDB): a LogBackend
 * over the small asynchronous contract {@link KvStore}, on Web-standard APIs only.
 *
 * Keys (`<n>`: 16 digits, zero-padded, so that key order is sequence order):
 * - `s!<last><first>` -> a segment: the records (hash + canonical body, as the other backends
 *   store them) of events first to last, a newline between two, as UTF-8 bytes; at most
 *   SEGMENT_EVENTS records and about SEGMENT_BYTES (a larger record is a segment alone). Keyed
 *   by its last event, so that the segment holding event n is the first key at or after `s!<n>`;
 * - `b!<sha256 hex>!<seq>` -> a blob's bytes, stored with the batch whose last event is `seq`;
 * - `r!<sha256 hex of the run id>!<seq>` -> the run id: event `seq` is the first of the run that
 *   a handle wrote (one entry per handle that wrote the run); the run starts at the lowest;
 * - `h` -> JSON {seq, hash, time}: the head, rewritten with every batch that holds events;
 * - `p!<key>/<i>` (8 digits, from 1) -> part i of a value over the store's value limit; the
 *   value under `<key>` is then the text `parts:<n>`, written after (or with) its last part.
 *
 * A batch is one `put` (all or nothing) whenever its keys fit the store's limit (128 for a
 * Durable Object: 4096 small events make 32 segments). A batch that does not fit is written in
 * several puts, in order, each of them a consistent log: blobs first, then segments in sequence
 * order, each put ending with the head of its newest segment, and a run's entry before the
 * segment that begins it. A failure between two puts leaves the events of the puts before it in
 * the log, as a shorter batch would have (the log still rejects them, and refuses appends), and
 * a log opened on the store resumes after them; verify finds the chain whole.
 */
import { UsageError } from "../errors.js";
import type { Batch, BatchRecord, BlobPlace, HeadRecord, LogBackend, PreparedWrite, RangeOptions, RawRecord } from "../episodic/backend.js";
import { readUtf8, utf8Bytes } from "../portable/bytes.js";
import { sha256Hex } from "../portable/sha256.js";

/** A stored value: text or bytes (stored and given back as they were put). */
export type KvValue = string | Uint8Array;

/** The most a store takes: keys in one put, bytes in one value (as the host measures it). */
export interface KvLimits {
  keysPerPut: number;
  valueBytes: number;
}

/** Durable Object storage's limits: 128 keys a put, 128 KiB a value (the default). */
export const DURABLE_OBJECT_LIMITS: Readonly<KvLimits> = Object.freeze({ keysPerPut: 128, valueBytes: 128 * 1024 });

/** What the log needs from a host's key-value storage. Keys are compared as strings (all of the log's are ASCII). */
export interface KvStore {
  /** Whether a resolved put is on durable storage. */
  readonly durable: boolean;
  /** Where it is, for messages ("durable object", "indexeddb:<name>", "memory"). */
  readonly location: string;
  /** What one put may hold. Default: {@link DURABLE_OBJECT_LIMITS}. */
  readonly limits?: KvLimits;
  get(key: string): Promise<KvValue | undefined>;
  /** Writes all entries atomically (all or none). */
  put(entries: Array<[string, KvValue]>): Promise<void>;
  /** Keys in [start, end) in key order (or reversed), at most `limit`, with their values. */
  list(options: { start: string; end: string; reverse?: boolean; limit?: number }): Promise<Array<[string, KvValue]>>;
  close?(): Promise<void>;
}

/**
 * A log backend on a key-value store; the store stays the caller's until the log is closed
 * (which closes it).
 *
 * @example const log = await createChainLog(createKvBackend(durableObjectKvStore(ctx.storage)));
 * @throws UsageError when the store's limits leave no room for a batch.
 */
export function createKvBackend(store: KvStore): LogBackend {
  const limits = store.limits ?? DURABLE_OBJECT_LIMITS;
  if (!(limits.keysPerPut >= 2) || !(limits.valueBytes >= MIN_VALUE_BYTES)) {
    throw new UsageError(`a key-value store must take at least 2 keys a put and ${MIN_VALUE_BYTES} bytes a value, not ${limits.keysPerPut} and ${limits.valueBytes}`);
  }
  return new KvBackend(store, limits);
}

/** The most records one segment holds (a single event's read reads its whole segment). */
const SEGMENT_EVENTS = 128;
/** A segment is closed before a record would take it past this many bytes. */
const SEGMENT_BYTES = 120 * 1024;
/** Room left in each value for the host's encoding of it (V8 serialization adds a few bytes). */
const VALUE_SLACK = 1024;
const MIN_VALUE_BYTES = 4 * VALUE_SLACK;
/** Segments (or blobs) read by one list: a few MiB at most. */
const PAGE = 16;
const HEAD_KEY = "h";
const SEGMENTS = "s!";
const SEGMENTS_END = 's"';
const BLOBS = "b!";
const BLOBS_END = 'b"';
const MANIFEST = /^parts:([1-9][0-9]{0,7})$/;
const NEWLINE = 10;

const pad = (n: number): string => String(n).padStart(16, "0");

/** The first key a segment holding event `seq` (or a later one) can have. */
const segmentFrom = (seq: number): string => SEGMENTS + pad(Math.min(Math.max(seq, 0), Number.MAX_SAFE_INTEGER));
const segmentKey = (first: number, last: number): string => SEGMENTS + pad(last) + pad(first);
const blobKey = (hash: string, seq: number): string => BLOBS + hash + "!" + pad(seq);
/** The prefix of a run's entries; run ids are hashed, so that any id makes a short key that no other id's starts with. */
const runPrefix = (runId: string): string => "r!" + sha256Hex(runId) + "!";
const partKey = (key: string, i: number): string => "p!" + key + "/" + String(i).padStart(8, "0");

/** A 16-digit number at `at` in a key; -1 when those are not 16 digits. */
function digitsAt(key: string, at: number): number {
  const text = key.slice(at, at + 16);
  return /^[0-9]{16}$/.test(text) ? Number(text) : -1;
}

/** A key and value of one put. */
type Entry = [string, KvValue];

class KvBackend implements LogBackend {
  readonly durable: boolean;
  readonly marksRuns = false;
  readonly location: string;
  /** Runs whose entry this handle has stored. */
  private readonly runs = new Set<string>();

  constructor(
    private readonly store: KvStore,
    private readonly limits: KvLimits,
  ) {
    this.durable = store.durable;
    this.location = store.location;
  }

  prepare(batch: Batch): PreparedWrite {
    const plan = new PutPlan(this.limits);
    const { records, head } = batch;
    for (const b of batch.blobs) plan.value(blobKey(b.hash, head.seq), copyOf(b.bytes, 0, b.bytes.length));
    const newRuns = new Set<string>();
    const room = Math.min(SEGMENT_BYTES, this.limits.valueBytes - VALUE_SLACK);
    for (let i = 0; i < records.length; ) {
      const end = segmentEnd(records, i, room);
      for (let k = i; k < end; k++) {
        const r = records[k];
        if (this.runs.has(r.runId) || newRuns.has(r.runId)) continue;
        newRuns.add(r.runId);
        plan.entry(runPrefix(r.runId) + pad(r.seq), r.runId);
      }
      const last = records[end - 1];
      plan.value(segmentKey(records[i].seq, last.seq), segmentBytes(records, i, end), { seq: last.seq, hash: last.hash, time: last.time });
      i = end;
    }
    const puts = plan.finish(records.length > 0 ? { ...head } : undefined);
    return {
      commit: async () => {
        for (const put of puts) await this.store.put(put);
        for (const runId of newRuns) this.runs.add(runId);
      },
      discard: () => undefined,
    };
  }

  /**
   * The head record; a damaged one comes back with the newest event's sequence number and an
   * empty hash (see LogBackend.readHead), so that verify reports it.
   */
  async readHead(): Promise<HeadRecord | undefined> {
    const value = await this.store.get(HEAD_KEY);
    if (value === undefined) return undefined;
    try {
      const head = JSON.parse(textOf(value)) as Partial<HeadRecord> | null;
      if (head !== null && typeof head === "object" && Number.isSafeInteger(head.seq) && typeof head.hash === "string" && typeof head.time === "number") {
        return { seq: head.seq!, hash: head.hash, time: head.time };
      }
    } catch {
      // (damaged: below)
    }
    const last = await this.last();
    return { seq: Math.max(0, last?.[0] ?? 0), hash: "", time: 0 };
  }

  async last(): Promise<RawRecord | undefined> {
    for await (const chunk of this.range({ from: 0, to: Number.MAX_SAFE_INTEGER, reverse: true }, 1)) if (chunk.length > 0) return chunk[0];
    return undefined;
  }

  async get(seq: number): Promise<string | undefined> {
    if (!Number.isSafeInteger(seq) || seq < 1) return undefined;
    const found = await this.store.list({ start: segmentFrom(seq), end: SEGMENTS_END, limit: 1 });
    if (found.length === 0) return undefined;
    const records: RawRecord[] = [];
    await this.split(records, found[0], seq, seq, false);
    return records.find((r) => r[0] === seq)?.[1];
  }

  /**
   * Events in [from, to], in sequence order or reversed, out of their segments. A segment gives
   * its records the numbers its key names, first on (so one holding more or fewer records shows
   * as events out of place or missing); a key of the segment range that is not a segment's gives
   * one record with seq -1 (verify reports a gap).
   */
  async *range(options: RangeOptions, page = PAGE): AsyncIterable<RawRecord[]> {
    const { from, to, reverse } = options;
    if (from > to) return;
    let start = segmentFrom(from);
    let end = SEGMENTS_END;
    if (reverse) {
      // (from the segment holding `to`: the keys after it hold later events only)
      const holding = await this.store.list({ start: segmentFrom(to), end, limit: 1 });
      if (holding.length > 0) end = holding[0][0] + "\u0000";
    }
    for (;;) {
      const entries = await this.store.list({ start, end, reverse, limit: page });
      const chunk: RawRecord[] = [];
      let past = false;
      for (const entry of entries) {
        const first = digitsAt(entry[0], 18);
        if (!reverse && first > to && entry[0].length === 34) {
          past = true;
          break;
        }
        await this.split(chunk, entry, from, to, reverse);
      }
      if (chunk.length > 0) yield chunk;
      if (past || entries.length < page) return;
      const lastKey = entries[entries.length - 1][0];
      if (reverse) end = lastKey;
      else start = lastKey + "\u0000";
    }
  }

  /** Appends the records of a stored segment that fall in [from, to] to `chunk`, in order or reversed. */
  private async split(chunk: RawRecord[], [key, value]: Entry, from: number, to: number, reverse: boolean): Promise<void> {
    const bytes = await this.resolve(key, value);
    const text = readUtf8(bytes, 0, bytes.length);
    const first = digitsAt(key, 18);
    if (key.length !== 34 || first < 0 || digitsAt(key, 2) < 0) return void chunk.push([-1, text]);
    const records = text.split("\n");
    for (let n = 0; n < records.length; n++) {
      const k = reverse ? records.length - 1 - n : n;
      const seq = first + k;
      if (seq >= from && seq <= to) chunk.push([seq, records[k]]);
    }
  }

  /** A stored value's bytes: the value itself, or its parts put together when it is a list of parts. */
  private async resolve(key: string, value: KvValue): Promise<Uint8Array> {
    if (typeof value !== "string") return value;
    const manifest = MANIFEST.exec(value);
    if (manifest === null) return utf8Bytes(value); // (not what the log stores: verify reports it)
    const n = Number(manifest[1]);
    const parts = await this.store.list({ start: partKey(key, 1), end: "p!" + key + "0" });
    const chosen = parts.filter(([k]) => Number(k.slice(k.length - 8)) <= n).map(([k, v]) => (typeof v === "string" ? utf8Bytes(v) : v));
    return concat(chosen);
  }

  async runStart(runId: string): Promise<number | undefined> {
    const prefix = runPrefix(runId);
    const found = await this.store.list({ start: prefix, end: prefix.slice(0, -1) + '"', limit: 1 });
    if (found.length === 0) return undefined;
    const seq = digitsAt(found[0][0], prefix.length);
    return seq >= 0 ? seq : undefined;
  }

  async getBlob(hash: string): Promise<Uint8Array | undefined> {
    const found = await this.store.list({ start: BLOBS + hash + "!", end: BLOBS + hash + '"', limit: 1 });
    return found.length === 0 ? undefined : this.resolve(found[0][0], found[0][1]);
  }

  async blobsAside(): Promise<BlobPlace[]> {
    const places: BlobPlace[] = [];
    let start = BLOBS;
    for (;;) {
      const entries = await this.store.list({ start, end: BLOBS_END, limit: PAGE });
      for (const [key] of entries) places.push({ hash: key.slice(2, 66), seq: digitsAt(key, 67) });
      if (entries.length < PAGE) return places;
      start = entries[entries.length - 1][0] + "\u0000";
    }
  }

  async readBlobs(places: BlobPlace[]): Promise<Array<Uint8Array | undefined>> {
    const out: Array<Uint8Array | undefined> = [];
    for (const { hash, seq } of places) {
      const key = blobKey(hash, seq);
      const value = seq < 0 ? undefined : await this.store.get(key);
      out.push(value === undefined ? undefined : await this.resolve(key, value));
    }
    return out;
  }

  async close(): Promise<void> {
    await this.store.close?.();
  }
}

/**
 * The puts of one batch, in order. Entries are packed into puts of at most `keysPerPut` keys,
 * one kept for the head; a value over the limit is stored in parts, its key (the list of its
 * parts) after them, so that it shows whole or not at all.
 */
class PutPlan {
  private readonly puts: Entry[][] = [];
  private current: Entry[] = [];
  /** The head after the newest segment of the current put. */
  private head: HeadRecord | undefined;

  constructor(private readonly limits: KvLimits) {}

  /** A value (bytes that are the store's alone: a copy), `head` being the head after it when it is a segment. */
  value(key: string, bytes: Uint8Array, head?: HeadRecord): void {
    const room = this.limits.valueBytes - VALUE_SLACK;
    if (bytes.length <= room) return this.entry(key, bytes, head);
    const n = Math.ceil(bytes.length / room);
    for (let i = 0; i < n; i++) this.entry(partKey(key, i + 1), copyOf(bytes, i * room, Math.min(bytes.length, (i + 1) * room)));
    this.entry(key, `parts:${n}`, head);
  }

  entry(key: string, value: KvValue, head?: HeadRecord): void {
    if (this.current.length >= this.limits.keysPerPut - 1) this.close(this.head);
    this.current.push([key, value]);
    if (head) this.head = head;
  }

  /** The puts, the last one with `head` (the batch's, when it holds events). */
  finish(head: HeadRecord | undefined): Entry[][] {
    if (this.current.length > 0 || head) this.close(head);
    return this.puts;
  }

  private close(head: HeadRecord | undefined): void {
    if (head) this.current.push([HEAD_KEY, JSON.stringify({ seq: head.seq, hash: head.hash, time: head.time })]);
    this.puts.push(this.current);
    this.current = [];
    this.head = undefined;
  }
}

/** Where the segment starting with records[from] ends (exclusive): at most SEGMENT_EVENTS records and `room` bytes. */
function segmentEnd(records: BatchRecord[], from: number, room: number): number {
  let bytes = records[from].to - records[from].from;
  let end = from + 1;
  while (end < records.length && end - from < SEGMENT_EVENTS) {
    const r = records[end];
    bytes += r.to - r.from + 1;
    if (bytes > room) break;
    end++;
  }
  return end;
}

/**
 * The segment of records[from, end), copied (the log reuses its arena once the batch is
 * prepared): in one copy when the records lie one after another with a newline between, as
 * the record writer leaves them.
 */
function segmentBytes(records: BatchRecord[], from: number, end: number): Uint8Array {
  const first = records[from];
  let joined = true;
  for (let i = from + 1; i < end && joined; i++) {
    const r = records[i];
    joined = r.bytes === first.bytes && r.from === records[i - 1].to + 1 && r.bytes[r.from - 1] === NEWLINE;
  }
  if (joined) return copyOf(first.bytes, first.from, records[end - 1].to);
  const parts: Uint8Array[] = [];
  for (let i = from; i < end; i++) {
    if (i > from) parts.push(Uint8Array.of(NEWLINE));
    parts.push(records[i].bytes.subarray(records[i].from, records[i].to));
  }
  return concat(parts);
}

/**
 * Bytes from..to in an array of their own: a store serializes a view's whole buffer (and the
 * record writer's arena is a Node Buffer on Node, whose `slice` does not copy).
 */
function copyOf(bytes: Uint8Array, from: number, to: number): Uint8Array {
  return new Uint8Array(bytes.subarray(from, to));
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function textOf(value: KvValue): string {
  return typeof value === "string" ? value : readUtf8(value, 0, value.length);
}

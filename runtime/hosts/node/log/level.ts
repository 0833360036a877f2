/**
 * The LevelDB backend (classic-level through `level`).
 *
 * Everything an append writes goes into one keyspace, in sequence order, so that LevelDB
 * writes the log the way it writes any append-only sequence: each table it flushes holds a
 * range of keys apart from every other table's, and is moved down the levels as it is instead
 * of being merged and rewritten. A key anywhere else, written along with the events (the head
 * key every batch rewrote, a run index keyed by run id, as logs written before had), lies in
 * every table whose memtable it was in, makes the tables' ranges overlap, and has LevelDB
 * rewrite all the data at least once more. Measured on 100,000 events of 16 runs: the layout
 * before had LevelDB merge 9 tables into 11.8 MB of new ones (its LOG file says so) and spend
 * 2-3 µs of its compaction thread per event; this one moves every table as it is, at about
 * 1 µs per event (the thread's CPU time, from /proc).
 *
 * Keys of that keyspace (`<n>`: 16 digits), in sequence order:
 * - `e!<first><last>` -> a segment: the records (hash + canonical body) of events first to
 *   last, a newline between two, at most SEGMENT_EVENTS of them. A batch is stored as one
 *   segment or a few: one LevelDB entry, not one per event, is what makes a durable append
 *   cost less than a raw `level` put of the same event (the record writer leaves a batch's
 *   records in its arena exactly so, and the segment is stored from there without a copy);
 * - `e!<seq>h` -> JSON {seq, hash, time}: the head after the batch whose last event is `seq`,
 *   written with it (the newest one detects a cut tail);
 * - `e!<seq>r` -> run id: event `seq` is the first of its run in this log;
 * - `e!<seq>~<sha256 hex>` -> bytes: a blob (content-addressed), written with the batch whose
 *   last event is `seq` (or after event `seq`, alone): after every other key of that batch;
 * - `e!<seq>` -> one record: logs written before segments; read as a segment of one.
 *
 * A query by run finds the run's first event, and a blob is found by its hash, through the
 * index: a file beside the database (`index`, JSON lines `[seq, runId]`, `["blob", hash, seq]`
 * and `[seq]` for "complete up to seq"), loaded at open into memory. It is derived from the
 * keys: written after the batch that holds them (not synced: the keys are), and brought up to
 * date at open from the keys past what it holds, so that a lost or damaged line costs a scan
 * of keys, not a run or a blob.
 *
 * Outside that keyspace, only in logs written before: `m!head`, the run index
 * `r!<runId>!<seq>` and blobs `b!<hash>`; read when present (the first batch written to such
 * a log deletes `m!head`).
 */
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { Level } from "level";
import { LogError } from "../../../errors.js";
import type { Batch, BatchRecord, BlobPlace, HeadRecord, LogBackend, PreparedWrite, RangeOptions, RawRecord } from "../../../episodic/backend.js";

type Db = Level<string, string>;

const CHUNK = 1000;
/** How many bytes one read of a chunk may gather (events are mostly under 1 KiB). */
const CHUNK_BYTES = 1 << 20;
const LEGACY_HEAD_KEY = "m!head";
/** The prefix of a blob's key in logs written before segments (`b!<hash>`), and the end of that range. */
const LEGACY_BLOB = "b!";
const LEGACY_BLOB_END = 'b"';
const VIEW = { valueEncoding: "view" } as const;
/** Every key of the event keyspace (events and markers) sorts in [FIRST_KEY, END_KEY). */
const FIRST_KEY = "e!";
const END_KEY = 'e"';
/** How many keys, newest first, `readHead` looks through for a marker (a batch holds at most 4096 events). */
const HEAD_SCAN = 8192;
const HEAD_MARK = 104; // h
const RUN_MARK = 114; // r
/** The index file (runs and blobs), in the log's directory (LevelDB leaves files it does not name alone). */
export const INDEX_FILE = "index";

/**
 * The prefix of every key about event `seq`, zero-padded so that key order is sequence order
 * (and the key of the event itself in logs written before segments).
 */
export function eventKey(seq: number): string {
  return "e!" + String(seq).padStart(16, "0");
}

/**
 * The key of a segment: the records of events `first` to `last` (at most SEGMENT_EVENTS),
 * stored as one value, one record after another with a newline between (a canonical body
 * holds no raw newline). It sorts right before the markers of `first`, after every key of the
 * events before it.
 */
export function segmentKey(first: number, last: number): string {
  return eventKey(first) + String(last).padStart(16, "0");
}

/** The most events one segment holds; a range read starts this many events early to find the segment holding its first. */
export const SEGMENT_EVENTS = 64;
/** A segment is closed before a record would take it past this many bytes (a larger record is a segment alone). */
const SEGMENT_BYTES = 64 * 1024;

/** The 16-digit number at `at` in a key; -1 when those are not 16 digits. */
function digitsAt(key: string, at: number): number {
  let n = 0;
  for (let i = at; i < at + 16; i++) {
    const d = key.charCodeAt(i) - 48;
    if (!(d >= 0 && d <= 9)) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** The sequence number of an event key (a single event, as logs written before segments hold them); -1 for a key that is not one. */
function seqOfKey(key: string): number {
  return key.length === 18 ? digitsAt(key, 2) : -1;
}

/** The last sequence number a key of the event keyspace holds (an event's or a segment's); -1 for any other key. */
function lastOfKey(key: string): number {
  return key.length === 34 && digitsAt(key, 2) >= 0 ? digitsAt(key, 18) : seqOfKey(key);
}

/** The key of the head marker written with the batch whose last event is `seq`: right after that event's key. */
export function headKey(seq: number): string {
  return eventKey(seq) + "h";
}

/** The key of the marker saying that event `seq` is the first of its run. */
export function runMarkKey(seq: number): string {
  return eventKey(seq) + "r";
}

/** The key of a blob stored with the batch whose last event is `seq` (or, alone, after it): after every other key of that event. */
export function blobKey(seq: number, hash: string): string {
  return eventKey(seq) + "~" + hash;
}

/** Whether a key of the event keyspace is a blob's. */
function isBlobKey(key: string): boolean {
  return key.length === 83 && key.charCodeAt(18) === 126 /* ~ */;
}

/** The marker kind of a key of the event keyspace (HEAD_MARK or RUN_MARK), or 0 for any other key. */
function markOf(key: string): number {
  if (key.length !== 19) return 0;
  const mark = key.charCodeAt(18);
  return (mark === HEAD_MARK || mark === RUN_MARK) && seqOfKey(key.slice(0, 18)) >= 0 ? mark : 0;
}

/**
 * Opens (creating if needed) a LevelDB log directory.
 *
 * @example const backend = await openLevelBackend("/tmp/log");
 * @throws LogError "the log at DIR is in use by another process" when another handle holds it.
 */
export async function openLevelBackend(dir: string): Promise<LogBackend> {
  const db: Db = new Level<string, string>(dir, { keyEncoding: "utf8", valueEncoding: "utf8" });
  try {
    await mkdir(dir, { recursive: true });
    await db.open();
  } catch (err) {
    throw openError(dir, err);
  }
  try {
    const legacyHead = (await db.get(LEGACY_HEAD_KEY)) !== undefined;
    let legacyRuns = false;
    for await (const _ of db.keys({ gt: "r!", lt: 'r"', limit: 1 })) legacyRuns = true;
    const index = await LogIndex.open(db, path.join(dir, INDEX_FILE));
    return new LevelBackend(db, dir, index, legacyHead, legacyRuns);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw openError(dir, err);
  }
}

/**
 * The index: run id -> sequence number of the run's first event, and blob hash -> the
 * sequence number its key is under; in memory, kept in a file of JSON lines. Loaded at open,
 * then completed from the keys past what the file holds. The runs it reads are checked
 * against their markers at once (the log writes a run's marker only for a run it does not
 * know: a wrong entry would leave a run unmarked), and any that does not match has the whole
 * file rebuilt from the keys. A blob in the wrong place is found by a rescan when it is asked
 * for. A failed write to the file stops writing to it (the keys stay the truth; the next open
 * catches up from the last line that was written).
 */
class LogIndex {
  readonly runs = new Map<string, number>();
  readonly blobs = new Map<string, number>();
  /** Events written since the file was last said complete. */
  private sinceMark = 0;

  private constructor(
    private fd: number,
    /** The highest sequence number the file is complete up to, as far as this handle knows. */
    private complete: number,
  ) {}

  static async open(db: Db, file: string): Promise<LogIndex> {
    const runs = new Map<string, number>();
    const blobs = new Map<string, number>();
    let complete = 0;
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    for (const line of text.split("\n")) {
      const entry = parseLine(line);
      if (entry === undefined) continue; // (a line cut by a crash, or damaged: the keys make up for it)
      if (entry.seq > complete) complete = entry.seq;
      if (entry.runId !== undefined) noteRun(runs, entry.runId, entry.seq);
      if (entry.blob !== undefined) blobs.set(entry.blob, entry.seq);
    }
    const sound = await marksMatch(db, runs);
    // A file that names a run where its marker is not is rebuilt from every key, from scratch.
    const index = new LogIndex(openSync(file, sound ? "a" : "w"), sound ? complete : 0);
    if (sound) {
      for (const [runId, seq] of runs) index.runs.set(runId, seq);
      for (const [hash, seq] of blobs) index.blobs.set(hash, seq);
    }
    await index.scan(db, index.complete);
    return index;
  }

  /**
   * Notes the runs and blobs whose keys lie past event `after` (keys only, then the few run
   * markers' values) and, with `write`, writes them to the file, with the last event as
   * "complete up to".
   */
  async scan(db: Db, after: number, write = true): Promise<void> {
    const markers: string[] = [];
    const found: IndexLine[] = [];
    let last = after;
    for await (const key of db.keys({ gt: eventKey(after) + "~", lt: END_KEY })) {
      if (markOf(key) === RUN_MARK) markers.push(key);
      else if (isBlobKey(key)) {
        const seq = digitsAt(key, 2);
        this.blobs.set(key.slice(19), seq);
        found.push(["blob", key.slice(19), seq]);
      } else last = Math.max(last, lastOfKey(key));
    }
    const values = markers.length > 0 ? await db.getMany(markers) : [];
    for (let i = 0; i < markers.length; i++) {
      const runId = values[i];
      if (runId === undefined) continue;
      const seq = seqOfKey(markers[i].slice(0, 18));
      noteRun(this.runs, runId, seq);
      found.push([seq, runId]);
    }
    if (write) this.write(found, last);
  }

  /**
   * Writes the runs first seen and the blobs stored in a batch, once the batch (up to `seq`,
   * `events` events) is durable; every INDEX_MARK_EVENTS events, a line saying the file is
   * complete up to `seq` too, so that the scan at the next open after a crash stays short.
   */
  committed(found: IndexLine[] | undefined, seq: number, events: number): void {
    this.sinceMark += events;
    if (found === undefined && this.sinceMark < INDEX_MARK_EVENTS) return;
    this.write(found ?? [], this.sinceMark >= INDEX_MARK_EVENTS ? seq : 0);
  }

  private write(found: IndexLine[], upTo: number): void {
    if (this.fd < 0) return;
    let lines = "";
    for (const entry of found) lines += JSON.stringify(entry) + "\n";
    if (upTo > this.complete) lines += JSON.stringify([upTo]) + "\n";
    if (lines.length === 0) return;
    try {
      writeSync(this.fd, lines);
      if (upTo > this.complete) {
        this.complete = upTo;
        this.sinceMark = 0;
      }
    } catch {
      this.stop();
    }
  }

  /** Records that the file is complete up to the head, and closes it. */
  close(head: number): void {
    this.write([], head);
    this.stop();
  }

  private stop(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      closeSync(fd);
    } catch {
      // (nothing to lose: the keys are the truth)
    }
  }
}

/** A line of the index file: a run's first event, a blob's place, or (alone) "complete up to". */
type IndexLine = [seq: number, runId: string] | ["blob", hash: string, seq: number];

/** Whether every run's start is where its marker is (one batched read of the markers). */
async function marksMatch(db: Db, runs: Map<string, number>): Promise<boolean> {
  const entries = [...runs];
  for (let i = 0; i < entries.length; i += CHUNK) {
    const part = entries.slice(i, i + CHUNK);
    const values = await db.getMany(part.map(([, seq]) => runMarkKey(seq)));
    for (let k = 0; k < part.length; k++) if (values[k] !== part[k][0]) return false;
  }
  return true;
}

/** How many events between two "complete up to" lines of the run index. */
const INDEX_MARK_EVENTS = 65_536;

function noteRun(runs: Map<string, number>, runId: string, seq: number): void {
  const known = runs.get(runId);
  if (known === undefined || seq < known) runs.set(runId, seq);
}

/** Where the segment starting with records[from] ends (exclusive): at most SEGMENT_EVENTS records and SEGMENT_BYTES bytes. */
function segmentEnd(records: BatchRecord[], from: number): number {
  let bytes = records[from].to - records[from].from;
  let end = from + 1;
  while (end < records.length && end - from < SEGMENT_EVENTS) {
    const r = records[end];
    bytes += r.to - r.from + 1;
    if (bytes > SEGMENT_BYTES) break;
    end++;
  }
  return end;
}

/**
 * The stored value of the segment of records[from, end): a view of the arena when the records
 * lie there one after another with a newline between (as the record writer leaves them),
 * else the records copied together.
 */
function segmentBytes(records: BatchRecord[], from: number, end: number): Uint8Array {
  const first = records[from];
  const bytes = first.bytes;
  let joined = true;
  for (let i = from + 1; i < end && joined; i++) {
    const r = records[i];
    joined = r.bytes === bytes && r.from === records[i - 1].to + 1 && bytes[r.from - 1] === NEWLINE;
  }
  if (joined) return bytes.subarray(first.from, records[end - 1].to);
  const parts: Uint8Array[] = [];
  for (let i = from; i < end; i++) {
    if (i > from) parts.push(NEWLINE_BYTES);
    parts.push(records[i].bytes.subarray(records[i].from, records[i].to));
  }
  return Buffer.concat(parts);
}

const NEWLINE = 10;
const NEWLINE_BYTES = Uint8Array.of(NEWLINE);

/**
 * Appends the records of a segment (events `first` on) that fall in [from, to] to `chunk`, in
 * order or in reverse.
 */
function splitSegment(chunk: RawRecord[], first: number, value: string, from: number, to: number, reverse: boolean): void {
  const records = value.split("\n");
  if (reverse) {
    for (let k = records.length - 1; k >= 0; k--) {
      const seq = first + k;
      if (seq >= from && seq <= to) chunk.push([seq, records[k]]);
    }
  } else {
    for (let k = 0; k < records.length; k++) {
      const seq = first + k;
      if (seq >= from && seq <= to) chunk.push([seq, records[k]]);
    }
  }
}

/** A line of the index file, read: [seq, runId], ["blob", hash, seq] or [seq]; undefined when it is none of them. */
function parseLine(line: string): { seq: number; runId?: string; blob?: string } | undefined {
  if (line.length === 0) return undefined;
  try {
    const v = JSON.parse(line) as unknown;
    if (!Array.isArray(v)) return undefined;
    const sound = (seq: unknown): seq is number => Number.isSafeInteger(seq) && (seq as number) >= 0;
    if (v[0] === "blob") return v.length === 3 && typeof v[1] === "string" && /^[0-9a-f]{64}$/.test(v[1]) && sound(v[2]) ? { seq: v[2], blob: v[1] } : undefined;
    if (!sound(v[0]) || v[0] < 1) return undefined;
    if (v.length === 1) return { seq: v[0] };
    return v.length === 2 && typeof v[1] === "string" ? { seq: v[0], runId: v[1] } : undefined;
  } catch {
    return undefined;
  }
}

/** Whether an error from classic-level's open means another handle holds the lock. */
export function isLockedError(err: unknown): boolean {
  const cause = (err as { cause?: { code?: unknown } } | null)?.cause;
  return cause?.code === "LEVEL_LOCKED";
}

function openError(dir: string, err: unknown): LogError {
  if (isLockedError(err)) return new LogError(`the log at ${dir} is in use by another process`, { cause: err });
  const e = err as { cause?: Error; message?: string } | null;
  const why = e?.cause?.message ?? e?.message ?? String(err);
  return new LogError(`cannot open the log at ${dir}: ${why}`, { cause: err });
}

class LevelBackend implements LogBackend {
  readonly durable = true;
  readonly marksRuns = true;
  /** The head after the last batch written by this handle (0: none). */
  private written = 0;
  /** Whether a blob lookup has brought the index up to date from every key already. */
  private rescanned = false;

  constructor(
    private readonly db: Db,
    readonly location: string,
    private readonly index: LogIndex,
    /** Whether the log holds the head key of the format before markers (the next batch deletes it). */
    private legacyHead: boolean,
    /** Whether the log holds run index keys of the format before markers. */
    private readonly legacyRuns: boolean,
  ) {}

  prepare(batch: Batch): PreparedWrite {
    // A chained batch: several times faster than db.batch(array), which validates and copies each operation.
    const chained = this.db.batch();
    const records = batch.records;
    const runs = this.index.runs;
    let found: IndexLine[] | undefined;
    for (let i = 0; i < records.length; ) {
      const end = segmentEnd(records, i);
      const first = records[i];
      const last = records[end - 1];
      chained.put<string, Uint8Array>(segmentKey(first.seq, last.seq), segmentBytes(records, i, end), VIEW);
      i = end;
    }
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      if (!runs.has(r.runId)) {
        chained.put(runMarkKey(r.seq), r.runId);
        // Known from now on: a failed write leaves the log refusing appends anyway.
        runs.set(r.runId, r.seq);
        (found ??= []).push([r.seq, r.runId]);
      }
    }
    const head = batch.head.seq;
    for (const b of batch.blobs) {
      chained.put<string, Uint8Array>(blobKey(head, b.hash), b.bytes, VIEW);
      this.index.blobs.set(b.hash, head);
      (found ??= []).push(["blob", b.hash, head]);
    }
    if (records.length > 0) {
      chained.put(headKey(head), JSON.stringify(batch.head));
      if (this.legacyHead) {
        chained.del(LEGACY_HEAD_KEY);
        // (as for the runs: a failed write leaves the log refusing appends)
        this.legacyHead = false;
      }
    }
    return {
      commit: async () => {
        await chained.write({ sync: true });
        if (records.length > 0) this.written = head;
        this.index.committed(found, head, records.length);
      },
      discard: () => void chained.close().catch(() => undefined),
    };
  }

  /**
   * The newest head marker (normally the newest key of all), else the head of a log written
   * before markers; undefined when there is neither. A damaged one is its key's sequence
   * number with an empty hash (see LogBackend.readHead).
   */
  async readHead(): Promise<HeadRecord | undefined> {
    let marker: string | undefined;
    for await (const key of this.db.keys({ gte: FIRST_KEY, lt: END_KEY, reverse: true, limit: HEAD_SCAN })) {
      if (markOf(key) === HEAD_MARK) {
        marker = key;
        break;
      }
    }
    const text = await this.db.get(marker ?? LEGACY_HEAD_KEY);
    if (text === undefined) return undefined;
    const seq = marker === undefined ? 0 : seqOfKey(marker.slice(0, 18));
    const damaged: HeadRecord = { seq, hash: "", time: 0 };
    try {
      const head = JSON.parse(text) as Partial<HeadRecord> | null;
      const sound = head !== null && typeof head === "object" && Number.isSafeInteger(head.seq) && typeof head.hash === "string" && typeof head.time === "number";
      if (!sound || (marker !== undefined && head.seq !== seq)) return damaged;
      return head as HeadRecord;
    } catch {
      return damaged;
    }
  }

  async last(): Promise<RawRecord | undefined> {
    // The newest keys are normally the last batch's blobs (rare), head marker, run markers and last segment.
    for (const limit of [6, -1]) {
      for await (const chunk of this.range({ from: 0, to: Number.MAX_SAFE_INTEGER, reverse: true }, limit)) if (chunk.length > 0) return chunk[0];
    }
    return undefined;
  }

  /** One event: the value holding it is the first key at or before it, markers aside (one value read). */
  async get(seq: number): Promise<string | undefined> {
    const it = this.db.iterator({ gte: eventKey(Math.max(0, seq - (SEGMENT_EVENTS - 1))), lte: eventKey(seq) + "~", reverse: true });
    try {
      for (;;) {
        const entries = await it.nextv(8);
        if (entries.length === 0) return undefined;
        for (const [key, value] of entries) {
          if ((key.length === 19 && markOf(key) !== 0) || isBlobKey(key)) continue;
          const records: RawRecord[] = [];
          if (key.length === 34 && digitsAt(key, 2) >= 0) splitSegment(records, digitsAt(key, 2), value, seq, seq, false);
          else if (seqOfKey(key) === seq) records.push([seq, value]);
          return records.length > 0 ? records[0][1] : undefined;
        }
      }
    } finally {
      await it.close();
    }
  }

  /**
   * Events in sequence order (or reverse), from [from, to], out of their segments (and the
   * single-event keys of logs written before), without the markers among them. A key of the
   * event keyspace that is neither gives one record with seq -1 (verify reports the gap). A
   * segment gives its records the sequence numbers its key names, first on: a segment that
   * holds more or fewer records than its key says shows as events out of place or missing.
   */
  async *range(options: RangeOptions, limit = -1): AsyncIterable<RawRecord[]> {
    const { from, to, reverse } = options;
    // classic-level stops a nextv at highWaterMarkBytes (16 KiB unless told): about 30 events.
    const it = this.db.iterator({
      // (from the earliest segment that can hold event `from`)
      gte: eventKey(Math.max(0, from - (SEGMENT_EVENTS - 1))),
      // (up to the markers of event `to`: they are left out like the others)
      lte: eventKey(to) + "~",
      reverse,
      limit,
      highWaterMarkBytes: CHUNK_BYTES,
    });
    // Ask for the next chunk before handing out this one: LevelDB reads on its own thread meanwhile.
    let next = it.nextv(CHUNK);
    try {
      for (;;) {
        const entries = await next;
        if (entries.length === 0) return;
        next = it.nextv(CHUNK);
        const chunk: RawRecord[] = [];
        for (let i = 0; i < entries.length; i++) {
          const [key, value] = entries[i];
          if (key.length === 34) {
            const first = digitsAt(key, 2);
            if (first >= 0 && digitsAt(key, 18) >= 0) {
              splitSegment(chunk, first, value, from, to, reverse);
              continue;
            }
          } else if (key.length === 19) {
            const mark = markOf(key);
            if (mark === RUN_MARK) options.onRunMark?.(digitsAt(key, 2), value);
            if (mark !== 0) continue;
          } else if (isBlobKey(key)) {
            options.onBlob?.({ hash: key.slice(19), seq: digitsAt(key, 2) });
            continue;
          }
          const seq = seqOfKey(key);
          if (seq < 0 || (seq >= from && seq <= to)) chunk.push([seq, value, true]);
        }
        if (chunk.length > 0) yield chunk;
      }
    } finally {
      await next.catch(() => undefined);
      await it.close();
    }
  }

  async runStart(runId: string): Promise<number | undefined> {
    let start = this.index.runs.get(runId);
    if (this.legacyRuns) {
      const prefix = "r!" + runId + "!";
      // The lowest indexed seq of the run; a key of a run whose id extends this one has other characters after the prefix.
      for await (const key of this.db.keys({ gt: prefix, lt: prefix + ":" })) {
        if (key.length !== prefix.length + 16) continue;
        const seq = Number(key.slice(prefix.length));
        if (start === undefined || seq < start) start = seq;
        break;
      }
    }
    return start;
  }

  /**
   * A blob by its hash: where the index says it is, else under the key of logs written
   * before; on a miss, the index is brought up to date from every key once (it is derived
   * data: a damaged file must not lose a blob), and asked again.
   */
  async getBlob(hash: string): Promise<Uint8Array | undefined> {
    for (;;) {
      const seq = this.index.blobs.get(hash);
      const bytes = await this.db.get<string, Uint8Array>(seq === undefined ? LEGACY_BLOB + hash : blobKey(seq, hash), VIEW);
      if (bytes !== undefined) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (seq !== undefined) {
        const legacy = await this.db.get<string, Uint8Array>(LEGACY_BLOB + hash, VIEW);
        if (legacy !== undefined) return new Uint8Array(legacy.buffer, legacy.byteOffset, legacy.byteLength);
      }
      if (this.rescanned) return undefined;
      this.rescanned = true;
      this.index.blobs.clear();
      await this.index.scan(this.db, 0, false);
    }
  }

  async blobsAside(): Promise<BlobPlace[]> {
    const places: BlobPlace[] = [];
    for await (const key of this.db.keys({ gt: LEGACY_BLOB, lt: LEGACY_BLOB_END })) places.push({ hash: key.slice(LEGACY_BLOB.length), seq: -1 });
    return places;
  }

  async readBlobs(places: BlobPlace[]): Promise<Array<Uint8Array | undefined>> {
    if (places.length === 0) return [];
    const keys = places.map((p) => (p.seq < 0 ? LEGACY_BLOB + p.hash : blobKey(p.seq, p.hash)));
    const values = await this.db.getMany<string, Uint8Array>(keys, VIEW);
    return values.map((v) => (v === undefined ? undefined : new Uint8Array(v.buffer, v.byteOffset, v.byteLength)));
  }

  async close(): Promise<void> {
    try {
      this.index.close(this.written);
    } finally {
      await this.db.close();
    }
  }
}

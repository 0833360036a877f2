/**
 * The LevelDB backend (classic-level through `level`). Keys:
 *
 * - `e!<seq, 16 digits>` -> record (hash + canonical body): the chain, in numeric order;
 * - `r!<runId>!<seq, 16 digits>` -> "": the index by run: the first event of each run that
 *   this handle wrote (one key per run, not per event; a run continued after a reopen gets a
 *   second key). A query by run scans from the run's first event on, keeping that run's events;
 * - `b!<sha256 hex>` -> bytes: content-addressed blobs;
 * - `m!head` -> JSON {seq, hash, time}: the head after the last batch (detects a cut tail).
 */
import { mkdir } from "node:fs/promises";
import { Level } from "level";
import { LogError } from "../errors.js";
import type { Batch, HeadRecord, LogBackend, PreparedWrite, RangeOptions, RawRecord } from "./backend.js";

type Db = Level<string, string>;

const CHUNK = 1000;
/** How many bytes one read of a chunk may gather (events are mostly under 1 KiB). */
const CHUNK_BYTES = 1 << 20;
const HEAD_KEY = "m!head";
const VIEW = { valueEncoding: "view" } as const;

/** The key of an event: zero-padded so that key order is sequence order. */
export function eventKey(seq: number): string {
  return "e!" + String(seq).padStart(16, "0");
}

/** The sequence number of an event key; -1 for a key that is not one (verify reports the gap). */
function seqOfKey(key: string): number {
  if (key.length !== 18) return -1;
  let n = 0;
  for (let i = 2; i < 18; i++) {
    const d = key.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function runKey(runId: string, seq: number): string {
  return "r!" + runId + "!" + String(seq).padStart(16, "0");
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
  return new LevelBackend(db, dir);
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
  /** Runs whose first event (as far as this handle knows) is indexed already. */
  private readonly indexed = new Set<string>();

  constructor(
    private readonly db: Db,
    readonly location: string,
  ) {}

  prepare(batch: Batch): PreparedWrite {
    // A chained batch: several times faster than db.batch(array), which validates and copies each operation.
    const chained = this.db.batch();
    const records = batch.records;
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      chained.put<string, Uint8Array>(eventKey(r.seq), r.bytes.subarray(r.from, r.to), VIEW);
      if (!this.indexed.has(r.runId)) {
        chained.put(runKey(r.runId, r.seq), "");
        // Counted as indexed from now on: a failed write leaves the log refusing appends anyway.
        this.indexed.add(r.runId);
      }
    }
    for (const b of batch.blobs) chained.put<string, Uint8Array>("b!" + b.hash, b.bytes, { valueEncoding: "view" });
    chained.put(HEAD_KEY, JSON.stringify(batch.head));
    return {
      commit: () => chained.write({ sync: true }),
      discard: () => void chained.close().catch(() => undefined),
    };
  }

  async readHead(): Promise<HeadRecord | undefined> {
    const text = await this.db.get(HEAD_KEY);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as HeadRecord;
    } catch {
      return undefined;
    }
  }

  async last(): Promise<RawRecord | undefined> {
    for await (const chunk of this.range({ from: 0, to: Number.MAX_SAFE_INTEGER, reverse: true }, 1)) return chunk[0];
    return undefined;
  }

  get(seq: number): Promise<string | undefined> {
    return this.db.get(eventKey(seq));
  }

  async *range(options: RangeOptions, limit = -1): AsyncIterable<RawRecord[]> {
    // classic-level stops a nextv at highWaterMarkBytes (16 KiB unless told): about 30 events.
    const it = this.db.iterator({
      gte: eventKey(options.from),
      lte: eventKey(options.to),
      reverse: options.reverse,
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
        // Each entry becomes its record in place: [key, value] -> [seq, value].
        const chunk = entries as unknown as RawRecord[];
        for (let i = 0; i < entries.length; i++) chunk[i][0] = seqOfKey(entries[i][0]);
        yield chunk;
      }
    } finally {
      await next.catch(() => undefined);
      await it.close();
    }
  }

  async runStart(runId: string): Promise<number | undefined> {
    const prefix = "r!" + runId + "!";
    // The lowest indexed seq of the run; a key of a run whose id extends this one has other characters after the prefix.
    for await (const key of this.db.keys({ gt: prefix, lt: prefix + ":" })) {
      if (key.length === prefix.length + 16) return Number(key.slice(prefix.length));
    }
    return undefined;
  }

  async getBlob(hash: string): Promise<Uint8Array | undefined> {
    const bytes = await this.db.get<string, Uint8Array>("b!" + hash, { valueEncoding: "view" });
    return bytes && new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

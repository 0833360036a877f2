/**
 * The LevelDB backend (classic-level through `level`). Keys:
 *
 * - `e!<seq, 16 digits>` -> record (hash + canonical body): the chain, in numeric order;
 * - `r!<runId>!<seq, 16 digits>` -> "": the index by run;
 * - `b!<sha256 hex>` -> bytes: content-addressed blobs;
 * - `m!head` -> JSON {seq, hash, time}: the head after the last batch (detects a cut tail).
 */
import { mkdir } from "node:fs/promises";
import { Level } from "level";
import { LogError } from "../errors.js";
import type { Batch, HeadRecord, LogBackend, RangeOptions, RawRecord } from "./backend.js";

type Db = Level<string, string>;

const CHUNK = 1000;
const HEAD_KEY = "m!head";

/** The key of an event: zero-padded so that key order is sequence order. */
export function eventKey(seq: number): string {
  return "e!" + String(seq).padStart(16, "0");
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

  constructor(
    private readonly db: Db,
    readonly location: string,
  ) {}

  async write(batch: Batch): Promise<void> {
    type Op = { type: "put"; key: string; value: string | Uint8Array; valueEncoding?: "view" };
    const ops: Op[] = new Array(batch.records.length * 2);
    let n = 0;
    for (const r of batch.records) {
      ops[n++] = { type: "put", key: eventKey(r.seq), value: r.value };
      ops[n++] = { type: "put", key: runKey(r.runId, r.seq), value: "" };
    }
    for (const b of batch.blobs) ops.push({ type: "put", key: "b!" + b.hash, value: b.bytes, valueEncoding: "view" });
    ops.push({ type: "put", key: HEAD_KEY, value: JSON.stringify(batch.head) });
    await this.db.batch(ops as Array<{ type: "put"; key: string; value: string }>, { sync: true });
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

  getMany(seqs: number[]): Promise<Array<string | undefined>> {
    return this.db.getMany(seqs.map(eventKey));
  }

  async *range(options: RangeOptions, limit = -1): AsyncIterable<RawRecord[]> {
    const it = this.db.iterator({ gte: eventKey(options.from), lte: eventKey(options.to), reverse: options.reverse, limit });
    // Ask for the next chunk before handing out this one: LevelDB reads on its own thread meanwhile.
    let next = it.nextv(CHUNK);
    try {
      for (;;) {
        const entries = await next;
        if (entries.length === 0) return;
        next = it.nextv(CHUNK);
        const chunk: RawRecord[] = new Array(entries.length);
        for (let i = 0; i < entries.length; i++) chunk[i] = [Number(entries[i][0].slice(2)), entries[i][1]];
        yield chunk;
      }
    } finally {
      await next.catch(() => undefined);
      await it.close();
    }
  }

  async *runSeqs(runId: string, options: RangeOptions): AsyncIterable<number[]> {
    const prefix = "r!" + runId + "!";
    const it = this.db.keys({ gte: runKey(runId, options.from), lte: runKey(runId, options.to), reverse: options.reverse });
    try {
      for (;;) {
        const keys = await it.nextv(CHUNK);
        if (keys.length === 0) return;
        // A run id containing "!" cannot make another run's keys fall in this range with 16 digits after the prefix.
        yield keys.filter((k) => k.length === prefix.length + 16).map((k) => Number(k.slice(prefix.length)));
      }
    } finally {
      await it.close();
    }
  }

  async getBlob(hash: string): Promise<Uint8Array | undefined> {
    const bytes = await this.db.get<string, Uint8Array>("b!" + hash, { valueEncoding: "view" });
    return bytes && new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

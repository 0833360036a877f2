/**
 * The in-memory backend (`openLog(false)`): the same records, chain and queries as LevelDB,
 * without durability. For tests and embedding.
 */
import type { Batch, HeadRecord, LogBackend, PreparedWrite, RangeOptions, RawRecord } from "./backend.js";

const CHUNK = 1000;

/**
 * Creates an empty in-memory backend.
 *
 * @example const log = await createChainLog(createMemoryBackend());
 */
export function createMemoryBackend(): LogBackend {
  return new MemoryBackend();
}

class MemoryBackend implements LogBackend {
  readonly durable = false;
  readonly location = "memory";
  /** records[seq - 1] is the record of event seq. */
  private readonly records: string[] = [];
  private readonly runs = new Map<string, number>();
  private readonly blobs = new Map<string, Uint8Array>();
  private head: HeadRecord | undefined;

  prepare(batch: Batch): PreparedWrite {
    // The records are copied now (as text): the log reuses their bytes once this returns.
    const records = batch.records;
    const texts: string[] = new Array(records.length);
    for (let i = 0; i < records.length; i++) texts[i] = records[i].bytes.toString("utf8", records[i].from, records[i].to);
    return {
      commit: async () => {
        for (let i = 0; i < records.length; i++) {
          const r = records[i];
          this.records[r.seq - 1] = texts[i];
          if (!this.runs.has(r.runId)) this.runs.set(r.runId, r.seq);
        }
        for (const b of batch.blobs) this.blobs.set(b.hash, new Uint8Array(b.bytes));
        this.head = { ...batch.head };
      },
      discard: () => undefined,
    };
  }

  async readHead(): Promise<HeadRecord | undefined> {
    return this.head;
  }

  async last(): Promise<RawRecord | undefined> {
    const n = this.records.length;
    return n ? [n, this.records[n - 1]] : undefined;
  }

  async get(seq: number): Promise<string | undefined> {
    return this.records[seq - 1];
  }

  async *range(options: RangeOptions): AsyncIterable<RawRecord[]> {
    const lo = Math.max(1, options.from);
    const hi = Math.min(this.records.length, options.to);
    if (lo > hi) return;
    for (let start = 0; start <= hi - lo; start += CHUNK) {
      const chunk: RawRecord[] = [];
      for (let i = start; i < Math.min(start + CHUNK, hi - lo + 1); i++) {
        const seq = options.reverse ? hi - i : lo + i;
        chunk.push([seq, this.records[seq - 1]]);
      }
      yield chunk;
    }
  }

  async runStart(runId: string): Promise<number | undefined> {
    return this.runs.get(runId);
  }

  async getBlob(hash: string): Promise<Uint8Array | undefined> {
    const bytes = this.blobs.get(hash);
    return bytes && new Uint8Array(bytes);
  }

  async close(): Promise<void> {}
}

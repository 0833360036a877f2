/**
 * The in-memory backend (`openLog(false)`): the same records, chain and queries as LevelDB,
 * without durability. For tests and embedding.
 *
 * Records are kept as UTF-8 bytes, copied one after another into large buffers (outside the
 * JavaScript heap, so that a long-running log costs the garbage collector nothing per event),
 * and turned into text only when read.
 */
import { allocBytes, readUtf8 } from "../portable/bytes.js";
import type { Batch, BlobPlace, HeadRecord, LogBackend, PreparedWrite, RangeOptions, RawRecord } from "./backend.js";

const CHUNK = 1000;
const STORE_BYTES = 1 << 20;

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
  readonly marksRuns = false;
  readonly location = "memory";
  /** The buffers records are copied into; the last one is being filled up to `used`. */
  private readonly stores: Uint8Array[] = [];
  private store = allocBytes(0);
  private used = 0;
  /** Record of event seq: in stores[place[3 * (seq - 1)]], from place[.. + 1] to place[.. + 2]. */
  private readonly place: number[] = [];
  private count = 0;
  private readonly runs = new Map<string, number>();
  /** Blobs by hash, with the batch (its last event) they were stored with. */
  private readonly blobs = new Map<string, { seq: number; bytes: Uint8Array }>();
  private head: HeadRecord | undefined;

  prepare(batch: Batch): PreparedWrite {
    // The records are copied now: the log reuses their bytes once this returns. Records sealed
    // one after another lie back to back in the writer's arena (a newline between them), so a
    // run of them is copied at once, newlines included.
    const records = batch.records;
    const at: number[] = new Array(3 * records.length);
    for (let i = 0; i < records.length; ) {
      const first = records[i];
      let j = i + 1;
      while (j < records.length && records[j].bytes === first.bytes && records[j].from === records[j - 1].to + 1 && records[j].to - first.from <= STORE_BYTES) j++;
      const from = first.from;
      const n = records[j - 1].to - from;
      if (this.used + n > this.store.length) {
        this.store = allocBytes(Math.max(STORE_BYTES, n));
        this.stores.push(this.store);
        this.used = 0;
      }
      this.store.set(first.bytes.subarray(from, from + n), this.used);
      for (let k = i; k < j; k++) {
        const r = records[k];
        at[3 * k] = this.stores.length - 1;
        at[3 * k + 1] = this.used + r.from - from;
        at[3 * k + 2] = this.used + r.to - from;
      }
      this.used += n;
      i = j;
    }
    return {
      commit: async () => {
        const place = this.place;
        for (let i = 0; i < records.length; i++) {
          const r = records[i];
          const p = 3 * (r.seq - 1);
          place[p] = at[3 * i];
          place[p + 1] = at[3 * i + 1];
          place[p + 2] = at[3 * i + 2];
          if (r.seq > this.count) this.count = r.seq;
          if (!this.runs.has(r.runId)) this.runs.set(r.runId, r.seq);
        }
        for (const b of batch.blobs) this.blobs.set(b.hash, { seq: batch.head.seq, bytes: new Uint8Array(b.bytes) });
        this.head = { ...batch.head };
      },
      discard: () => undefined,
    };
  }

  /** The stored text of event seq (1 ≤ seq ≤ count). */
  private text(seq: number): string {
    const p = 3 * (seq - 1);
    return readUtf8(this.stores[this.place[p]], this.place[p + 1], this.place[p + 2]);
  }

  async readHead(): Promise<HeadRecord | undefined> {
    return this.head;
  }

  async last(): Promise<RawRecord | undefined> {
    const n = this.count;
    return n ? [n, this.text(n)] : undefined;
  }

  async get(seq: number): Promise<string | undefined> {
    return Number.isSafeInteger(seq) && seq >= 1 && seq <= this.count ? this.text(seq) : undefined;
  }

  async *range(options: RangeOptions): AsyncIterable<RawRecord[]> {
    const lo = Math.max(1, options.from);
    const hi = Math.min(this.count, options.to);
    if (lo > hi) return;
    for (let start = 0; start <= hi - lo; start += CHUNK) {
      const chunk: RawRecord[] = [];
      for (let i = start; i < Math.min(start + CHUNK, hi - lo + 1); i++) {
        const seq = options.reverse ? hi - i : lo + i;
        chunk.push([seq, this.text(seq)]);
      }
      yield chunk;
    }
  }

  async runStart(runId: string): Promise<number | undefined> {
    return this.runs.get(runId);
  }

  async getBlob(hash: string): Promise<Uint8Array | undefined> {
    const blob = this.blobs.get(hash);
    return blob && new Uint8Array(blob.bytes);
  }

  async blobsAside(): Promise<BlobPlace[]> {
    return [...this.blobs].map(([hash, { seq }]) => ({ hash, seq }));
  }

  async readBlobs(places: BlobPlace[]): Promise<Array<Uint8Array | undefined>> {
    return places.map((p) => this.blobs.get(p.hash)?.bytes);
  }

  async close(): Promise<void> {}
}

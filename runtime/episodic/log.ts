/**
 * The kernel's log: a hash chain over a backend, with group commit.
 *
 * `append` fixes an event's sequence number, time and hash synchronously, in call order, and
 * queues it. One batch is in flight at a time; when it is durable its appends resolve and
 * everything that queued meanwhile becomes the next batch. A failed write rejects every append
 * of that batch and every one queued behind it (they chain onto events that were never
 * written), and the log then refuses all further appends: fail closed, no hole in the chain.
 */
import { LogError } from "../errors.js";
import type { EventLog, EventQuery, LoggedEvent, NewEvent, VerifyReport } from "../types.js";
import { parseRecord, toRecord, type Batch, type HeadRecord, type LogBackend } from "./backend.js";
import { GENESIS, sealEvent, sha256Hex } from "./encoding.js";
import { queryEvents } from "./query.js";
import { verifyChain } from "./verify.js";

/** The log as the kernel holds it. */
export interface KernelLog extends EventLog {
  /** Whether an acknowledged append survives a crash (false for the in-memory log). */
  readonly durable: boolean;
  /** Resolves once the event is durable, with its sequence number, time and hash. */
  append(event: NewEvent): Promise<LoggedEvent>;
  /**
   * Seals an event at once (its sequence number and hash are fixed, in call order) and queues
   * it: `written` resolves once it is durable (it is shared by the events of one batch, and
   * already has a rejection handler, so leaving it alone is safe). The gate uses it to reply
   * without a trip through the event loop when the log is not durable, and to wait when it is.
   * @throws LogError when the log is closed, has failed, or the event cannot be encoded.
   */
  stage(event: NewEvent): { event: LoggedEvent; written: Promise<void> };
  /** Appends several events as consecutive sequence numbers; resolves once all are durable. */
  appendMany(events: NewEvent[]): Promise<LoggedEvent[]>;
  /** Streams events matching the filter, oldest first unless `order: "newest"`. */
  query(filter?: EventQuery): AsyncIterable<LoggedEvent>;
  /** One event by sequence number; undefined when there is none. */
  get(seq: number): Promise<LoggedEvent | undefined>;
  /** The newest event's sequence number and hash (0 and the genesis hash when empty). */
  head(): { seq: number; hash: string };
  /** Recomputes the whole chain from the stored records. */
  verify(): Promise<VerifyReport>;
  /** Stores bytes under their sha256 (hex) and resolves with it once durable. */
  putBlob(bytes: Uint8Array): Promise<string>;
  /** The bytes stored under a hash; undefined when absent. Throws LogError if they were altered. */
  getBlob(hash: string): Promise<Uint8Array | undefined>;
  /** Waits for queued appends, then releases the directory. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link createChainLog}. Defaults: `now` is `Date.now`; `maxBatch` 4096 events. */
export interface ChainLogOptions {
  now?: () => number;
  maxBatch?: number;
}

interface Pending {
  /** Resolve once the event with this sequence number (and everything before it) is written. */
  upTo: number;
  result: unknown;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/**
 * Builds a log over a backend, resuming the chain after its newest stored event.
 *
 * @example const log = await createChainLog(createMemoryBackend()); await log.append(event);
 */
export async function createChainLog(backend: LogBackend, options: ChainLogOptions = {}): Promise<KernelLog> {
  const stored = await backend.readHead();
  const last = await backend.last();
  let head: HeadRecord = stored ?? { seq: 0, hash: GENESIS, time: 0 };
  if (last && last[0] > head.seq) {
    // The head record lags the newest record only if it was damaged: continue from the record.
    try {
      const event = parseRecord(last[1]);
      head = { seq: last[0], hash: event.hash, time: event.time };
    } catch {
      head = { seq: last[0], hash: last[1].slice(0, 64), time: head.time };
    }
  }
  // A head ahead of the newest record means the tail was cut: keep the head, so verify reports the gap.
  return new ChainLog(backend, head, options.now ?? Date.now, options.maxBatch ?? 4096);
}

class ChainLog implements KernelLog {
  private queue: Batch;
  private waiters: Pending[] = [];
  /** The waiter that staged events share while it is the newest one (see sharedWaiter). */
  private openWaiter: { pending: Pending; promise: Promise<void> } | undefined;
  private flushing: Promise<void> | undefined;
  private failure: LogError | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly backend: LogBackend,
    private last: HeadRecord,
    private readonly now: () => number,
    private readonly maxBatch: number,
  ) {
    this.queue = emptyBatch(last);
  }

  get durable(): boolean {
    return this.backend.durable;
  }

  append(event: NewEvent): Promise<LoggedEvent> {
    try {
      const logged = this.seal(event);
      return this.enqueue(logged);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  stage(event: NewEvent): { event: LoggedEvent; written: Promise<void> } {
    const logged = this.seal(event);
    return { event: logged, written: this.sharedWaiter() };
  }

  /**
   * One promise for every staged event since the last waiter was queued: the hot path of the
   * gate allocates nothing per event for it.
   */
  private sharedWaiter(): Promise<void> {
    const open = this.openWaiter;
    if (open && this.waiters[this.waiters.length - 1] === open.pending) {
      open.pending.upTo = this.last.seq;
      return open.promise;
    }
    const promise = this.enqueue<void>(undefined);
    promise.catch(() => undefined);
    this.openWaiter = { pending: this.waiters[this.waiters.length - 1], promise };
    return promise;
  }

  appendMany(events: NewEvent[]): Promise<LoggedEvent[]> {
    try {
      this.checkWritable();
      // Validate all first, so that a bad event in the middle appends none of them.
      const start = { ...this.last };
      const logged: LoggedEvent[] = [];
      try {
        for (const e of events) logged.push(this.seal(e));
      } catch (err) {
        this.queue.records.splice(this.queue.records.length - logged.length);
        this.last = start;
        throw err;
      }
      return this.enqueue(logged);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private seal(event: NewEvent): LoggedEvent {
    this.checkWritable();
    // Event times never go backwards, so a time range maps onto a range of sequence numbers.
    const now = this.now();
    if (!Number.isFinite(now)) throw new LogError(`the log's clock returned ${String(now)}, not a time`);
    const time = Math.max(now, this.last.time);
    const sealed = sealEvent(event, this.last.seq + 1, time, this.last.hash);
    this.last = { seq: sealed.event.seq, hash: sealed.event.hash, time };
    this.queue.records.push({ seq: sealed.event.seq, runId: sealed.event.runId, value: toRecord(sealed) });
    return sealed.event;
  }

  putBlob(bytes: Uint8Array): Promise<string> {
    try {
      this.checkWritable();
      if (!(bytes instanceof Uint8Array)) throw new LogError("a blob must be a Uint8Array");
      const hash = sha256Hex(bytes);
      this.queue.blobs.push({ hash, bytes: new Uint8Array(bytes) });
      return this.enqueue(hash);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async getBlob(hash: string): Promise<Uint8Array | undefined> {
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new LogError(`not a blob hash: ${JSON.stringify(hash)}`);
    const bytes = await this.read(() => this.backend.getBlob(hash));
    if (bytes && sha256Hex(bytes) !== hash) {
      throw new LogError(`the blob ${hash} in the log at ${this.backend.location} was altered`);
    }
    return bytes;
  }

  private checkWritable(): void {
    if (this.closed) throw new LogError(`the log at ${this.backend.location} is closed`);
    if (this.failure) {
      throw new LogError(`the log at ${this.backend.location} refuses appends after a failed write`, { cause: this.failure });
    }
  }

  /** Resolves with `result` when everything queued so far is durable. */
  private enqueue<T>(result: T): Promise<T> {
    const upTo = this.last.seq;
    const done = new Promise<T>((resolve, reject) => {
      this.waiters.push({ upTo, result, resolve: resolve as (value: unknown) => void, reject });
    });
    // Start on a microtask, so that appends made in the same turn share the first batch.
    if (!this.flushing) this.flushing = Promise.resolve().then(() => this.flush());
    return done;
  }

  private async flush(): Promise<void> {
    while (this.queue.records.length > 0 || this.queue.blobs.length > 0) {
      const batch = this.takeBatch();
      const waiters = this.waiters;
      let n = 0;
      while (n < waiters.length && waiters[n].upTo <= batch.head.seq) n++;
      const done = waiters.splice(0, n);
      try {
        await this.backend.write(batch);
      } catch (err) {
        const why = (err as Error)?.message ?? String(err);
        this.failure = new LogError(`cannot write to the log at ${this.backend.location}: ${why}`, { cause: err });
        for (const w of [...done, ...this.waiters]) w.reject(this.failure);
        this.waiters = [];
        this.queue = emptyBatch(this.last);
        break;
      }
      for (const w of done) w.resolve(w.result);
    }
    this.flushing = undefined;
  }

  /** The next batch: everything queued, or its first maxBatch events when more are waiting. */
  private takeBatch(): Batch {
    const q = this.queue;
    if (q.records.length <= this.maxBatch) {
      q.head = { ...this.last };
      this.queue = emptyBatch(this.last);
      return q;
    }
    const records = q.records.splice(0, this.maxBatch);
    const event = parseRecord(records[records.length - 1].value);
    return { records, blobs: q.blobs.splice(0), head: { seq: event.seq, hash: event.hash, time: event.time } };
  }

  query(filter: EventQuery = {}): AsyncIterable<LoggedEvent> {
    this.assertOpen();
    return queryEvents(this.backend, filter);
  }

  async get(seq: number): Promise<LoggedEvent | undefined> {
    if (!Number.isSafeInteger(seq) || seq < 1) return undefined;
    const value = await this.read(() => this.backend.get(seq));
    return value === undefined ? undefined : parseRecord(value);
  }

  head(): { seq: number; hash: string } {
    return { seq: this.last.seq, hash: this.last.hash };
  }

  async verify(): Promise<VerifyReport> {
    this.assertOpen();
    while (this.flushing) await this.flushing;
    return verifyChain(this.backend);
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      this.closing = (async () => {
        while (this.flushing) await this.flushing;
        await this.backend.close();
      })();
    }
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closed) throw new LogError(`the log at ${this.backend.location} is closed`);
  }

  private async read<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    try {
      return await fn();
    } catch (err) {
      throw new LogError(`cannot read the log at ${this.backend.location}: ${(err as Error)?.message ?? err}`, { cause: err });
    }
  }
}

function emptyBatch(head: HeadRecord): Batch {
  return { records: [], blobs: [], head: { ...head } };
}

/**
 * The kernel's log: a hash chain over a backend, with group commit.
 *
 * Events take their place in the chain in call order. `stage` (the gate's path) seals an event
 * at once: its sequence number, time and hash are fixed before it returns. `append` queues the
 * event and seals it when its batch is made (an append's promise is all its caller sees, and
 * sealing late keeps a burst of appends from holding every sealed record in memory at once, and
 * lets the next batch be sealed while the previous one is being written). Anything that reads
 * or extends the chain (`stage`, `appendMany`, `head`) seals the queued appends first, so the
 * order is always the call order.
 *
 * One batch is in flight at a time; when it is durable its appends resolve and everything that
 * queued meanwhile becomes the next batch. A failed write rejects every append of that batch and
 * every one queued behind it (they chain onto events that were never written), and the log then
 * refuses all further appends: fail closed, no hole in the chain.
 */
import { LogError } from "../errors.js";
import type { EventQuery, LoggedEvent, NewEvent, VerifyReport } from "../types.js";
import { parseRecord, toRecord, type Batch, type HeadRecord, type LogBackend, type PreparedWrite } from "./backend.js";
import { utf8Bytes } from "../portable/bytes.js";
import { GENESIS, sealEvent, sha256Hex } from "./encoding.js";
import { RecordWriter } from "./record-writer.js";
import { queryEvents } from "./query.js";
import { verifyChain } from "./verify.js";
import type { KernelLog } from "./kernel-log.js";

export type { KernelLog } from "./kernel-log.js";

/** Options of {@link createChainLog}. Defaults: `now` is `Date.now`; `maxBatch` 4096 events (the most one write takes: larger batches measured faster appends but slower reads of the log right after). */
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

/** An append not sealed yet; once sealed, the same object waits as its Pending. */
interface Queued extends Pending {
  event: NewEvent | undefined;
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
  if (last && (last[0] > head.seq || (last[0] === head.seq && !HASH.test(head.hash)))) {
    // The head record lags the newest record, or is damaged: continue from the record.
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
  /** Appends not sealed yet, in call order, from `unsealedAt` on. */
  private unsealed: Queued[] = [];
  private unsealedAt = 0;
  /** The waiter that staged events share while it is the newest one (see sharedWaiter). */
  private openWaiter: { pending: Pending; promise: Promise<void> } | undefined;
  private flushing: Promise<void> | undefined;
  private failure: LogError | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly writer = new RecordWriter();
  /** Whether the newest hash is known to be 64 hex digits (not so only after resuming a damaged head). */
  private hexHead = false;
  /** Bytes of each live run's records, from its spawn event to its exit event (see runBytes). */
  private readonly liveRuns = new Map<string, { bytes: number }>();

  constructor(
    private readonly backend: LogBackend,
    private last: HeadRecord,
    private readonly now: () => number,
    private readonly maxBatch: number,
  ) {
    this.queue = emptyBatch(last);
    this.writtenSeq = last.seq;
  }

  /** The newest event known to be on disk (everything up to it is). */
  private writtenSeq: number;

  get durable(): boolean {
    return this.backend.durable;
  }

  append(event: NewEvent): Promise<LoggedEvent> {
    try {
      this.checkWritable();
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<LoggedEvent>((resolve, reject) => {
      this.unsealed.push({ event, upTo: 0, result: undefined, resolve: resolve as (value: unknown) => void, reject });
      this.scheduleFlush();
    });
  }

  stage(event: NewEvent): { seq: number; written: Promise<void> } {
    this.checkWritable();
    this.sealQueued(Infinity);
    this.sealLean(event);
    return { seq: this.last.seq, written: this.sharedWaiter() };
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
      this.sealQueued(Infinity);
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

  /**
   * Seals up to `limit` queued appends, in order. One that cannot be sealed (malformed, not
   * data) is rejected alone and takes no place in the chain.
   */
  private sealQueued(limit: number): void {
    const queued = this.unsealed;
    let i = this.unsealedAt;
    if (i >= queued.length) return;
    const end = Math.min(queued.length, i + limit);
    for (; i < end; i++) {
      const q = queued[i];
      try {
        q.result = this.seal(q.event!);
      } catch (err) {
        q.reject(err as Error);
        continue;
      } finally {
        q.event = undefined;
      }
      q.upTo = this.last.seq;
      this.waiters.push(q);
    }
    if (i >= queued.length) {
      this.unsealed = [];
      this.unsealedAt = 0;
    } else this.unsealedAt = i;
  }

  private get queuedCount(): number {
    return this.unsealed.length - this.unsealedAt;
  }

  private seal(event: NewEvent): LoggedEvent {
    return this.sealAs(event, false) as LoggedEvent;
  }

  /** seal, without decoding the record back into an event (for stage). */
  private sealLean(event: NewEvent): void {
    this.sealAs(event, true);
  }

  private sealAs(event: NewEvent, lean: boolean): LoggedEvent | { hash: string } {
    // Event times never go backwards, so a time range maps onto a range of sequence numbers.
    const now = this.now();
    if (!Number.isFinite(now)) throw new LogError(`the log's clock returned ${String(now)}, not a time`);
    const last = this.last;
    const time = now > last.time ? now : last.time;
    const seq = last.seq + 1;
    let logged: LoggedEvent | { hash: string };
    if (this.hexHead || HASH.test(last.hash)) {
      const writer = this.writer;
      logged = lean ? writer.seal(event, seq, time, last.hash, true) : writer.seal(event, seq, time, last.hash);
      this.hexHead = true; // every hash the log makes is hex
      this.queue.records.push({ seq, runId: event.runId, hash: logged.hash, time, bytes: writer.arena, from: writer.recordFrom, to: writer.recordTo });
    } else {
      // A resumed chain whose head record was damaged: its hash is not hex; as text, as verify reads it.
      const sealed = sealEvent(event, seq, time, last.hash);
      logged = sealed.event;
      const bytes = utf8Bytes(toRecord(sealed));
      this.queue.records.push({ seq, runId: event.runId, hash: logged.hash, time, bytes, from: 0, to: bytes.length });
    }
    last.seq = seq;
    last.hash = logged.hash;
    last.time = time;
    const records = this.queue.records;
    const sealed = records[records.length - 1];
    this.count(event, sealed.to - sealed.from);
    return logged;
  }

  /** Adds a sealed record's bytes to its run's count (see runBytes). */
  private count(event: NewEvent, bytes: number): void {
    const runs = this.liveRuns;
    if (runs.size === 0 && event.type !== "spawn") return;
    const live = runs.get(event.runId);
    if (live === undefined) {
      if (event.type === "spawn") runs.set(event.runId, { bytes });
    } else if (event.type === "exit") runs.delete(event.runId);
    else live.bytes += bytes;
  }

  runBytes(runId: string): number {
    if (this.queuedCount > 0 && !this.failure) this.sealQueued(Infinity);
    return this.liveRuns.get(runId)?.bytes ?? 0;
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

  /** Resolves with `result` when everything sealed so far is durable. */
  private enqueue<T>(result: T): Promise<T> {
    const upTo = this.last.seq;
    const done = new Promise<T>((resolve, reject) => {
      this.waiters.push({ upTo, result, resolve: resolve as (value: unknown) => void, reject });
    });
    this.scheduleFlush();
    return done;
  }

  /** Starts the flush loop on a microtask, so that appends made in the same turn share the first batch. */
  private scheduleFlush(): void {
    if (!this.flushing) this.flushing = Promise.resolve().then(() => this.flush());
  }

  private async flush(): Promise<void> {
    let next = this.prepareNext();
    while (next) {
      const current = next;
      next = undefined;
      try {
        const writing = current.write.commit();
        // A backlog of a full batch or more (a burst of appends): seal and prepare the next batch
        // while this one is written (on LevelDB's own thread). Otherwise the next batch is
        // everything that queues meanwhile, as group commit wants.
        if (this.queue.records.length + this.queuedCount >= this.maxBatch) next = this.prepareNext();
        await writing;
      } catch (err) {
        next?.write.discard();
        this.fail(err, [...current.done, ...(next?.done ?? [])]);
        break;
      }
      this.writtenSeq = Math.max(this.writtenSeq, current.seq);
      for (const w of current.done) w.resolve(w.result);
      next ??= this.prepareNext();
    }
    this.flushing = undefined;
    // A waiter for events already written (appendMany([]) on an idle log) has no batch to wait for.
    this.resolveWritten();
  }

  private resolveWritten(): void {
    let n = 0;
    while (n < this.waiters.length && this.waiters[n].upTo <= this.writtenSeq) n++;
    if (n === 0 || this.queue.records.length > 0 || this.queuedCount > 0) return;
    for (const w of this.waiters.splice(0, n)) w.resolve(w.result);
  }

  /** Seals queued appends into the next batch and prepares its write; undefined when there is nothing to write. */
  private prepareNext(): { write: PreparedWrite; done: Pending[]; seq: number } | undefined {
    for (;;) {
      if (this.queue.records.length < this.maxBatch) this.sealQueued(this.maxBatch - this.queue.records.length);
      if (this.queue.records.length > 0 || this.queue.blobs.length > 0) break;
      if (this.queuedCount === 0) return undefined; // (the queued appends that were left all failed to seal)
    }
    const batch = this.takeBatch();
    const waiters = this.waiters;
    let n = 0;
    while (n < waiters.length && waiters[n].upTo <= batch.head.seq) n++;
    const done = waiters.splice(0, n);
    try {
      const write = this.backend.prepare(batch);
      // The batch's bytes are copied: the arena can start over once no sealed record is left in it.
      if (this.queue.records.length === 0) this.writer.recycle();
      return { write, done, seq: batch.head.seq };
    } catch (err) {
      this.fail(err, done);
      return undefined;
    }
  }

  /** A write failed: every append in flight or queued is rejected, and the log refuses appends from now on. */
  private fail(err: unknown, inFlight: Pending[]): void {
    const why = (err as Error)?.message ?? String(err);
    this.failure = new LogError(`cannot write to the log at ${this.backend.location}: ${why}`, { cause: err });
    for (const w of inFlight) w.reject(this.failure);
    for (const w of this.waiters) w.reject(this.failure);
    for (let i = this.unsealedAt; i < this.unsealed.length; i++) this.unsealed[i].reject(this.failure);
    this.waiters = [];
    this.unsealed = [];
    this.unsealedAt = 0;
    this.queue = emptyBatch(this.last);
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
    const last = records[records.length - 1];
    return { records, blobs: q.blobs.splice(0), head: { seq: last.seq, hash: last.hash, time: last.time } };
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
    if (this.queuedCount > 0 && !this.failure) this.sealQueued(Infinity);
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

const HASH = /^[0-9a-f]{64}$/;

function emptyBatch(head: HeadRecord): Batch {
  return { records: [], blobs: [], head: { ...head } };
}

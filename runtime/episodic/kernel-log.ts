/**
 * The interface of the log `openLog` gives: a hash chain with group commit over a backend, which
 * log.ts implements.
 */
import type { EventLog, EventQuery, LoggedEvent, NewEvent, VerifyReport } from "../types.js";

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
   * It gives back the event's sequence number only: what the gate needs, and all that can be
   * had without decoding the sealed record back into an event.
   * @throws LogError when the log is closed, has failed, or the event cannot be encoded.
   */
  stage(event: NewEvent): { seq: number; written: Promise<void> };
  /** Appends several events as consecutive sequence numbers; resolves once all are durable. */
  appendMany(events: NewEvent[]): Promise<LoggedEvent[]>;
  /** Streams events matching the filter, oldest first unless `order: "newest"`. */
  query(filter?: EventQuery): AsyncIterable<LoggedEvent>;
  /** One event by sequence number; undefined when there is none. */
  get(seq: number): Promise<LoggedEvent | undefined>;
  /** The newest event's sequence number and hash (0 and the genesis hash when empty). */
  head(): { seq: number; hash: string };
  /**
   * The bytes of a live run's events as stored (their records, UTF-8), counted from its spawn
   * event, sealed so far (the queued appends are sealed first). 0 for a run whose spawn event
   * this handle did not write, and once its exit event is sealed (the count is then dropped).
   * The gate holds it against the run's `logBytes` limit.
   */
  runBytes(runId: string): number;
  /** Recomputes the whole chain from the stored records. */
  verify(): Promise<VerifyReport>;
  /** Stores bytes under their sha256 (hex) and resolves with it once durable. */
  putBlob(bytes: Uint8Array): Promise<string>;
  /** The bytes stored under a hash; undefined when absent. Throws LogError if they were altered. */
  getBlob(hash: string): Promise<Uint8Array | undefined>;
  /** Waits for queued appends, then releases the directory. Idempotent. */
  close(): Promise<void>;
}

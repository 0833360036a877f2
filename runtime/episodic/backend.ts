/**
 * What the chained log needs from a storage engine: an atomic batch write, point reads and
 * ordered range reads. LevelDB (`level.ts`) and memory (`memory.ts`) implement it; the hash
 * chain, group commit, query and verify sit above it and are shared.
 *
 * The stored form of an event is its record: the 64 hex digits of its hash followed by its
 * canonical body (see `encoding.ts`), so verification hashes the stored text as it is.
 */
import { chainHash, type SealedEvent } from "./encoding.js";
import type { LoggedEvent } from "../types.js";

/** The newest event's place in the chain, written with every batch. */
export interface HeadRecord {
  seq: number;
  hash: string;
  time: number;
}

/**
 * A sealed event ready to store: its place, and its record as UTF-8 bytes, `bytes` from `from`
 * to `to` (an arena that the log reuses once the batch is prepared).
 */
export interface BatchRecord {
  seq: number;
  runId: string;
  hash: string;
  time: number;
  bytes: Uint8Array;
  from: number;
  to: number;
}

/** One atomic write: events (in sequence order), blobs, and the head after them. */
export interface Batch {
  records: BatchRecord[];
  blobs: Array<{ hash: string; bytes: Uint8Array }>;
  head: HeadRecord;
}

/**
 * A stored event as read back: its sequence number from the key, the stored text, and
 * whether it is stored alone under its own key (LevelDB logs written before segments).
 */
export type RawRecord = [seq: number, value: string, alone?: boolean];

export interface RangeOptions {
  /** Inclusive bounds on sequence numbers. */
  from: number;
  to: number;
  reverse: boolean;
  /** Called with each run mark met among the records (backends that mark runs), in key order. */
  onRunMark?: (seq: number, runId: string) => void;
  /** Called with each blob met among the records (LevelDB keeps a batch's blobs after its records), in key order. */
  onBlob?: (place: BlobPlace) => void;
}

/**
 * Where one copy of a blob is stored: with the batch whose last event is `seq` (0 when the
 * batch held no event), or, with `seq` -1, under the key of LevelDB logs written before
 * segments (`b!<hash>`). A blob stored by two kernels is stored twice.
 */
export interface BlobPlace {
  hash: string;
  seq: number;
}

/** A batch made ready to write (for LevelDB: every put done), not written yet. */
export interface PreparedWrite {
  /** Writes the whole batch or nothing; durable (fsync) before it resolves, if the backend is durable. */
  commit(): Promise<void>;
  /** Drops it unwritten. */
  discard(): void;
}

export interface LogBackend {
  readonly durable: boolean;
  /**
   * Whether the run index is marks stored among the records (LevelDB logs written with
   * segments), which a range read hands to `onRunMark` so that verify can check them, rather
   * than kept by the backend itself (memory).
   */
  readonly marksRuns: boolean;
  /** Where the log lives, for messages: a directory or "memory". */
  readonly location: string;
  /**
   * Makes a batch ready to write, on the caller's thread, so that the log can prepare the next
   * batch while the previous one is being written. Batches are committed in the order prepared,
   * one at a time. The records' bytes are copied (the log reuses them once this returns).
   */
  prepare(batch: Batch): PreparedWrite;
  /**
   * The head written with the last batch, if any. A head record that is there but damaged
   * comes back with its sequence number (when the key gives it) and an empty hash, which no
   * event's hash matches: verify then reports the event it should name.
   */
  readHead(): Promise<HeadRecord | undefined>;
  /** The record with the highest sequence number. */
  last(): Promise<RawRecord | undefined>;
  get(seq: number): Promise<string | undefined>;
  /** Records in key order, in chunks, read lazily. */
  range(options: RangeOptions): AsyncIterable<RawRecord[]>;
  /** The sequence number of a run's first event, from the run index; undefined for an unknown run. */
  runStart(runId: string): Promise<number | undefined>;
  getBlob(hash: string): Promise<Uint8Array | undefined>;
  /**
   * The blobs that a range read does not meet (LevelDB: those stored under the keys of logs
   * written before segments; memory: all of them), so that verify sees every stored blob.
   */
  blobsAside(): Promise<BlobPlace[]>;
  /** The bytes stored at each place, in order; undefined where nothing is. */
  readBlobs(places: BlobPlace[]): Promise<Array<Uint8Array | undefined>>;
  close(): Promise<void>;
}

/** The stored text of a sealed event. */
export function toRecord(sealed: SealedEvent): string {
  return sealed.event.hash + sealed.body;
}

/**
 * Reads a stored record back into an event. Throws SyntaxError on a mangled record.
 *
 * @example parseRecord(toRecord(sealed)).seq === sealed.event.seq
 */
export function parseRecord(value: string): LoggedEvent {
  const event = JSON.parse(value.slice(64)) as LoggedEvent;
  event.hash = value.slice(0, 64);
  return event;
}

/** Whether a stored record's hash matches its body and the given previous hash. */
export function recordHashMatches(value: string, prev: string): boolean {
  return chainHash(prev, value.slice(64)) === value.slice(0, 64);
}

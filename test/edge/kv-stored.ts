/**
 * Reaching into a memory key-value store under a KV log, as a tamperer would: segments are
 * `s!<last><first>` -> records (hash + body) joined by newlines, as UTF-8 bytes.
 */
import type { MemoryKvStore } from "../../dist/runtime/edge/stores/index.js";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The segment holding event `seq`: its key, its first event and its records. */
export function holding(store: MemoryKvStore, seq: number): { key: string; first: number; records: string[] } {
  for (const [key, value] of store.data) {
    if (!key.startsWith("s!") || key.length !== 34) continue;
    const last = Number(key.slice(2, 18));
    const first = Number(key.slice(18));
    if (first <= seq && seq <= last) return { key, first, records: decoder.decode(value as Uint8Array).split("\n") };
  }
  throw new Error(`no segment holds event ${seq}`);
}

/** Rewrites the stored record of event `seq` in place. */
export function editStored(store: MemoryKvStore, seq: number, edit: (record: string) => string): void {
  const { key, first, records } = holding(store, seq);
  const before = records[seq - first];
  records[seq - first] = edit(before);
  if (records[seq - first] === before) throw new Error(`the edit changed nothing in event ${seq}`);
  store.data.set(key, encoder.encode(records.join("\n")));
}

/** The keys of the store under a prefix, in order. */
export function keysUnder(store: MemoryKvStore, prefix: string): string[] {
  return [...store.data.keys()].filter((k) => k.startsWith(prefix)).sort();
}

/** The largest value in the store, in bytes (a view counts its whole buffer, as a host serializes it). */
export function largestValue(store: MemoryKvStore): number {
  let most = 0;
  for (const value of store.data.values()) most = Math.max(most, typeof value === "string" ? value.length : value.buffer.byteLength);
  return most;
}

/** Whether two byte arrays hold the same bytes (vitest's toEqual walks a large array slowly). */
export function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && Buffer.compare(a, b) === 0;
}

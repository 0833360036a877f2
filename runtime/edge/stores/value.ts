import type { KvValue } from "../kv-backend.js";

/**
 * A value read from a host's store, as the log wrote it (text or bytes); other bytes as a
 * Uint8Array, and anything else as text, which the log then finds damaged.
 */
export function asKvValue(value: unknown): KvValue {
  if (typeof value === "string" || value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return String(value);
}

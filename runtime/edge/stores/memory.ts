/**
 * A key-value store in memory, for tests and for hosts without storage. It holds what a Durable
 * Object's storage would, and refuses what that would (too many keys in one put, a value or a
 * key too large: Cloudflare's limits, which local workerd does not enforce), so that a log that
 * works here fits a Durable Object. Values are copied in and out, as a host's structured clone
 * copies them. Each list sorts the keys anew (so that a test may change `data`): for tests and
 * small logs; a host without storage keeps a long log in createMemoryBackend instead.
 */
import type { KvLimits, KvStore, KvValue } from "../kv-backend.js";

/** Options of {@link memoryKvStore}. Defaults: Durable Object storage's limits (128 keys a put, 128 KiB a value, 2 KiB a key); no failing puts. */
export interface MemoryKvStoreOptions {
  keysPerPut?: number;
  /** The most bytes a value may take, measured as V8 serializes it: a view's whole buffer, a string at 1 or 2 bytes a character. */
  valueBytes?: number;
  /** The most UTF-8 bytes a key may take. */
  keyBytes?: number;
  /** How many puts, from the first one, fail (reject, storing nothing). */
  failPuts?: number;
}

/** A memory store, open to tests: its entries, its puts, and puts made to fail. */
export interface MemoryKvStore extends KvStore {
  /** Every entry, in no order. A test may change it (to tamper), as the store's list reads it anew. */
  readonly data: Map<string, KvValue>;
  /** The puts stored so far, each as its keys in the order given. */
  readonly puts: string[][];
  /** Makes the next `n` puts fail: each rejects and stores nothing. */
  failNextPuts(n: number): void;
}

/**
 * A key-value store in memory.
 *
 * @example const log = await createChainLog(createKvBackend(memoryKvStore()));
 */
export function memoryKvStore(options: MemoryKvStoreOptions = {}): MemoryKvStore {
  const limits: KvLimits = { keysPerPut: options.keysPerPut ?? 128, valueBytes: options.valueBytes ?? 128 * 1024 };
  const keyBytes = options.keyBytes ?? 2048;
  const data = new Map<string, KvValue>();
  const puts: string[][] = [];
  let failing = options.failPuts ?? 0;
  return {
    durable: false,
    location: "memory",
    limits,
    data,
    puts,
    failNextPuts(n: number) {
      failing = n;
    },
    async get(key) {
      const value = data.get(key);
      return value === undefined ? undefined : clone(value);
    },
    async put(entries) {
      if (failing > 0) {
        failing--;
        throw new Error("the memory store failed this put (as the test asked)");
      }
      check(entries, limits, keyBytes);
      for (const [key, value] of entries) data.set(key, clone(value));
      puts.push(entries.map(([key]) => key));
    },
    async list({ start, end, reverse = false, limit = Infinity }) {
      const keys = [...data.keys()].filter((k) => k >= start && k < end).sort();
      if (reverse) keys.reverse();
      return keys.slice(0, limit).map((k) => [k, clone(data.get(k)!)]);
    },
  };
}

/** Refuses a put that Durable Object storage would refuse, naming the limit. */
function check(entries: Array<[string, KvValue]>, limits: KvLimits, keyBytes: number): void {
  if (entries.length > limits.keysPerPut) throw new RangeError(`a put of ${entries.length} keys: the most is ${limits.keysPerPut}`);
  const encoder = new TextEncoder();
  for (const [key, value] of entries) {
    if (encoder.encode(key).length > keyBytes) throw new RangeError(`a key of more than ${keyBytes} bytes`);
    const size = typeof value === "string" ? value.length * (/[^\u0000-\u00ff]/.test(value) ? 2 : 1) : value.buffer.byteLength;
    if (size > limits.valueBytes) throw new RangeError(`the value of ${key} takes ${size} bytes: the most is ${limits.valueBytes}`);
  }
}

function clone(value: KvValue): KvValue {
  return typeof value === "string" ? value : new Uint8Array(value);
}

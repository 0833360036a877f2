/**
 * A Durable Object's storage (`ctx.storage`, its asynchronous key-value API) as a KvStore.
 * Each of its calls is a transaction of its own, so one `put` of many entries is all or
 * nothing; it takes at most 128 entries, and values of at most 128 KiB (2 MiB on SQLite-backed
 * objects), which the log's layout keeps to.
 *
 * A resolved put may still be on its way to disk, but the object's output gate holds every
 * message it sends (a response, a fetch) until the write is, so nothing leaves the object that
 * an event not yet durable would have had to come before.
 *
 * Open one log per object instance (keep it on the instance): two logs over one storage at a
 * time would fork the chain.
 */
import { DURABLE_OBJECT_LIMITS, type KvStore, type KvValue } from "../kv-backend.js";
import { asKvValue } from "./value.js";

/** The part of a Durable Object's storage used here (described, not imported: Cloudflare's types stay the host's). */
export interface DurableObjectStorageLike {
  get(key: string): Promise<unknown>;
  put(entries: Record<string, unknown>): Promise<void>;
  list(options: { start?: string; end?: string; reverse?: boolean; limit?: number }): Promise<Map<string, unknown>>;
}

/**
 * A KvStore over a Durable Object's storage.
 *
 * @example
 * export class LogObject {
 *   constructor(ctx) { this.log = createChainLog(createKvBackend(durableObjectKvStore(ctx.storage))); }
 * }
 */
export function durableObjectKvStore(storage: DurableObjectStorageLike): KvStore {
  return {
    durable: true,
    location: "durable object",
    limits: DURABLE_OBJECT_LIMITS,
    async get(key) {
      const value = await storage.get(key);
      return value === undefined ? undefined : asKvValue(value);
    },
    async put(entries) {
      const object: Record<string, unknown> = {};
      for (const [key, value] of entries) object[key] = value;
      await storage.put(object);
    },
    async list({ start, end, reverse, limit }) {
      const found = await storage.list(limit === undefined ? { start, end, reverse } : { start, end, reverse, limit });
      return Array.from(found, ([key, value]): [string, KvValue] => [key, asKvValue(value)]);
    },
  };
}

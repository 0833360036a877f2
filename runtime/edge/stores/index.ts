/**
 * The key-value stores the log can live on (see kv-backend.ts): one file a host.
 */
export { memoryKvStore, type MemoryKvStore, type MemoryKvStoreOptions } from "./memory.js";
export { durableObjectKvStore, type DurableObjectStorageLike } from "./durable-object.js";
export { indexedDbKvStore, type IndexedDbApi } from "./indexeddb.js";

/**
 * IndexedDB as a KvStore, for the log in a browser: one database of one object store, keys the
 * log's strings, values text or bytes (structured clone keeps a Uint8Array a Uint8Array). Each
 * put is one readwrite transaction, so all or nothing, with `durability: "strict"` (the browser
 * flushes before it completes); IndexedDB has no limit on the keys of a transaction, so every
 * batch is one put.
 *
 * The project compiles without the DOM library: the few IndexedDB types used are declared here.
 */
import type { KvStore, KvValue } from "../kv-backend.js";
import { asKvValue } from "./value.js";

interface IdbRequest<T> {
  readonly result: T;
  readonly error: unknown;
  onsuccess: ((this: unknown, ev: unknown) => void) | null;
  onerror: ((this: unknown, ev: unknown) => void) | null;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: ((this: unknown, ev: unknown) => void) | null;
  onblocked: ((this: unknown, ev: unknown) => void) | null;
}
interface IdbCursor {
  readonly key: unknown;
  readonly value: unknown;
  continue(): void;
}
interface IdbObjectStore {
  get(key: string): IdbRequest<unknown>;
  put(value: unknown, key: string): IdbRequest<unknown>;
  getAll(range: unknown, count?: number): IdbRequest<unknown[]>;
  getAllKeys(range: unknown, count?: number): IdbRequest<unknown[]>;
  openCursor(range: unknown, direction: "next" | "prev"): IdbRequest<IdbCursor | null>;
}
interface IdbTransaction {
  readonly error: unknown;
  objectStore(name: string): IdbObjectStore;
  abort(): void;
  oncomplete: ((this: unknown, ev: unknown) => void) | null;
  onerror: ((this: unknown, ev: unknown) => void) | null;
  onabort: ((this: unknown, ev: unknown) => void) | null;
}
interface IdbDatabase {
  readonly objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string): unknown;
  transaction(names: string, mode: "readonly" | "readwrite", options?: { durability?: "strict" | "relaxed" | "default" }): IdbTransaction;
  close(): void;
  onversionchange: ((this: unknown, ev: unknown) => void) | null;
}
/** `indexedDB` and `IDBKeyRange`, as the host (or a test's stand-in) gives them. */
export interface IndexedDbApi {
  indexedDB: { open(name: string, version?: number): IdbOpenRequest };
  IDBKeyRange: { bound(lower: string, upper: string, lowerOpen?: boolean, upperOpen?: boolean): unknown };
}

/** The object store every entry is in. */
const STORE = "kv";

/**
 * Opens (creating if needed) the IndexedDB database `name` as a KvStore. `api` defaults to the
 * host's globals `indexedDB` and `IDBKeyRange`.
 *
 * @example const log = await createChainLog(createKvBackend(await indexedDbKvStore("agent-os-log")));
 * @throws Error when the host has no IndexedDB or the database cannot be opened.
 */
export async function indexedDbKvStore(name: string, api: IndexedDbApi = globalThis as unknown as IndexedDbApi): Promise<KvStore> {
  if (!api?.indexedDB || !api.IDBKeyRange) throw new Error("this host has no IndexedDB");
  const db = await openDatabase(api, name);
  // Another page upgrading the database asks this one to let go of it.
  db.onversionchange = () => db.close();
  const range = (start: string, end: string) => api.IDBKeyRange.bound(start, end, false, true);
  return {
    durable: true,
    location: `indexeddb:${name}`,
    limits: { keysPerPut: Infinity, valueBytes: Infinity },
    async get(key) {
      const store = db.transaction(STORE, "readonly").objectStore(STORE);
      const value = await done(store.get(key));
      return value === undefined ? undefined : asKvValue(value);
    },
    put: (entries) => putAll(db, entries),
    async list({ start, end, reverse = false, limit }) {
      if (!(start < end) || limit === 0) return [];
      const store = db.transaction(STORE, "readonly").objectStore(STORE);
      if (reverse) return readCursor(store.openCursor(range(start, end), "prev"), limit ?? Infinity);
      // (one transaction: the keys and values are of one snapshot)
      const count = limit === undefined || limit > 0xffffffff ? undefined : limit;
      const [keys, values] = await Promise.all([done(store.getAllKeys(range(start, end), count)), done(store.getAll(range(start, end), count))]);
      return keys.map((key, i): [string, KvValue] => [String(key), asKvValue(values[i])]);
    },
    async close() {
      db.close();
    },
  };
}

function openDatabase(api: IndexedDbApi, name: string): Promise<IdbDatabase> {
  return new Promise((resolve, reject) => {
    const request = api.indexedDB.open(name, 1);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(asError(request.error, `cannot open the IndexedDB database ${name}`));
    // (another page holds an older version open: opening waits until it closes it)
    request.onblocked = () => undefined;
  });
}

/** Puts every entry in one readwrite transaction: resolves once it completes, rejects (storing nothing) when it aborts. */
function putAll(db: IdbDatabase, entries: Array<[string, KvValue]>): Promise<void> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, "readwrite", { durability: "strict" });
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(asError(tx.error, "the IndexedDB transaction was aborted"));
    // (a failed request aborts the transaction: onabort rejects)
    tx.onerror = () => undefined;
    try {
      const store = tx.objectStore(STORE);
      for (const [key, value] of entries) store.put(value, key);
    } catch (err) {
      // (a put that throws at once, such as a value that cannot be cloned: nothing is written)
      reject(err);
      try {
        tx.abort();
      } catch {
        // (already finished)
      }
    }
  });
}

/** Up to `limit` entries under a cursor, in its direction. */
function readCursor(request: IdbRequest<IdbCursor | null>, limit: number): Promise<Array<[string, KvValue]>> {
  const out: Array<[string, KvValue]> = [];
  return new Promise((resolve, reject) => {
    request.onsuccess = () => {
      const cursor = request.result;
      if (cursor === null) return resolve(out);
      out.push([String(cursor.key), asKvValue(cursor.value)]);
      if (out.length >= limit) resolve(out);
      else cursor.continue();
    };
    request.onerror = () => reject(asError(request.error, "an IndexedDB cursor failed"));
  });
}

function done<T>(request: IdbRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(asError(request.error, "an IndexedDB request failed"));
  });
}

function asError(error: unknown, message: string): Error {
  return error instanceof Error ? error : new Error(error ? `${message}: ${String((error as { name?: string }).name ?? error)}` : message);
}

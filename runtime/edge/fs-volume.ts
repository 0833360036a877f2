/**
 * One mount of the edge fs: a tree held in memory, loaded from a host's key-value store when
 * the kernel starts and written through to it (a change is applied in memory only once the
 * store has it). The tree is the kernel's, shared by its runs; its changes go one at a time.
 *
 * Keys (paths relative to the mount's root, without a leading `/`, so that a store can be
 * mounted at any guest path):
 * - `m!<path>` -> JSON text: `{"k":"d","t":mtime}` a directory, `{"k":"f","t":mtime,"s":size,
 *   "g":0|1,"n":parts}` a file, or `"x"` an entry removed (the KvStore contract has no delete);
 * - `c!<g>!<path>!<i>` (8 digits, from 0) -> part i of a file's bytes, each under the store's
 *   value limit. A file's parts alternate between two generations `g`: a rewrite fills the
 *   parts of the other generation, then its `m!` key names them, so that a write spread over
 *   several puts (more parts than a put takes) never leaves a file half old and half new.
 *
 * A change whose keys fit one put is atomic; a larger one (a big file, a recursive remove) goes
 * in several puts, ordered so that each leaves a whole tree: parts before the entry that names
 * them, children removed before their directory. The parts of removed files and of an older
 * generation stay in the store (no delete), at most twice a file's largest size.
 *
 * One kernel per store at a time: two writers would each hold a stale tree.
 */
import type { KvLimits, KvStore, KvValue } from "./kv-backend.js";
import { DURABLE_OBJECT_LIMITS } from "./kv-backend.js";
import { UsageError } from "../errors.js";

export interface VFile {
  kind: "file";
  mtime: number;
  size: number;
  gen: 0 | 1;
  parts: number;
  /** The bytes, once read or written (loaded lazily: the tree keeps only metadata at start). */
  bytes?: Uint8Array;
}

export interface VDir {
  kind: "directory";
  mtime: number;
  children: Map<string, VEntry>;
}

export type VEntry = VFile | VDir;

/** One put's worth of changes, applied to the tree once the store has it. */
export interface Change {
  entries: Array<[string, KvValue]>;
}

/** Room left in each part for the host's encoding of it. */
const VALUE_SLACK = 1024;
/** Keys read by one list while loading. */
const PAGE = 512;
const META = "m!";
const META_END = 'm"';

export const metaKey = (rel: string): string => META + rel;
const partKey = (gen: number, rel: string, i: number): string => `c!${gen}!${rel}!${String(i).padStart(8, "0")}`;

/** The tree of one mount over its store. */
export class Volume {
  readonly root: VDir;
  private readonly limits: KvLimits;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly store: KvStore,
    readonly readOnly: boolean,
    now: number,
  ) {
    this.root = { kind: "directory", mtime: now, children: new Map() };
    this.limits = store.limits ?? DURABLE_OBJECT_LIMITS;
    if (!(this.limits.keysPerPut >= 2) || !(this.limits.valueBytes > 2 * VALUE_SLACK)) {
      throw new UsageError(`an fs store must take at least 2 keys a put and ${2 * VALUE_SLACK} bytes a value`);
    }
  }

  /**
   * Loads a mount's tree (metadata only) from its store.
   * @example const volume = await Volume.load(memoryKvStore(), false, Date.now());
   */
  static async load(store: KvStore, readOnly: boolean, now: number): Promise<Volume> {
    const volume = new Volume(store, readOnly, now);
    const found: Array<[string, VEntry]> = [];
    let start = META;
    for (;;) {
      const page = await store.list({ start, end: META_END, limit: PAGE });
      for (const [key, value] of page) {
        const entry = parseMeta(value);
        if (entry) found.push([key.slice(META.length), entry]);
      }
      if (page.length < PAGE) break;
      start = page[page.length - 1][0] + "\0";
    }
    // Parents before children; an entry whose parent is gone or a file (a damaged store) is left out.
    found.sort((a, b) => a[0].split("/").length - b[0].split("/").length);
    for (const [rel, entry] of found) {
      const segments = rel.split("/");
      const parent = volume.lookup(segments.slice(0, -1));
      if (parent?.kind === "directory") parent.children.set(segments[segments.length - 1], entry);
    }
    return volume;
  }

  /** The entry at segments below the root, or undefined. */
  lookup(segments: readonly string[]): VEntry | undefined {
    let here: VEntry = this.root;
    for (const name of segments) {
      if (here.kind !== "directory") return undefined;
      const next = here.children.get(name);
      if (next === undefined) return undefined;
      here = next;
    }
    return here;
  }

  /** Runs changes one at a time, in the order asked. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.queue.then(fn);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every change asked so far is done (or failed). */
  idle(): Promise<void> {
    return this.queue.then(() => undefined);
  }

  /** A file's bytes, from memory or read from its parts (call inside `exclusive`: a rewrite reuses the other generation's keys). */
  async bytesOf(file: VFile, rel: string): Promise<Uint8Array> {
    if (file.bytes) return file.bytes;
    const out = new Uint8Array(file.size);
    let at = 0;
    for (let i = 0; i < file.parts; i++) {
      const value = await this.store.get(partKey(file.gen, rel, i));
      const part = typeof value === "string" || value === undefined ? new Uint8Array(0) : value;
      if (at + part.byteLength > file.size) throw new Error(`the store holds more bytes for ${rel} than its entry says`);
      out.set(part, at);
      at += part.byteLength;
    }
    if (at !== file.size) throw new Error(`the store holds ${at} bytes for ${rel}, not ${file.size}`);
    file.bytes = out;
    return out;
  }

  /** Stores a file's new content (parts first, then its entry); resolves to the entry to put in the tree. */
  async storeFile(rel: string, old: VFile | undefined, bytes: Uint8Array, mtime: number): Promise<VFile> {
    const gen: 0 | 1 = old ? (old.gen === 0 ? 1 : 0) : 0;
    const partBytes = this.limits.valueBytes - VALUE_SLACK;
    const entries: Array<[string, KvValue]> = [];
    // Each part a copy of its own (a view's whole buffer would count against the value limit).
    for (let i = 0, at = 0; at < bytes.byteLength; i++, at += partBytes) entries.push([partKey(gen, rel, i), bytes.slice(at, at + partBytes)]);
    const file: VFile = { kind: "file", mtime, size: bytes.byteLength, gen, parts: entries.length };
    entries.push([metaKey(rel), metaOf(file)]);
    await this.putInOrder(entries);
    file.bytes = bytes;
    return file;
  }

  /** Puts entries in order, as few puts as the store's limit allows (one, atomic, when they fit). */
  async putInOrder(entries: Array<[string, KvValue]>): Promise<void> {
    for (let i = 0; i < entries.length; i += this.limits.keysPerPut) await this.store.put(entries.slice(i, i + this.limits.keysPerPut));
  }
}

/** The `m!` value of an entry. */
export function metaOf(entry: VEntry): string {
  return entry.kind === "directory" ? JSON.stringify({ k: "d", t: entry.mtime }) : JSON.stringify({ k: "f", t: entry.mtime, s: entry.size, g: entry.gen, n: entry.parts });
}

export const REMOVED = '"x"';

function parseMeta(value: KvValue): VEntry | undefined {
  if (typeof value !== "string") return undefined;
  let m: { k?: unknown; t?: unknown; s?: unknown; g?: unknown; n?: unknown };
  try {
    m = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (m === null || typeof m !== "object") return undefined; // "x": removed
  const mtime = typeof m.t === "number" ? m.t : 0;
  if (m.k === "d") return { kind: "directory", mtime, children: new Map() };
  if (m.k === "f" && Number.isSafeInteger(m.s) && (m.g === 0 || m.g === 1) && Number.isSafeInteger(m.n)) {
    return { kind: "file", mtime, size: m.s as number, gen: m.g, parts: m.n as number };
  }
  return undefined;
}

/**
 * The edge kernel's `fs` option: guest paths mapped onto a host's key-value stores, checked
 * when the kernel is created and loaded once (each store's tree read into memory).
 */
import { canonicalPath } from "../canonical.js";
import { GuestError, UsageError } from "../errors.js";
import type { EdgeMount } from "./fs.js";
import { Volume } from "./fs-volume.js";
import type { KvStore } from "./kv-backend.js";

/**
 * One mount of the edge fs. Default: read-write.
 *
 * @example { store: memoryKvStore() } // or { store: durableObjectKvStore(ctx.storage), readOnly: true }
 */
export interface EdgeMountSpec {
  /** Where the mount's tree is kept (see fs-volume.ts for its keys). One kernel per store at a time. */
  store: KvStore;
  readOnly?: boolean;
}

/** The `fs` option of EdgeKernel. Default: no mounts (every fs call answers `not-found`). */
export interface EdgeFsOption {
  mounts: Record<string, EdgeMountSpec>;
}

/**
 * Checks the option; returns the mounts with canonical guest paths.
 * @throws UsageError for a bad guest path, a store without get/put/list, or a non-boolean readOnly.
 */
export function checkEdgeFs(option: EdgeFsOption | undefined): Array<{ guest: string; spec: EdgeMountSpec }> {
  if (option === undefined) return [];
  if (!option || typeof option !== "object" || !option.mounts || typeof option.mounts !== "object") throw new UsageError('EdgeKernel: fs must be { mounts: { "/workspace": { store } } }');
  const out: Array<{ guest: string; spec: EdgeMountSpec }> = [];
  for (const [given, spec] of Object.entries(option.mounts)) {
    let guest: string;
    try {
      guest = canonicalPath(given);
    } catch (error) {
      throw new UsageError(`EdgeKernel: fs mount ${JSON.stringify(given)}: ${error instanceof GuestError ? error.error.val : error}`);
    }
    const store = spec?.store;
    if (!store || typeof store.get !== "function" || typeof store.put !== "function" || typeof store.list !== "function") {
      throw new UsageError(`EdgeKernel: fs mount ${guest}: store must be a KvStore (get, put, list)`);
    }
    if (spec.readOnly !== undefined && typeof spec.readOnly !== "boolean") throw new UsageError(`EdgeKernel: fs mount ${guest}: readOnly must be true or false`);
    if (out.some((m) => m.guest === guest)) throw new UsageError(`EdgeKernel: fs mount ${guest} is given twice`);
    // (the log's keys and the fs's do not meet, so a log may share a mount's store; two mounts may not)
    const sharing = out.find((m) => m.spec.store === store);
    if (sharing) throw new UsageError(`EdgeKernel: fs mounts ${sharing.guest} and ${guest} use the same store: their trees would mix`);
    out.push({ guest, spec });
  }
  return out;
}

/** Loads every mount's tree from its store. */
export async function loadEdgeMounts(mounts: Array<{ guest: string; spec: EdgeMountSpec }>, now: number): Promise<EdgeMount[]> {
  return Promise.all(mounts.map(async ({ guest, spec }) => ({ guest, volume: await Volume.load(spec.store, spec.readOnly === true, now) })));
}

/**
 * The `fs` capability on edge hosts and in browsers: mounts backed by trees in memory, each
 * loaded from and written through to a host's key-value store (fs-volume.ts), with the same
 * contract (FsHost), errors and quotas as Node's (hosts/node/fs/fs.ts).
 *
 * A guest path belongs to the longest mount that holds it; nothing outside a mount exists
 * (`not-found`). `..` is resolved by canonicalPath before anything else, so `/workspace/../x`
 * is `/x`, outside the mount. This filesystem has no symbolic or hard links: `resolve` never
 * meets one, `links` is always empty and `resolved` is the canonical written path. Recursive
 * remove, recursive mkdir and listings are planned entry by entry, as on Node, so that the gate
 * decides each; a removal then touches planned entries only.
 *
 * Reads of a file already in memory and stats are synchronous; a file not read since the kernel
 * started is read from the store (a promise). Writes, removals and mkdir resolve once the store
 * has the change. An append rewrites the whole file (the store holds whole parts).
 */
import { canonicalPath, isWithin } from "../canonical.js";
import { GuestError, guestErrors } from "../errors.js";
import type { DirEntry, FollowLast, FsEntry, FsHost, FsTarget, RunQuota, StatInfo } from "../capabilities/types.js";
import { metaKey, metaOf, REMOVED, type VDir, type VEntry, type VFile, Volume } from "./fs-volume.js";
import type { KvValue } from "./kv-backend.js";

/** The most entries one recursive operation or listing may touch (as on Node). */
export const MAX_PLAN_ENTRIES = 10_000;

/** A loaded mount: its canonical guest path and tree. */
export interface EdgeMount {
  guest: string;
  volume: Volume;
}

export interface EdgeFsOptions {
  /** The kernel's mounts. Default: none (every path is not-found). */
  mounts: EdgeMount[];
  /** The run's counters and limits: `fsWriteBytes`, `fsFilesCreated`, `fsReadBytes`. */
  quota: RunQuota;
  /** The clock for modification times, in milliseconds. */
  now: () => number;
}

interface Place {
  mount: EdgeMount;
  segments: string[];
  guest: string;
}

/**
 * Creates the fs capability of one run over the kernel's loaded mounts.
 *
 * @example const fs = createEdgeFs({ mounts: [{ guest: "/workspace", volume }], quota, now: Date.now });
 *          await fs.writeText("/workspace/notes.txt", "hello", false);
 */
export function createEdgeFs(options: EdgeFsOptions): FsHost {
  const mounts = [...options.mounts].sort((a, b) => b.guest.length - a.guest.length);
  const { quota, now } = options;
  const mountOf = (guest: string) => mounts.find((m) => isWithin(guest, m.guest));
  const nestedIn = (mount: EdgeMount) => mounts.filter((o) => o !== mount && o.guest !== mount.guest && isWithin(o.guest, mount.guest)).map((o) => o.guest);
  const guestOf = (mount: EdgeMount, segments: readonly string[]) => (segments.length === 0 ? mount.guest : mount.guest === "/" ? `/${segments.join("/")}` : `${mount.guest}/${segments.join("/")}`);

  function resolve(path: string, _last: FollowLast): FsTarget {
    const written = canonicalPath(path);
    const mount = mountOf(written);
    const nowhere = (problem: GuestError): FsTarget => ({ written, resolved: written, missing: 0, links: [], problem });
    if (!mount) return nowhere(guestErrors.notFound(written));
    const segments = segmentsBelow(mount, written);
    let here: VEntry = mount.volume.root;
    for (let i = 0; i < segments.length; i++) {
      if (here.kind !== "directory") return nowhere(guestErrors.notFound(written)); // a file used as a directory
      const next: VEntry | undefined = here.children.get(segments[i]);
      if (next === undefined) return { written, resolved: written, missing: segments.length - i, links: [] };
      here = next;
    }
    return { written, resolved: written, missing: 0, links: [] };
  }

  function segmentsBelow(mount: EdgeMount, guest: string): string[] {
    const rest = guest.slice(mount.guest === "/" ? 1 : mount.guest.length + 1);
    return rest === "" ? [] : rest.split("/");
  }

  function placeOf(path: string | FsTarget, last: FollowLast): Place {
    const target = typeof path === "string" ? resolve(path, last) : path;
    if (target.problem) throw target.problem;
    const mount = mountOf(target.resolved);
    if (!mount) throw guestErrors.notFound(target.resolved);
    return { mount, segments: segmentsBelow(mount, target.resolved), guest: target.resolved };
  }

  /** The place a change acts on; a read-only mount refuses it whatever the path leads to (as on Node). */
  function writable(target: FsTarget): Place {
    const mount = mountOf(target.written);
    if (mount?.volume.readOnly) throw guestErrors.denied(null, `mount ${mount.guest} is read-only`);
    return placeOf(target, "keep");
  }

  const entryAt = (place: Place) => place.mount.volume.lookup(place.segments);
  const rel = (segments: readonly string[]) => segments.join("/");

  function existingFile(place: Place): VFile {
    const entry = entryAt(place);
    if (entry === undefined) throw guestErrors.notFound(place.guest);
    if (entry.kind === "directory") throw guestErrors.invalid(`${place.guest} is a directory`);
    const cap = quota.limits.fsReadBytes;
    if (entry.size > cap) throw guestErrors.limit(`${place.guest} is ${entry.size} bytes, more than the read limit of ${cap}`);
    return entry;
  }

  function read(path: string | FsTarget): Uint8Array | Promise<Uint8Array> {
    const place = placeOf(path, "follow");
    const file = existingFile(place);
    if (file.bytes) return file.bytes.slice();
    const { volume } = place.mount;
    // In turn with changes: the file is looked up again, and its parts are not rewritten while read.
    return volume.exclusive(async () => {
      const now = existingFile(place);
      const bytes = await volume.bytesOf(now, rel(place.segments)).catch(() => Promise.reject(guestErrors.io(`cannot read ${place.guest} from the store`)));
      return bytes.slice();
    });
  }

  function readText(path: string | FsTarget): string | Promise<string> {
    const guest = typeof path === "string" ? canonicalPath(path) : path.resolved;
    const bytes = read(path);
    return bytes instanceof Uint8Array ? decodeText(bytes, guest) : bytes.then((b) => decodeText(b, guest));
  }

  async function write(path: string | FsTarget, data: Uint8Array, append: boolean): Promise<void> {
    const place = writable(typeof path === "string" ? resolve(path, append ? "follow" : "keep") : path);
    if (!(data instanceof Uint8Array)) throw guestErrors.invalid("data must be bytes");
    if (place.segments.length === 0) throw guestErrors.invalid(`${place.guest} is a directory`);
    const { volume } = place.mount;
    await volume.exclusive(async () => {
      if (quota.fsBytesWritten + data.byteLength > quota.limits.fsWriteBytes) {
        throw guestErrors.limit(`writing ${data.byteLength} bytes would exceed the limit of ${quota.limits.fsWriteBytes} bytes written per run`);
      }
      const parentSegments = place.segments.slice(0, -1);
      const parent = volume.lookup(parentSegments);
      if (parent?.kind !== "directory") throw guestErrors.notFound(guestOf(place.mount, parentSegments));
      const name = place.segments[place.segments.length - 1];
      const existing = parent.children.get(name);
      if (existing?.kind === "directory") throw guestErrors.invalid(`${place.guest} is a directory`);
      const creates = existing === undefined;
      if (creates && quota.fsFilesCreated + 1 > quota.limits.fsFilesCreated) {
        throw guestErrors.limit(`creating ${place.guest} would exceed the limit of ${quota.limits.fsFilesCreated} files created per run`);
      }
      const path = rel(place.segments);
      let bytes = data.slice();
      if (append && existing) {
        const old = await volume.bytesOf(existing, path).catch(() => Promise.reject(guestErrors.io(`cannot read ${place.guest} from the store`)));
        bytes = new Uint8Array(old.byteLength + data.byteLength);
        bytes.set(old, 0);
        bytes.set(data, old.byteLength);
      }
      const file = await volume.storeFile(path, existing, bytes, now()).catch(storeError(place.guest));
      parent.children.set(name, file);
      quota.fsBytesWritten += data.byteLength;
      if (creates) quota.fsFilesCreated += 1;
    });
  }

  /** Every entry below a directory, parents first (breadth first, names sorted); `deep` false: its own only. */
  function walk(place: Place, deep: boolean): FsEntry[] {
    const start = entryAt(place);
    if (start?.kind !== "directory") throw guestErrors.notFound(place.guest);
    const out: FsEntry[] = [];
    const dirs: Array<[string[], VDir]> = [[place.segments, start]];
    for (let next = 0; next < dirs.length; next++) {
      const [segments, dir] = dirs[next];
      for (const name of [...dir.children.keys()].sort()) {
        if (out.length >= MAX_PLAN_ENTRIES) throw guestErrors.limit(`${place.guest} holds more than ${MAX_PLAN_ENTRIES} entries, the most one call may touch`);
        const child = dir.children.get(name)!;
        const childSegments = [...segments, name];
        out.push({ path: guestOf(place.mount, childSegments), kind: child.kind });
        if (deep && child.kind === "directory") dirs.push([childSegments, child]);
      }
    }
    return out;
  }

  function refuseNestedMounts(place: Place): void {
    const inner = nestedIn(place.mount).find((n) => isWithin(n, place.guest));
    if (inner !== undefined) throw guestErrors.denied(null, `${place.guest} holds the mount ${inner}`);
  }

  function removalPlan(place: Place): FsEntry[] {
    refuseNestedMounts(place);
    const entry = entryAt(place);
    if (entry === undefined) throw guestErrors.notFound(place.guest);
    return entry.kind === "directory" ? walk(place, true) : [];
  }

  async function plan(target: FsTarget, op: "remove" | "mkdir" | "list"): Promise<FsTarget> {
    const place = placeOf(target, "follow");
    if (op === "list") return { ...target, entries: walk(place, false) };
    if (op === "remove") return { ...target, entries: removalPlan(place) };
    const n = place.segments.length;
    const entries: FsEntry[] = [];
    for (let depth = n - target.missing + 1; depth < n; depth++) entries.push({ path: guestOf(place.mount, place.segments.slice(0, depth)), kind: "directory" });
    return { ...target, entries };
  }

  async function list(path: string | FsTarget): Promise<DirEntry[]> {
    const target = typeof path === "string" ? resolve(path, "follow") : path;
    const planned = target.entries ?? (await plan(target, "list")).entries!;
    return planned.map((e) => ({ name: e.path.slice(e.path.lastIndexOf("/") + 1), kind: e.kind }));
  }

  async function remove(path: string | FsTarget, recursive: boolean): Promise<void> {
    const target = typeof path === "string" ? resolve(path, "keep") : path;
    const place = writable(target);
    if (place.segments.length === 0) throw guestErrors.denied(null, `${place.guest} is a mount and cannot be removed`);
    refuseNestedMounts(place);
    const planned = recursive === true ? (target.entries ?? removalPlan(place)) : null;
    const { volume } = place.mount;
    await volume.exclusive(async () => {
      const parent = volume.lookup(place.segments.slice(0, -1));
      const name = place.segments[place.segments.length - 1];
      const entry = parent?.kind === "directory" ? parent.children.get(name) : undefined;
      if (parent?.kind !== "directory" || entry === undefined) throw guestErrors.notFound(place.guest);
      if (entry.kind === "directory" && entry.children.size > 0 && planned === null) throw guestErrors.invalid(`${place.guest} is a directory that is not empty`);
      // Planned entries still there (an entry gone since is skipped; one whose kind changed is refused), deepest first.
      const doomed: Array<{ segments: string[]; parent: VDir; name: string }> = [];
      for (const e of [...(entry.kind === "directory" ? (planned ?? []) : [])].reverse()) {
        const segments = segmentsBelow(place.mount, e.path);
        const at = volume.lookup(segments);
        if (at === undefined) continue;
        if (at.kind !== e.kind) throw guestErrors.denied(null, `${e.path} changed after the call was decided (a link or another entry is in its place); refused`);
        doomed.push({ segments, parent: volume.lookup(segments.slice(0, -1)) as VDir, name: segments[segments.length - 1] });
      }
      const gone = new Set(doomed.map((d) => rel(d.segments)));
      const leftover = (dir: VDir, segments: string[]): boolean =>
        [...dir.children.entries()].some(([n, child]) => !gone.has(rel([...segments, n])) || (child.kind === "directory" && leftover(child, [...segments, n])));
      if (entry.kind === "directory" && leftover(entry, place.segments)) {
        throw guestErrors.denied(null, `${place.guest} holds entries that appeared after the call was decided; they were not removed`);
      }
      doomed.push({ segments: place.segments, parent, name });
      const entries: Array<[string, KvValue]> = doomed.map((d) => [metaKey(rel(d.segments)), REMOVED]);
      await volume.putInOrder(entries).catch(storeError(place.guest));
      for (const d of doomed) d.parent.children.delete(d.name);
    });
  }

  function stat(path: string | FsTarget): StatInfo {
    const place = placeOf(path, "follow");
    const entry = entryAt(place);
    if (entry === undefined) throw guestErrors.notFound(place.guest);
    return { kind: entry.kind, size: BigInt(entry.kind === "file" ? entry.size : 0), modifiedMs: BigInt(Math.floor(entry.mtime)) };
  }

  async function mkdir(path: string | FsTarget, recursive: boolean): Promise<void> {
    const target = typeof path === "string" ? resolve(path, "follow") : path;
    const place = writable(target);
    const { segments } = place;
    const n = segments.length;
    const missing = target.missing;
    if (n === 0 || missing === 0) {
      if (!recursive) throw guestErrors.invalid(`${place.guest} already exists`);
      if (n === 0) return;
    }
    if (!recursive && missing > 1) throw guestErrors.notFound(place.guest);
    const { volume } = place.mount;
    await volume.exclusive(async () => {
      // The directories to create (the last `missing` segments, and only those), parents first.
      const created: Array<{ parent: VDir; name: string; dir: VDir; segments: string[] }> = [];
      let here: VDir = volume.root;
      for (let i = 0; i < n; i++) {
        const guest = guestOf(place.mount, segments.slice(0, i + 1));
        const next = here.children.get(segments[i]);
        if (next === undefined) {
          if (i < n - missing) throw guestErrors.denied(null, `${guest} changed after the call was decided (a link or another entry is in its place); refused`);
          if (quota.fsFilesCreated + created.length + 1 > quota.limits.fsFilesCreated) {
            throw guestErrors.limit(`creating ${guest} would exceed the limit of ${quota.limits.fsFilesCreated} files created per run`);
          }
          const dir: VDir = { kind: "directory", mtime: now(), children: new Map() };
          created.push({ parent: here, name: segments[i], dir, segments: segments.slice(0, i + 1) });
          // Later segments hang under the new directory, which is not in the tree yet.
          here = dir;
          continue;
        }
        if (next.kind !== "directory") throw i === n - 1 ? guestErrors.invalid(`${guest} already exists`) : guestErrors.notFound(place.guest);
        if (i === n - 1 && !recursive) throw guestErrors.invalid(`${guest} already exists`);
        here = next;
      }
      if (created.length === 0) return;
      await volume.putInOrder(created.map((c) => [metaKey(rel(c.segments)), metaOf(c.dir)])).catch(storeError(place.guest));
      // (a failure between puts of a deep mkdir leaves the parents stored: the tree on next load has them, as a shorter mkdir would)
      for (const c of created) c.parent.children.set(c.name, c.dir);
      quota.fsFilesCreated += created.length;
    });
  }

  return {
    resolve,
    plan,
    read,
    readText,
    write,
    writeText: (path, text, append) => {
      if (typeof text !== "string") throw guestErrors.invalid("text must be a string");
      return write(path, new TextEncoder().encode(text), append);
    },
    list,
    remove,
    stat,
    mkdir,
  };
}

/** A store that refuses a change: the guest sees `io` (a value over the store's limits says so). */
function storeError(guest: string): (error: unknown) => Promise<never> {
  return (error) => Promise.reject(error instanceof GuestError ? error : guestErrors.io(`the store refused the change to ${guest}${error instanceof RangeError ? `: ${error.message}` : ""}`));
}

function decodeText(bytes: Uint8Array, guest: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw guestErrors.invalid(`${guest} is not UTF-8 text`);
  }
}

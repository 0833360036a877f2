/**
 * The `fs` capability: mounts, not the host's filesystem.
 *
 * A guest path maps to the longest mount whose guest prefix contains it; nothing outside a
 * mount exists for the guest. Every call goes in two steps, so that what the policy decides is
 * what is done:
 *
 * 1. `resolve` walks the path link by link inside the mount (fs-resolve.ts) and names every
 *    link it went through and the place the path leads to; `plan` lists what a recursive remove,
 *    a recursive mkdir or a listing would touch below it (fs-tree.ts). The gate decides all of
 *    these paths.
 * 2. The operation acts on the resolved place and nothing else: it opens it with O_NOFOLLOW and
 *    checks the descriptor's location (from /proc/self/fd) against the resolved host path, works
 *    inside a directory through its pinned descriptor (`/proc/self/fd/<fd>/<name>`), and refuses
 *    (`denied`) when the path no longer leads where it did.
 *
 * A path that leads outside its mount (through a link, or a directory swapped for one) is
 * `not-found`: outside the mount does not exist for the guest.
 *
 * Hard links: a regular file with more than one link may be another name of a file outside the
 * mount (a file cannot tell where its other names are), so by default it is neither read nor
 * appended to (`denied`). A replacing write is allowed: it renames a new file over the name and
 * so never writes through it. Stat and remove are allowed too: they show or drop the name, not
 * the content. A mount opts in with `allowHardLinks`.
 *
 * Reads of small files and stats are synchronous: each step is one system call on a local
 * directory (one lstat per segment, open, a /proc/self/fd readlink, fstat, read, close),
 * microseconds in all, where the same steps through the thread pool cost a round trip each. A
 * file larger than SYNC_READ_BYTES is read asynchronously, so that a large read never holds
 * the kernel's thread. Writes, listings, removals and mkdir stay asynchronous.
 *
 * Linux only (it needs `/proc/self/fd`); elsewhere `createFs` refuses to start (fail closed).
 */
import { closeSync, constants, existsSync, fstatSync, promises as fsp, realpathSync, type Stats } from "node:fs";
import { canonicalPath, isWithin } from "../../../canonical.js";
import { guestErrors, UsageError } from "../../../errors.js";
import { createForAppend, decodeText, kindOf, mapError, readCapped, readCappedSync, replaceAtomically } from "./fs-io.js";
import { PROC_FD, changed, mountOf, openExact, openExactSync, parentOf, placeOf, resolveIn, type Place, type RealMount } from "./fs-resolve.js";
import { creationPlan, makeDirs, removalPlan, removeAt, walkTree } from "./fs-tree.js";
import type { DirEntry, FollowLast, FsHost, FsTarget, Mount, RunQuota, StatInfo } from "../../../capabilities/types.js";

export { mountSpecOf, normalizeMounts, parseMount, type MountSpec } from "./fs-mounts.js";
export { MAX_LINKS } from "./fs-resolve.js";
export { MAX_PLAN_ENTRIES } from "./fs-tree.js";

export interface FsOptions {
  /** Guest prefixes mapped onto host directories. Default: none (every path is not-found). */
  mounts: Mount[];
  /** The run's counters: `fsBytesWritten`, `fsFilesCreated`; limits `fsWriteBytes`, `fsFilesCreated`, `fsReadBytes`. */
  quota: RunQuota;
}

const { O_RDONLY, O_WRONLY, O_APPEND, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;

/** Files up to this size are read synchronously (see above). */
export const SYNC_READ_BYTES = 64 * 1024;

/**
 * Creates the fs capability for one run.
 *
 * @example const fs = createFs({ mounts: [parseMount("/workspace=./ws")], quota });
 *          await fs.writeText("/workspace/notes.txt", "hello", false);
 * @throws UsageError when a mount's host directory is gone, or the platform has no /proc/self/fd.
 */
export function createFs(options: FsOptions): FsHost {
  if (!existsSync(PROC_FD)) throw new UsageError("the fs capability needs /proc/self/fd (Linux) to confine paths");
  const mounts = realMounts(options.mounts);
  const { quota } = options;

  const resolve = (path: string, last: FollowLast): FsTarget => resolveIn(mounts, path, last);
  /** The place an operation acts on: a target from the gate, or a path resolved here and now. */
  const placeFor = (path: string | FsTarget, last: FollowLast): Place => placeOf(mounts, typeof path === "string" ? resolve(path, last) : path);

  /** The place a change acts on; a read-only mount refuses it whatever the path leads to (a path never leaves its mount). */
  function writablePlace(target: FsTarget): Place {
    const mount = mountOf(mounts, target.written);
    if (mount?.readOnly) throw guestErrors.denied(null, `mount ${mount.guest} is read-only`);
    return placeOf(mounts, target);
  }

  /** Hard-linked files are not opened for content unless the mount allows it (see above). */
  function refuseHardLinks(place: Place, info: Stats, what: string): void {
    if (info.isFile() && info.nlink > 1 && !place.mount.allowHardLinks) {
      throw guestErrors.denied(null, `${place.guest} has ${info.nlink} hard links, and mount ${place.mount.guest} does not allow ${what} a file with other names (they may lie outside the mount)`);
    }
  }

  function read(path: string | FsTarget): Uint8Array | Promise<Uint8Array> {
    const place = placeFor(path, "follow");
    const fd = openExactSync(place, O_RDONLY | O_NONBLOCK);
    try {
      const info = fstatSync(fd);
      if (info.isDirectory()) throw guestErrors.invalid(`${place.guest} is a directory`);
      if (!info.isFile()) throw guestErrors.invalid(`${place.guest} is not a regular file`);
      refuseHardLinks(place, info, "reading");
      const cap = quota.limits.fsReadBytes;
      if (info.size > cap) throw guestErrors.limit(`${place.guest} is ${info.size} bytes, more than the read limit of ${cap}`);
      if (info.size <= SYNC_READ_BYTES) return readCappedSync(fd, Math.min(cap, SYNC_READ_BYTES), cap, place.guest, info.size);
    } catch (error) {
      throw mapError(error, place.guest);
    } finally {
      closeSync(fd);
    }
    return readLarge(place);
  }

  /** A file larger than SYNC_READ_BYTES, read through the thread pool from a fresh exact open. */
  async function readLarge(place: Place): Promise<Uint8Array> {
    const fh = await openExact(place, O_RDONLY | O_NONBLOCK);
    try {
      const info = await fh.stat();
      if (!info.isFile()) throw guestErrors.invalid(`${place.guest} is not a regular file`);
      refuseHardLinks(place, info, "reading");
      const cap = quota.limits.fsReadBytes;
      if (info.size > cap) throw guestErrors.limit(`${place.guest} is ${info.size} bytes, more than the read limit of ${cap}`);
      return await readCapped(fh.fd, cap, place.guest, info.size);
    } catch (error) {
      throw mapError(error, place.guest);
    } finally {
      await fh.close();
    }
  }

  async function write(path: string | FsTarget, data: Uint8Array, append: boolean): Promise<void> {
    const place = writablePlace(typeof path === "string" ? resolve(path, append ? "follow" : "keep") : path);
    if (!(data instanceof Uint8Array)) throw guestErrors.invalid("data must be bytes");
    if (place.segments.length === 0) throw guestErrors.invalid(`${place.guest} is a directory`);
    if (quota.fsBytesWritten + data.byteLength > quota.limits.fsWriteBytes) {
      throw guestErrors.limit(`writing ${data.byteLength} bytes would exceed the limit of ${quota.limits.fsWriteBytes} bytes written per run`);
    }
    const dir = await openExact(parentOf(place), O_RDONLY | O_DIRECTORY);
    try {
      const name = place.segments[place.segments.length - 1];
      const dirPath = `${PROC_FD}/${dir.fd}`;
      const existing = await fsp.lstat(`${dirPath}/${name}`).catch((error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? null : Promise.reject(error)));
      if (existing?.isDirectory()) throw guestErrors.invalid(`${place.guest} is a directory`);
      // An append follows links: the resolved place had none, so one there now was swapped in.
      if (append && existing?.isSymbolicLink()) throw changed(place.guest);
      const creates = existing === null;
      if (creates && quota.fsFilesCreated + 1 > quota.limits.fsFilesCreated) {
        throw guestErrors.limit(`creating ${place.guest} would exceed the limit of ${quota.limits.fsFilesCreated} files created per run`);
      }
      let created = creates;
      if (append && existing !== null) await appendInPlace(place, `${dirPath}/${name}`, data);
      else if (append) {
        created = await createForAppend(dir, dirPath, name, data);
        // (a file another appender created meanwhile is appended to, not replaced)
        if (!created) await appendInPlace(place, `${dirPath}/${name}`, data);
      } else await replaceAtomically(dir, dirPath, name, data, existing?.isFile() ? existing.mode & 0o777 : 0o644);
      quota.fsBytesWritten += data.byteLength;
      if (created) quota.fsFilesCreated += 1;
    } catch (error) {
      throw mapError(error, place.guest);
    } finally {
      await dir.close();
    }
  }

  /** Appends through a no-follow descriptor of the existing file, opened in its pinned directory. */
  async function appendInPlace(place: Place, entry: string, data: Uint8Array): Promise<void> {
    const fh = await fsp.open(entry, O_WRONLY | O_APPEND | O_NONBLOCK | O_NOFOLLOW).catch((error: NodeJS.ErrnoException) => Promise.reject(error.code === "ELOOP" ? changed(place.guest) : error));
    try {
      const info = await fh.stat();
      if (!info.isFile()) throw guestErrors.invalid(`${place.guest} is not a regular file`);
      refuseHardLinks(place, info, "appending to");
      await fh.write(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async function plan(target: FsTarget, op: "remove" | "mkdir" | "list"): Promise<FsTarget> {
    const place = placeOf(mounts, target);
    const entries = op === "list" ? await walkTree(place, false) : op === "remove" ? await removalPlan(place) : creationPlan(place, target.missing);
    return { ...target, entries };
  }

  async function list(path: string | FsTarget): Promise<DirEntry[]> {
    const target = typeof path === "string" ? resolve(path, "follow") : path;
    const planned = target.entries ?? (await plan(target, "list")).entries!;
    return planned.map((e) => ({ name: e.path.slice(e.path.lastIndexOf("/") + 1), kind: e.kind }));
  }

  async function remove(path: string | FsTarget, recursive: boolean): Promise<void> {
    const target = typeof path === "string" ? resolve(path, "keep") : path;
    const place = writablePlace(target);
    if (place.segments.length === 0) throw guestErrors.denied(null, `${place.guest} is a mount and cannot be removed`);
    const planned = recursive === true ? (target.entries ?? (await removalPlan(place))) : null;
    await removeAt(place, planned);
  }

  function stat(path: string | FsTarget): StatInfo {
    const place = placeFor(path, "follow");
    const fd = openExactSync(place, O_RDONLY | O_NONBLOCK);
    try {
      const info = fstatSync(fd, { bigint: true });
      return { kind: kindOf(info), size: info.size, modifiedMs: info.mtimeMs };
    } catch (error) {
      throw mapError(error, place.guest);
    } finally {
      closeSync(fd);
    }
  }

  async function mkdir(path: string | FsTarget, recursive: boolean): Promise<void> {
    const target = typeof path === "string" ? resolve(path, "follow") : path;
    const place = writablePlace(target);
    await makeDirs(place, target.missing, recursive === true, quota);
  }

  return {
    resolve,
    plan,
    read,
    readText: (path) => {
      const bytes = read(path);
      const guest = typeof path === "string" ? canonicalPath(path) : path.resolved;
      return bytes instanceof Uint8Array ? decodeText(bytes, guest) : bytes.then((b) => decodeText(b, guest));
    },
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

/** The mounts with their real roots, longest guest path first, each knowing the mounts nested in it. */
function realMounts(given: Mount[]): RealMount[] {
  const mounts: RealMount[] = given.map((m) => {
    const guest = canonicalPath(m.guest);
    let real: string;
    try {
      real = realpathSync(m.host);
    } catch {
      throw new UsageError(`mount ${guest}: the host directory does not exist`);
    }
    return { guest, host: m.host, readOnly: m.readOnly === true, allowHardLinks: m.allowHardLinks === true, real, nested: [] };
  });
  for (const m of mounts) m.nested = mounts.filter((o) => o !== m && o.guest !== m.guest && isWithin(o.guest, m.guest)).map((o) => o.guest);
  return mounts.sort((a, b) => b.guest.length - a.guest.length);
}

/**
 * The `fs` capability: mounts, not the host's filesystem.
 *
 * A guest path maps to the longest mount whose guest prefix contains it; nothing outside a
 * mount exists for the guest. Containment does not trust the path: it is canonicalized again,
 * resolved with `realpath` and checked against the mount's real root, then every file or
 * directory is opened with `O_NOFOLLOW` and the opened descriptor's real location is read back
 * from `/proc/self/fd` and checked again, so a symbolic link swapped in between the check and
 * the use is caught. Work inside a directory goes through its pinned descriptor
 * (`/proc/self/fd/<fd>/<name>`), so a path swapped after the check is never followed.
 *
 * A path that leads outside its mount (through a symbolic link, or a directory swapped for
 * one) is reported as `not-found`: outside the mount does not exist for the guest.
 *
 * Reads of small files and stats are synchronous: each step is one system call on a local
 * directory (realpath, open, a /proc/self/fd readlink, fstat, read, close), microseconds in
 * all, where the same steps through the thread pool cost a round trip each. A file larger
 * than SYNC_READ_BYTES is read asynchronously, so that a large read never holds the kernel's
 * thread. Writes, listings, removals and mkdir stay asynchronous (they sync to disk or may be
 * long).
 *
 * Linux only (it needs `/proc/self/fd`); elsewhere `createFs` refuses to start (fail closed).
 */
import { closeSync, constants, existsSync, fstatSync, promises as fsp, openSync, readSync, readlinkSync, realpathSync, statSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { resolve as resolveHostPath } from "node:path";
import { canonicalPath, isWithin } from "../canonical.js";
import { GuestError, UsageError, guestErrors } from "../errors.js";
import type { DirEntry, EntryKind, FsHost, Mount, RunQuota, StatInfo } from "./types.js";

export interface FsOptions {
  /** Guest prefixes mapped onto host directories. Default: none (every path is not-found). */
  mounts: Mount[];
  /** The run's counters: `fsBytesWritten`, `fsFilesCreated`; limits `fsWriteBytes`, `fsFilesCreated`, `fsReadBytes`. */
  quota: RunQuota;
}

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_APPEND, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;
const PROC_FD = "/proc/self/fd";
/** Files up to this size are read synchronously (see above). */
export const SYNC_READ_BYTES = 64 * 1024;

/** A mount with its host root resolved to a real path once, at creation. */
interface RealMount extends Mount {
  real: string;
}

/** Where a guest path lives: its mount and the segments below the mount's root. */
interface Located {
  guest: string;
  mount: RealMount;
  segments: string[];
}

/**
 * Parses `--mount /guest=hostdir[:ro|:rw]`. The host directory is resolved against `cwd` to
 * an absolute real path; it must exist and be a directory.
 *
 * @example parseMount("/data=./data:ro") // { guest: "/data", host: "/abs/data", readOnly: true }
 * @throws UsageError for a malformed spec or a host directory that does not exist.
 */
export function parseMount(spec: string, cwd: string = process.cwd()): Mount {
  const eq = spec.indexOf("=");
  if (eq <= 0) throw new UsageError(`--mount expects /guest=hostdir[:ro], got ${JSON.stringify(spec)}`);
  let host = spec.slice(eq + 1);
  let readOnly = false;
  if (host.endsWith(":ro") || host.endsWith(":rw")) {
    readOnly = host.endsWith(":ro");
    host = host.slice(0, -3);
  }
  return makeMount(spec.slice(0, eq), host, readOnly, cwd);
}

/**
 * Normalizes the API form of mounts: `{ "/workspace": "./ws", "/data": { host: "./data", readOnly: true } }`.
 * Relative host directories are resolved against the current directory.
 *
 * @example normalizeMounts({ "/workspace": "./ws" }) // [{ guest: "/workspace", host: "/abs/ws", readOnly: false }]
 * @throws UsageError for a bad guest path, a missing host directory or the same guest path twice.
 */
export function normalizeMounts(record: Record<string, string | { host: string; readOnly?: boolean }>): Mount[] {
  const mounts: Mount[] = [];
  for (const [guest, value] of Object.entries(record)) {
    const host = typeof value === "string" ? value : value?.host;
    if (typeof host !== "string") throw new UsageError(`mount ${guest}: the host directory must be a string`);
    const readOnly = typeof value === "string" ? false : value.readOnly === true;
    const mount = makeMount(guest, host, readOnly, process.cwd());
    if (mounts.some((m) => m.guest === mount.guest)) throw new UsageError(`mount ${mount.guest} is given twice`);
    mounts.push(mount);
  }
  return mounts;
}

function makeMount(guestSpec: string, hostSpec: string, readOnly: boolean, cwd: string): Mount {
  let guest: string;
  try {
    guest = canonicalPath(guestSpec);
  } catch (err) {
    throw new UsageError(`mount: bad guest path ${JSON.stringify(guestSpec)}: ${err instanceof GuestError ? err.error.val : err}`);
  }
  if (hostSpec === "") throw new UsageError(`mount ${guest}: the host directory is empty`);
  const abs = resolveHostPath(cwd, hostSpec);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) {
    throw new UsageError(`mount ${guest}: ${abs} does not exist or is not a directory`);
  }
  return { guest, host: realpathSync(abs), readOnly };
}

/**
 * Creates the fs capability for one run.
 *
 * @example const fs = createFs({ mounts: [parseMount("/workspace=./ws")], quota });
 *          await fs.writeText("/workspace/notes.txt", "hello", false);
 * @throws UsageError when a mount's host directory is gone, or the platform has no /proc/self/fd.
 */
export function createFs(options: FsOptions): FsHost {
  if (!existsSync(PROC_FD)) throw new UsageError("the fs capability needs /proc/self/fd (Linux) to confine paths");
  const mounts: RealMount[] = options.mounts.map((m) => {
    const guest = canonicalPath(m.guest);
    let real: string;
    try {
      real = realpathSync(m.host);
    } catch {
      throw new UsageError(`mount ${guest}: the host directory does not exist`);
    }
    return { guest, host: m.host, readOnly: m.readOnly === true, real };
  });
  mounts.sort((a, b) => b.guest.length - a.guest.length);
  const { quota } = options;

  function locate(path: string): Located {
    const guest = canonicalPath(path);
    const mount = mounts.find((m) => isWithin(guest, m.guest));
    if (!mount) throw guestErrors.notFound(guest);
    const rest = guest.slice(mount.guest.length);
    return { guest, mount, segments: rest.split("/").filter((s) => s !== "") };
  }

  function writable(at: Located): void {
    if (at.mount.readOnly) throw guestErrors.denied(null, `mount ${at.mount.guest} is read-only`);
  }

  function read(path: string): Uint8Array | Promise<Uint8Array> {
    const at = locate(path);
    const small = readSmall(at);
    if (small !== null) return small;
    return guard(at, async () => {
      const fh = await pinExisting(at, O_RDONLY | O_NONBLOCK);
      try {
        const info = await fh.stat();
        if (info.isDirectory()) throw guestErrors.invalid(`${at.guest} is a directory`);
        if (!info.isFile()) throw guestErrors.invalid(`${at.guest} is not a regular file`);
        const cap = quota.limits.fsReadBytes;
        if (info.size > cap) throw guestErrors.limit(`${at.guest} is ${info.size} bytes, more than the read limit of ${cap}`);
        return await readCapped(fh, cap, at.guest, Number(info.size));
      } finally {
        await fh.close();
      }
    });
  }

  /**
   * Reads a small regular file synchronously, with the same checks as the asynchronous path;
   * returns null, having read nothing, when the file is larger than SYNC_READ_BYTES.
   */
  function readSmall(at: Located): Uint8Array | null {
    try {
      const fd = pinExistingSync(at, O_RDONLY | O_NONBLOCK);
      try {
        const info = fstatSync(fd);
        if (info.isDirectory()) throw guestErrors.invalid(`${at.guest} is a directory`);
        if (!info.isFile()) throw guestErrors.invalid(`${at.guest} is not a regular file`);
        const cap = quota.limits.fsReadBytes;
        if (info.size > cap) throw guestErrors.limit(`${at.guest} is ${info.size} bytes, more than the read limit of ${cap}`);
        if (info.size > SYNC_READ_BYTES) return null;
        return readCappedSync(fd, Math.min(cap, SYNC_READ_BYTES), cap, at.guest, info.size);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      throw mapError(err, at.guest);
    }
  }

  async function write(path: string, data: Uint8Array, append: boolean): Promise<void> {
    const at = locate(path);
    writable(at);
    if (!(data instanceof Uint8Array)) throw guestErrors.invalid("data must be bytes");
    if (at.segments.length === 0) throw guestErrors.invalid(`${at.guest} is a directory`);
    if (quota.fsBytesWritten + data.byteLength > quota.limits.fsWriteBytes) {
      throw guestErrors.limit(`writing ${data.byteLength} bytes would exceed the limit of ${quota.limits.fsWriteBytes} bytes written per run`);
    }
    await guard(at, async () => {
      const dir = await pinParent(at);
      try {
        const name = at.segments[at.segments.length - 1];
        const entry = `${PROC_FD}/${dir.fd}/${name}`;
        const existing = await fsp.lstat(entry).catch(() => null);
        if (existing?.isDirectory()) throw guestErrors.invalid(`${at.guest} is a directory`);
        const creates = existing === null;
        if (creates && quota.fsFilesCreated + 1 > quota.limits.fsFilesCreated) {
          throw guestErrors.limit(`creating ${at.guest} would exceed the limit of ${quota.limits.fsFilesCreated} files created per run`);
        }
        if (append && existing !== null) await appendInPlace(at, data);
        else await replaceAtomically(dir, name, data, existing?.isFile() ? existing.mode & 0o777 : 0o644);
        quota.fsBytesWritten += data.byteLength;
        if (creates) quota.fsFilesCreated += 1;
      } finally {
        await dir.close();
      }
    });
  }

  /** Appends through a pinned, no-follow descriptor of the existing file (one write call). */
  async function appendInPlace(at: Located, data: Uint8Array): Promise<void> {
    const fh = await pinExisting(at, O_WRONLY | O_APPEND | O_NONBLOCK);
    try {
      if (!(await fh.stat()).isFile()) throw guestErrors.invalid(`${at.guest} is not a regular file`);
      await fh.write(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async function list(path: string): Promise<DirEntry[]> {
    const at = locate(path);
    return guard(at, async () => {
      const dir = await pinExisting(at, O_RDONLY | O_DIRECTORY);
      try {
        const entries = await fsp.readdir(`${PROC_FD}/${dir.fd}`, { withFileTypes: true });
        return entries
          .map((e) => ({ name: e.name, kind: kindOf(e) }))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      } finally {
        await dir.close();
      }
    });
  }

  async function remove(path: string, recursive: boolean): Promise<void> {
    const at = locate(path);
    writable(at);
    if (at.segments.length === 0) throw guestErrors.denied(null, `${at.guest} is a mount and cannot be removed`);
    await guard(at, async () => {
      const dir = await pinParent(at);
      try {
        const name = at.segments[at.segments.length - 1];
        await removeEntry(dir, name, recursive === true, at.guest);
      } finally {
        await dir.close();
      }
    });
  }

  function stat(path: string): StatInfo {
    const at = locate(path);
    try {
      const fd = pinExistingSync(at, O_RDONLY | O_NONBLOCK);
      try {
        const info = fstatSync(fd, { bigint: true });
        const kind: EntryKind = info.isFile() ? "file" : info.isDirectory() ? "directory" : "other";
        return { kind, size: info.size, modifiedMs: info.mtimeMs };
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      throw mapError(err, at.guest);
    }
  }

  async function mkdir(path: string, recursive: boolean): Promise<void> {
    const at = locate(path);
    writable(at);
    if (at.segments.length === 0) {
      if (recursive) return;
      throw guestErrors.invalid(`${at.guest} already exists`);
    }
    await guard(at, async () => {
      // Find the deepest existing ancestor (confined), then create the rest below its pinned descriptor.
      let depth = at.segments.length - 1;
      if (recursive) {
        while (depth > 0 && !(await existsConfined(at.mount, at.segments.slice(0, depth)))) depth--;
      }
      let dir = await pinDir(at.mount, at.segments.slice(0, depth), at.guest);
      try {
        for (let i = depth; i < at.segments.length; i++) {
          const entry = `${PROC_FD}/${dir.fd}/${at.segments[i]}`;
          const last = i === at.segments.length - 1;
          const existing = await fsp.lstat(entry).catch(() => null);
          if (existing && !(recursive && existing.isDirectory())) {
            if (existing.isSymbolicLink() && recursive) {
              // An in-mount link to a directory: continue through its confined real path.
              const next = await pinDir(at.mount, at.segments.slice(0, i + 1), at.guest);
              await dir.close();
              dir = next;
              continue;
            }
            throw guestErrors.invalid(`${guestOf(at, i + 1)} already exists`);
          }
          if (!existing) {
            if (quota.fsFilesCreated + 1 > quota.limits.fsFilesCreated) {
              throw guestErrors.limit(`creating ${guestOf(at, i + 1)} would exceed the limit of ${quota.limits.fsFilesCreated} files created per run`);
            }
            await fsp.mkdir(entry, 0o755);
            quota.fsFilesCreated += 1;
          }
          if (!last) {
            const next = await openPinned(entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, at.mount, at.guest);
            await dir.close();
            dir = next;
          }
        }
      } finally {
        await dir.close();
      }
    });
  }

  return {
    read,
    readText: (path) => {
      const bytes = read(path);
      return bytes instanceof Uint8Array ? decodeText(bytes, path) : bytes.then((b) => decodeText(b, path));
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

/** Opens the existing path (following in-mount links) with O_NOFOLLOW and verifies where it landed. */
async function pinExisting(at: Located, flags: number): Promise<FileHandle> {
  const real = await realInside(at.mount, at.segments, at.guest);
  return openPinned(real, flags | O_NOFOLLOW, at.mount, at.guest);
}

/** pinExisting, synchronously: returns the descriptor, which the caller closes. */
function pinExistingSync(at: Located, flags: number): number {
  const joined = at.segments.length === 0 ? at.mount.real : `${at.mount.real}/${at.segments.join("/")}`;
  const real = realpathSync.native(joined);
  if (!isWithin(real, at.mount.real)) throw guestErrors.notFound(at.guest);
  const fd = openSync(real, flags | O_NOFOLLOW);
  try {
    // As in openPinned: where the descriptor really is, read from the process's own table.
    if (!isWithin(readlinkSync(`${PROC_FD}/${fd}`), at.mount.real)) throw guestErrors.notFound(at.guest);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Opens the parent directory of the path, confined, as a pinned descriptor. */
function pinParent(at: Located): Promise<FileHandle> {
  return pinDir(at.mount, at.segments.slice(0, -1), at.guest);
}

async function pinDir(mount: RealMount, segments: string[], guest: string): Promise<FileHandle> {
  const real = await realInside(mount, segments, guest);
  return openPinned(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, mount, guest);
}

async function existsConfined(mount: RealMount, segments: string[]): Promise<boolean> {
  try {
    await realInside(mount, segments, "");
    return true;
  } catch {
    return false;
  }
}

/** The real host path of mount + segments, which must lie inside the mount's real root. */
async function realInside(mount: RealMount, segments: string[], guest: string): Promise<string> {
  const joined = segments.length === 0 ? mount.real : `${mount.real}/${segments.join("/")}`;
  let real: string;
  try {
    real = await fsp.realpath(joined);
  } catch (err) {
    throw mapError(err, guest);
  }
  if (!isWithin(real, mount.real)) throw guestErrors.notFound(guest);
  return real;
}

/** Opens `hostPath` and checks, from the descriptor itself, that it is inside the mount. */
async function openPinned(hostPath: string, flags: number, mount: RealMount, guest: string): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await fsp.open(hostPath, flags);
  } catch (err) {
    throw mapError(err, guest);
  }
  try {
    // A /proc/self/fd link is read from the process's own descriptor table, never from a disk:
    // synchronously it costs a system call, asynchronously a round trip through the thread pool.
    const where = readlinkSync(`${PROC_FD}/${fh.fd}`);
    if (!isWithin(where, mount.real)) throw guestErrors.notFound(guest);
    return fh;
  } catch (err) {
    await fh.close();
    throw mapError(err, guest);
  }
}

/** Writes a temporary file beside the target (O_EXCL, O_NOFOLLOW), syncs it, renames it into place. */
async function replaceAtomically(dir: FileHandle, name: string, data: Uint8Array, mode: number): Promise<void> {
  const tmp = `.agentos-${randomBytes(8).toString("hex")}.tmp`;
  const tmpPath = `${PROC_FD}/${dir.fd}/${tmp}`;
  const fh = await fsp.open(tmpPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  try {
    try {
      await fh.write(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmpPath, `${PROC_FD}/${dir.fd}/${name}`);
    await dir.sync().catch(() => undefined);
  } catch (err) {
    await fsp.unlink(tmpPath).catch(() => undefined);
    throw err;
  }
}

/** Removes one entry of a pinned directory; a link is removed, never followed. */
async function removeEntry(dir: FileHandle, name: string, recursive: boolean, guest: string): Promise<void> {
  const entry = `${PROC_FD}/${dir.fd}/${name}`;
  const info = await fsp.lstat(entry);
  if (!info.isDirectory()) return fsp.unlink(entry);
  if (recursive) {
    const sub = await fsp.open(entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    try {
      for (const child of await fsp.readdir(`${PROC_FD}/${sub.fd}`)) await removeEntry(sub, child, true, guest);
    } finally {
      await sub.close();
    }
  }
  try {
    await fsp.rmdir(entry);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOTEMPTY") throw guestErrors.invalid(`${guest} is a directory that is not empty`);
    throw err;
  }
}

/**
 * Reads a regular file to its end, refusing more than `cap` bytes (it may grow after fstat).
 * The first read asks for one byte more than fstat said: a shorter answer from a regular file
 * is its end, so a file that did not grow takes one read.
 */
async function readCapped(fh: FileHandle, cap: number, guest: string, expected: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let want = Math.min(expected, cap) + 1;
  for (;;) {
    const buf = new Uint8Array(Math.min(want, cap + 1 - size));
    const { bytesRead } = await fh.read(buf, 0, buf.length, null);
    size += bytesRead;
    if (size > cap) throw guestErrors.limit(`${guest} is larger than the read limit of ${cap} bytes`);
    if (bytesRead > 0) chunks.push(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
    if (bytesRead < buf.length) break;
    want = 64 * 1024;
  }
  return joinChunks(chunks, size);
}

/**
 * readCapped, synchronously, for a file that fstat said is at most `syncMax` bytes: if it has
 * grown past that since, the rest is refused only when it passes the read limit `cap` too.
 */
function readCappedSync(fd: number, syncMax: number, cap: number, guest: string, expected: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let want = expected + 1;
  for (;;) {
    const buf = new Uint8Array(Math.min(want, cap + 1 - size));
    const bytesRead = buf.length === 0 ? 0 : readSync(fd, buf, 0, buf.length, null);
    size += bytesRead;
    if (size > cap) throw guestErrors.limit(`${guest} is larger than the read limit of ${cap} bytes`);
    if (bytesRead > 0) chunks.push(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
    if (bytesRead < buf.length) break;
    want = syncMax;
  }
  return joinChunks(chunks, size);
}

/** The chunks of a read as one array (the only chunk itself when it fills its buffer). */
function joinChunks(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1 && chunks[0].byteLength === chunks[0].buffer.byteLength) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Runs an operation and turns host errors into guest errors that name the guest path only. */
async function guard<T>(at: Located, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw mapError(err, at.guest);
  }
}

function mapError(err: unknown, guest: string): GuestError {
  if (err instanceof GuestError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
    case "ELOOP": // a link where none may be: outside the mount does not exist
      return guestErrors.notFound(guest);
    case "EISDIR":
      return guestErrors.invalid(`${guest} is a directory`);
    case "EEXIST":
      return guestErrors.invalid(`${guest} already exists`);
    case "ENOTEMPTY":
      return guestErrors.invalid(`${guest} is a directory that is not empty`);
    case "ENAMETOOLONG":
      return guestErrors.invalid(`a name in ${guest} is too long`);
    default:
      return guestErrors.io(`${code ?? "error"} on ${guest}`);
  }
}

function kindOf(e: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): EntryKind {
  return e.isFile() ? "file" : e.isDirectory() ? "directory" : e.isSymbolicLink() ? "symlink" : "other";
}

function guestOf(at: Located, depth: number): string {
  const base = at.mount.guest === "/" ? "" : at.mount.guest;
  return `${base}/${at.segments.slice(0, depth).join("/")}`;
}

function decodeText(bytes: Uint8Array, path: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw guestErrors.invalid(`${canonicalPath(path)} is not UTF-8 text`);
  }
}


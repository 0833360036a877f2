/**
 * The fs capability's byte-level helpers: capped reads, the atomic replace, and the mapping of
 * host errors to guest errors that name guest paths only.
 */
import { constants, promises as fsp, read as readCb, readSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { GuestError, guestErrors } from "../../../errors.js";
import type { EntryKind } from "../../../capabilities/types.js";
import { concatBytes } from "../../../portable/streams.js";

const { O_WRONLY, O_CREAT, O_EXCL, O_APPEND, O_NOFOLLOW } = constants;
const readFd = promisify(readCb);

/**
 * Reads a regular file to its end from a raw descriptor, refusing more than `cap` bytes (it
 * may grow after fstat). The first read asks for one byte more than fstat said: a shorter
 * answer from a regular file is its end, so a file that did not grow takes one read.
 */
export async function readCapped(fd: number, cap: number, guest: string, expected: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let want = Math.min(expected, cap) + 1;
  for (;;) {
    const buf = new Uint8Array(Math.min(want, cap + 1 - size));
    const { bytesRead } = await readFd(fd, buf, 0, buf.length, null);
    size += bytesRead;
    if (size > cap) throw guestErrors.limit(`${guest} is larger than the read limit of ${cap} bytes`);
    if (bytesRead > 0) chunks.push(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
    if (bytesRead < buf.length) break;
    want = 64 * 1024;
  }
  return concatBytes(chunks, size);
}

/**
 * readCapped, synchronously, for a file that fstat said is at most `syncMax` bytes: if it has
 * grown past that since, the rest is refused only when it passes the read limit `cap` too.
 */
export function readCappedSync(fd: number, syncMax: number, cap: number, guest: string, expected: number): Uint8Array {
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
  return concatBytes(chunks, size);
}


/**
 * Writes a temporary file beside the target (O_EXCL, O_NOFOLLOW), syncs it, renames it into
 * place. The rename replaces the name, never writes through it: a link or a hard-linked file
 * under that name keeps its content, and the name is a new file with one link.
 */
export async function replaceAtomically(dir: FileHandle, dirPath: string, name: string, data: Uint8Array, mode: number): Promise<void> {
  const tmp = `.agentos-${randomBytes(8).toString("hex")}.tmp`;
  const tmpPath = `${dirPath}/${tmp}`;
  const fh = await fsp.open(tmpPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  try {
    try {
      await fh.write(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmpPath, `${dirPath}/${name}`);
    await dir.sync().catch(() => undefined);
  } catch (err) {
    await fsp.unlink(tmpPath).catch(() => undefined);
    throw err;
  }
}

/**
 * An append to a file that does not exist: creates it exclusively (never through a link) and
 * writes `data`, so that two appenders creating it at once both keep their data. Resolves false,
 * writing nothing, when the file appeared meanwhile: the caller appends to it instead.
 */
export async function createForAppend(dir: FileHandle, dirPath: string, name: string, data: Uint8Array): Promise<boolean> {
  let fh: FileHandle;
  try {
    fh = await fsp.open(`${dirPath}/${name}`, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW, 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
  try {
    await fh.write(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await dir.sync().catch(() => undefined);
  return true;
}

/** Turns a host error into a guest error that names the guest path only. */
export function mapError(err: unknown, guest: string): GuestError {
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

/** The kind of a directory entry or stat result, links not followed. */
export function kindOf(e: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): EntryKind {
  return e.isFile() ? "file" : e.isDirectory() ? "directory" : e.isSymbolicLink() ? "symlink" : "other";
}

export function decodeText(bytes: Uint8Array, guest: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw guestErrors.invalid(`${guest} is not UTF-8 text`);
  }
}

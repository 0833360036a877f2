/**
 * Where a guest path leads, and opening exactly that place.
 *
 * `resolveIn` walks a path the way the host's kernel would, one segment at a time with lstat
 * and readlink, but inside the mount: a link that leaves it (by `..` above the mount's root, an
 * absolute target elsewhere, or one into a nested mount's territory) leads nowhere, and so does
 * a chain of more than MAX_LINKS links. The result names every link it went through and the
 * resolved path, with no link left in it, so that the policy can decide all of them.
 *
 * The capability then acts on the resolved path following no link at all: `openExact` opens it
 * with O_NOFOLLOW and requires that the descriptor's location, read back from /proc/self/fd, be
 * exactly the resolved host path. A link or directory swapped in after the decision makes the
 * call fail with `denied` instead of reaching somewhere that was not decided.
 */
import { closeSync, constants, lstatSync, openSync, promises as fsp, readlinkSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { canonicalPath, isWithin } from "../../../canonical.js";
import { GuestError, guestErrors } from "../../../errors.js";
import { mapError } from "./fs-io.js";
import type { FollowLast, FsTarget, Mount } from "../../../capabilities/types.js";

const { O_NOFOLLOW } = constants;

/** The longest chain of links a path may go through (as Linux's own limit). */
export const MAX_LINKS = 40;

/** The most segments one walk looks up: link targets full of `d/..` cannot hold the kernel's thread. */
const MAX_STEPS = 4096;

export const PROC_FD = "/proc/self/fd";

/** A mount with its host root resolved to a real path once, at creation. */
export interface RealMount extends Mount {
  real: string;
  /** Guest paths of the mounts nested inside this one: what lies there is theirs, not this mount's. */
  nested: string[];
}

/** A guest path inside its mount: the segments below the mount's root. */
export interface Place {
  mount: RealMount;
  segments: string[];
  /** The guest path, for messages and decisions. */
  guest: string;
}

/** The mount that holds a canonical guest path (the longest prefix), or undefined. */
export function mountOf(mounts: readonly RealMount[], guest: string): RealMount | undefined {
  return mounts.find((m) => isWithin(guest, m.guest));
}

/** The place of a resolved target (its path has no link and lies in its mount). */
export function placeOf(mounts: readonly RealMount[], target: FsTarget): Place {
  if (target.problem) throw target.problem;
  const guest = target.resolved;
  const mount = mountOf(mounts, guest);
  if (!mount) throw guestErrors.notFound(guest);
  return { mount, segments: segmentsBelow(mount, guest), guest };
}

function segmentsBelow(mount: Mount, guest: string): string[] {
  const rest = guest.slice(mount.guest === "/" ? 1 : mount.guest.length + 1);
  return rest === "" ? [] : rest.split("/");
}

/** The guest path of segments below a mount's root. */
export function guestOf(mount: Mount, segments: readonly string[]): string {
  if (segments.length === 0) return mount.guest;
  return mount.guest === "/" ? `/${segments.join("/")}` : `${mount.guest}/${segments.join("/")}`;
}

/** The host path of segments below a mount's real root. */
export function hostOf(mount: RealMount, segments: readonly string[]): string {
  if (segments.length === 0) return mount.real;
  return mount.real === "/" ? `/${segments.join("/")}` : `${mount.real}/${segments.join("/")}`;
}

/**
 * Resolves a guest path inside its mount (see the module comment). `keep` leaves a link in the
 * last written segment unfollowed: the call acts on the link itself.
 *
 * @example resolveIn(mounts, "/workspace/alias/key.txt", "follow")
 *          // { written: "/workspace/alias/key.txt", resolved: "/workspace/secret/key.txt", links: ["/workspace/alias"], missing: 0 }
 * @throws GuestError `invalid` for a path that is not a valid guest path.
 */
export function resolveIn(mounts: readonly RealMount[], path: string, last: FollowLast): FsTarget {
  const written = canonicalPath(path);
  const mount = mountOf(mounts, written);
  const links: string[] = [];
  const nowhere = (problem: GuestError): FsTarget => ({ written, resolved: written, missing: 0, links, problem });
  if (!mount) return nowhere(guestErrors.notFound(written));
  const stack: string[] = [];
  // Segments still to walk, the next one last; the bottom `fromPath` of them are the written path's.
  const pending = segmentsBelow(mount, written).reverse();
  let fromPath = pending.length;
  let steps = 0;
  try {
    while (pending.length > 0) {
      const isWritten = pending.length <= fromPath;
      const name = pending.pop()!;
      if (isWritten) fromPath--;
      if (name === "" || name === ".") continue;
      if (name === "..") {
        if (stack.length === 0) return nowhere(guestErrors.notFound(written)); // above the mount's root
        stack.pop();
        continue;
      }
      if (++steps > MAX_STEPS) return nowhere(guestErrors.notFound(`${written} (its links name more than ${MAX_STEPS} segments)`));
      stack.push(name);
      if (mount.nested.length > 0 && mount.nested.some((n) => isWithin(guestOf(mount, stack), n))) return nowhere(guestErrors.notFound(written));
      const info = lstatSync(hostOf(mount, stack), { throwIfNoEntry: false });
      if (info === undefined) {
        // Nothing there: the rest of the written path is to be created; a link's target must exist.
        if (!isWritten) return nowhere(guestErrors.notFound(written));
        const missing = 1 + pending.length;
        while (pending.length > 0) stack.push(pending.pop()!);
        const resolved = guestOf(mount, stack);
        if (mount.nested.some((n) => isWithin(resolved, n))) return nowhere(guestErrors.notFound(written));
        return { written, resolved, missing, links };
      }
      if (info.isSymbolicLink() && !(pending.length === 0 && isWritten && last === "keep")) {
        links.push(guestOf(mount, stack));
        if (links.length > MAX_LINKS) return nowhere(guestErrors.notFound(`${written} (more than ${MAX_LINKS} links)`));
        const target = readlinkOrNull(hostOf(mount, stack));
        if (target === null) return nowhere(guestErrors.notFound(written)); // no longer a link: the path is changing under the walk
        stack.pop();
        if (target.startsWith("/")) {
          if (!isWithin(target, mount.real)) return nowhere(guestErrors.notFound(written)); // out of the mount
          stack.length = 0;
          pending.push(...target.slice(mount.real === "/" ? 0 : mount.real.length).split("/").reverse());
        } else pending.push(...target.split("/").reverse());
        continue;
      }
      // Anything after a file (even "." or ".."): the host says ENOTDIR.
      if (pending.length > 0 && !info.isDirectory() && !info.isSymbolicLink()) return nowhere(guestErrors.notFound(written));
    }
  } catch (error) {
    return nowhere(mapError(error, written));
  }
  return { written, resolved: guestOf(mount, stack), missing: 0, links };
}

/** A link's target, or null when the entry is no longer a link (EINVAL) or gone. */
function readlinkOrNull(host: string): string | null {
  try {
    return readlinkSync(host);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EINVAL" || code === "ENOENT") return null;
    throw error;
  }
}

/** The refusal when a path no longer leads where it did when the call was decided. */
export function changed(guest: string): GuestError {
  return guestErrors.denied(null, `${guest} changed after the call was decided (a link or another entry is in its place); refused`);
}

/**
 * Opens exactly `place` (no link followed anywhere): the descriptor's location must be the
 * resolved host path, character for character. The caller closes the descriptor.
 */
export function openExactSync(place: Place, flags: number): number {
  const host = hostOf(place.mount, place.segments);
  let fd: number;
  try {
    fd = openSync(host, flags | O_NOFOLLOW);
  } catch (error) {
    throw openError(error, host, place.guest);
  }
  try {
    // Read from the process's own descriptor table, never from a disk: one system call.
    if (readlinkSync(`${PROC_FD}/${fd}`) !== host) throw changed(place.guest);
    return fd;
  } catch (error) {
    closeSync(fd);
    throw mapError(error, place.guest);
  }
}

/** openExactSync, asynchronously, as a FileHandle. */
export async function openExact(place: Place, flags: number): Promise<FileHandle> {
  const host = hostOf(place.mount, place.segments);
  let fh: FileHandle;
  try {
    fh = await fsp.open(host, flags | O_NOFOLLOW);
  } catch (error) {
    throw openError(error, host, place.guest);
  }
  try {
    if (readlinkSync(`${PROC_FD}/${fh.fd}`) !== host) throw changed(place.guest);
    return fh;
  } catch (error) {
    await fh.close();
    throw mapError(error, place.guest);
  }
}

/** The place of a path's parent directory (the place must not be its mount's root). */
export function parentOf(place: Place): Place {
  const segments = place.segments.slice(0, -1);
  return { mount: place.mount, segments, guest: guestOf(place.mount, segments) };
}

/**
 * ELOOP with O_NOFOLLOW, or ENOTDIR with O_DIRECTORY as well: the last segment may be a link
 * now, where the resolution saw none.
 */
function openError(error: unknown, host: string, guest: string): GuestError {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === "ELOOP") return changed(guest);
  if (code === "ENOTDIR" && lstatSync(host, { throwIfNoEntry: false })?.isSymbolicLink()) return changed(guest);
  return mapError(error, guest);
}

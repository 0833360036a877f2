/**
 * Operations on trees: what a recursive remove, a recursive mkdir or a listing would touch
 * (the plan, which the gate decides entry by entry), and carrying out exactly that plan.
 *
 * Planning reads directories asynchronously, one at a time, through descriptors opened exactly
 * (see fs-resolve.ts), and never follows a link: a link in a tree is an entry of its own, and
 * removing it removes the link. A plan holds at most MAX_PLAN_ENTRIES entries, so that a huge
 * tree is refused (`limit`) instead of holding the kernel's memory and time.
 *
 * Carrying out a removal touches planned entries only, children before parents: an entry that
 * is gone is skipped, one whose kind changed (a directory swapped for a link) is refused, and a
 * directory that holds something unplanned is not removed (rmdir refuses it), so nothing that
 * was not decided is ever removed.
 */
import { constants, promises as fsp, readlinkSync } from "node:fs";
import type { Dirent } from "node:fs";
import { isWithin } from "../../../canonical.js";
import { guestErrors } from "../../../errors.js";
import { kindOf, mapError } from "./fs-io.js";
import { PROC_FD, changed, guestOf, hostOf, openExact, parentOf, type Place, type RealMount } from "./fs-resolve.js";
import type { FsEntry, RunQuota } from "../../../capabilities/types.js";

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;

/** The most entries one recursive operation or listing may touch. */
export const MAX_PLAN_ENTRIES = 10_000;

/**
 * Every entry below the directory at `place`, parents before children (breadth first, names
 * sorted); with `deep` false, its own entries only. Links are entries, never followed.
 *
 * @throws GuestError `limit` past MAX_PLAN_ENTRIES, `not-found` when `place` is not a directory.
 */
export async function walkTree(place: Place, deep: boolean): Promise<FsEntry[]> {
  const entries: FsEntry[] = [];
  const dirs: string[][] = [place.segments];
  for (let next = 0; next < dirs.length; next++) {
    const segments = dirs[next];
    const dir = await openExact({ mount: place.mount, segments, guest: guestOf(place.mount, segments) }, O_RDONLY | O_DIRECTORY);
    let names: Dirent[];
    try {
      names = await fsp.readdir(`${PROC_FD}/${dir.fd}`, { withFileTypes: true });
    } catch (error) {
      throw mapError(error, guestOf(place.mount, segments));
    } finally {
      await dir.close();
    }
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of names) {
      if (entries.length >= MAX_PLAN_ENTRIES) {
        throw guestErrors.limit(`${place.guest} holds more than ${MAX_PLAN_ENTRIES} entries, the most one call may touch`);
      }
      const child = [...segments, d.name];
      const kind = kindOf(d);
      entries.push({ path: guestOf(place.mount, child), kind });
      if (deep && kind === "directory") dirs.push(child);
    }
  }
  return entries;
}

/** What a recursive removal of `place` would remove below it: nothing for a file or a link. */
export async function removalPlan(place: Place): Promise<FsEntry[]> {
  refuseNestedMounts(place);
  let info;
  try {
    info = await fsp.lstat(hostOf(place.mount, place.segments));
  } catch (error) {
    throw mapError(error, place.guest);
  }
  return info.isDirectory() ? walkTree(place, true) : [];
}

/** The directories a recursive mkdir of `place` would create before `place` itself, parents first. */
export function creationPlan(place: Place, missing: number): FsEntry[] {
  const n = place.segments.length;
  const entries: FsEntry[] = [];
  for (let depth = n - missing + 1; depth < n; depth++) {
    entries.push({ path: guestOf(place.mount, place.segments.slice(0, depth)), kind: "directory" });
  }
  return entries;
}

/** A tree that holds another mount's guest path lies partly in that mount: not this call's to touch. */
function refuseNestedMounts(place: Place): void {
  const inner = place.mount.nested.find((n) => isWithin(n, place.guest));
  if (inner !== undefined) throw guestErrors.denied(null, `${place.guest} holds the mount ${inner}`);
}

/**
 * Removes `place`: a file or link at once, an empty directory, or with `plan` (a recursive
 * removal) exactly the planned entries below it and then the directory.
 */
export async function removeAt(place: Place, plan: FsEntry[] | null): Promise<void> {
  if (place.segments.length === 0) throw guestErrors.denied(null, `${place.guest} is a mount and cannot be removed`);
  refuseNestedMounts(place);
  const parent = await openExact(parentOf(place), O_RDONLY | O_DIRECTORY);
  try {
    const entry = `${PROC_FD}/${parent.fd}/${place.segments[place.segments.length - 1]}`;
    const info = await fsp.lstat(entry);
    if (!info.isDirectory()) return await fsp.unlink(entry);
    if (plan !== null) await removePlanned(place.mount, plan);
    await removeDir(entry, place.guest, plan !== null);
  } catch (error) {
    throw mapError(error, place.guest);
  } finally {
    await parent.close();
  }
}

/** How many entries of one directory are removed at a time (the thread pool works on several). */
const REMOVE_BATCH = 16;

/**
 * Removes the planned entries, deepest first (the plan lists parents first, breadth first, so
 * read backwards the entries of one directory come together and after everything below them).
 */
async function removePlanned(mount: RealMount, plan: FsEntry[]): Promise<void> {
  const below = (path: string) => path.slice(mount.guest === "/" ? 1 : mount.guest.length + 1).split("/");
  for (let end = plan.length; end > 0; ) {
    const parent = below(plan[end - 1].path).slice(0, -1);
    const key = parent.join("/");
    let start = end - 1;
    while (start > 0 && below(plan[start - 1].path).slice(0, -1).join("/") === key) start--;
    const group = plan.slice(start, end).reverse();
    end = start;
    const dir = await openExact({ mount, segments: parent, guest: guestOf(mount, parent) }, O_RDONLY | O_DIRECTORY).catch((error: unknown) => {
      // A planned directory already gone took its planned entries with it: nothing left to do there.
      if ((error as { error?: { tag?: string } }).error?.tag === "not-found") return undefined;
      throw error;
    });
    if (dir === undefined) continue;
    try {
      for (let i = 0; i < group.length; i += REMOVE_BATCH) {
        // Every removal settles before the descriptor closes: its number, reused, could name another directory.
        const settled = await Promise.allSettled(group.slice(i, i + REMOVE_BATCH).map((e) => removeOne(`${PROC_FD}/${dir.fd}/${e.path.slice(e.path.lastIndexOf("/") + 1)}`, e.path, e.kind)));
        const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed) throw failed.reason;
      }
    } finally {
      await dir.close();
    }
  }
}

async function removeOne(entry: string, guest: string, kind: FsEntry["kind"]): Promise<void> {
  const info = await fsp.lstat(entry).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return null;
    throw mapError(error, guest);
  });
  if (info === null) return; // removed since it was planned
  if (kindOf(info) !== kind) throw changed(guest);
  if (kind === "directory") await removeDir(entry, guest, true);
  else await fsp.unlink(entry).catch((error: unknown) => Promise.reject(mapError(error, guest)));
}

async function removeDir(entry: string, guest: string, planned: boolean): Promise<void> {
  try {
    await fsp.rmdir(entry);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOTEMPTY") throw mapError(error, guest);
    // After a planned removal, what is left appeared since the plan was decided: it stays.
    if (planned) throw guestErrors.denied(null, `${guest} holds entries that appeared after the call was decided; they were not removed`);
    throw guestErrors.invalid(`${guest} is a directory that is not empty`);
  }
}

/**
 * Creates the directory at `place`: its last `missing` segments did not exist when the call was
 * decided, and are the only ones created; every other segment must still be a directory (not a
 * link). Counts each created directory against the run's quota.
 */
export async function makeDirs(place: Place, missing: number, recursive: boolean, quota: RunQuota): Promise<void> {
  const { mount, segments } = place;
  const n = segments.length;
  if (n === 0 || missing === 0) {
    if (!recursive) throw guestErrors.invalid(`${place.guest} already exists`);
    if (n === 0) return;
  }
  if (!recursive && missing > 1) throw guestErrors.notFound(place.guest);
  // Start below the deepest directory that existed when the call was decided.
  const start = Math.min(n - missing, n - 1);
  let dir = await openExact({ mount, segments: segments.slice(0, start), guest: guestOf(mount, segments.slice(0, start)) }, O_RDONLY | O_DIRECTORY);
  try {
    for (let i = start; i < n; i++) {
      const here = segments.slice(0, i + 1);
      const guest = guestOf(mount, here);
      const entry = `${PROC_FD}/${dir.fd}/${segments[i]}`;
      const info = await fsp.lstat(entry).catch((error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? null : Promise.reject(mapError(error, guest))));
      if (info === null) {
        if (i < n - missing) throw changed(guest); // it existed when decided: what replaced it was not decided
        if (quota.fsFilesCreated + 1 > quota.limits.fsFilesCreated) {
          throw guestErrors.limit(`creating ${guest} would exceed the limit of ${quota.limits.fsFilesCreated} files created per run`);
        }
        await fsp.mkdir(entry, 0o755).catch((error: unknown) => Promise.reject(mapError(error, guest)));
        quota.fsFilesCreated += 1;
      } else if (info.isSymbolicLink()) throw changed(guest);
      else if (!info.isDirectory()) throw i === n - 1 ? guestErrors.invalid(`${guest} already exists`) : guestErrors.notFound(place.guest);
      else if (i === n - 1 && !recursive) throw guestErrors.invalid(`${guest} already exists`);
      if (i < n - 1) {
        const next = await fsp.open(entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW).catch((error: unknown) => Promise.reject(mapError(error, guest)));
        await dir.close();
        dir = next;
        if (readlinkSync(`${PROC_FD}/${dir.fd}`) !== hostOf(mount, here)) throw changed(guest);
      }
    }
  } finally {
    await dir.close();
  }
}

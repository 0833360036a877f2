/** Shared helpers for the capability tests. */
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_LIMITS, type Limits } from "../../dist/runtime/types.js";
import { GuestError } from "../../dist/runtime/errors.js";
import type { RunQuota } from "../../dist/runtime/capabilities/types.js";

export function makeQuota(limits: Partial<Limits> = {}): RunQuota {
  return { limits: { ...DEFAULT_LIMITS, ...limits }, fsBytesWritten: 0, fsFilesCreated: 0 };
}

export function tempDir(prefix: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), `agentos-${prefix}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Runs `fn` and returns the GuestError tag it threw, or "ok". Any other exception fails the test. */
export async function outcome(fn: () => unknown): Promise<string> {
  try {
    await fn();
    return "ok";
  } catch (err) {
    if (err instanceof GuestError) return err.error.tag;
    throw err;
  }
}

/** The GuestError a call threw (fails when it did not throw one). */
export async function guestError(fn: () => unknown): Promise<GuestError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof GuestError) return err;
    throw err;
  }
  throw new Error("expected a GuestError, the call succeeded");
}

/** The content of the host file outside every mount that path attacks aim at. */
export const SECRET = "SECRET-outside-the-mount";

/** Host directories of the tree PATH_ATTACKS is written against. */
export interface PathTree {
  /** Mounted read-write as /workspace. */
  ws: string;
  /** Never mounted: holds secret.txt and f.txt. */
  outside: string;
  /** Mounted read-only as /data: holds ro.txt. */
  data: string;
}

/**
 * Builds, under `root`, the host tree of PATH_ATTACKS (see attack-tables.ts): ws/ with its links
 * (to outside/, to itself, a loop, a /proc/self/root detour), outside/ with the secret, data/.
 */
export function buildPathTree(root: string): PathTree {
  const ws = join(root, "ws");
  const outside = join(root, "outside");
  const data = join(root, "data");
  for (const d of [ws, outside, data, join(ws, "dir"), join(ws, "race")]) mkdirSync(d, { recursive: true });
  writeFileSync(join(outside, "secret.txt"), SECRET);
  writeFileSync(join(ws, "inner.txt"), "inner");
  writeFileSync(join(ws, "race", "f.txt"), "inside");
  writeFileSync(join(outside, "f.txt"), SECRET);
  writeFileSync(join(data, "ro.txt"), "read only");
  symlinkSync("../outside", join(ws, "link-out"));
  symlinkSync("../outside/secret.txt", join(ws, "file-link"));
  symlinkSync(join(outside, "secret.txt"), join(ws, "abs-link"));
  symlinkSync("link-out/secret.txt", join(ws, "chain"));
  symlinkSync("loop", join(ws, "loop"));
  symlinkSync("../../outside", join(ws, "dir", "up"));
  symlinkSync(`/proc/self/root${outside}/secret.txt`, join(ws, "proc-link"));
  symlinkSync(`../../../../../../../..${outside}`, join(ws, "deep-rel"));
  symlinkSync("inner.txt", join(ws, "link-in"));
  symlinkSync("dir", join(ws, "dir-link"));
  return { ws, outside, data };
}

/**
 * Every entry under `dir`, links not followed: files with their content, links with their
 * target, directories as "dir". Entries for which `skip` (given the host path) is true are left out
 * with everything below them. For before/after comparisons of the host.
 */
export function snapshotTree(dir: string, skip: (path: string) => boolean = () => false): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (at: string) => {
    for (const name of readdirSync(at).sort()) {
      const path = join(at, name);
      if (skip(path)) continue;
      const info = lstatSync(path);
      if (info.isSymbolicLink()) out[path] = `-> ${readlinkSync(path)}`;
      else if (info.isDirectory()) {
        out[path] = "dir";
        walk(path);
      } else out[path] = info.isFile() ? readFileSync(path, "latin1") : "other";
    }
  };
  walk(dir);
  return out;
}

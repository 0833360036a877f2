/** Shared helpers for the capability tests. */
import { mkdtempSync, rmSync } from "node:fs";
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

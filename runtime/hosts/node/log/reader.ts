/**
 * Reading a log from outside the kernel that owns it (the `log` and `verify` commands).
 *
 * LevelDB allows one open handle per directory. When the log is free, the reader opens it
 * directly (briefly). When a running kernel holds it, the reader opens a private snapshot:
 * the immutable table files hard-linked (copied across file systems), the manifest and
 * write-ahead logs copied, retried if the kernel changed the file set meanwhile. The live
 * log is only ever read, never locked while in use.
 */
import { copyFile, link, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { LogError } from "../../../errors.js";
import { openLog } from "../../../episodic/index.js";
import type { KernelLog } from "../../../episodic/log.js";

/**
 * Whether a directory holds a LevelDB log (has a CURRENT file).
 *
 * @example if (!(await logExists(".agent-os/log"))) console.error("no log");
 */
export async function logExists(dir: string): Promise<boolean> {
  return stat(path.join(dir, "CURRENT")).then(
    (s) => s.isFile(),
    () => false,
  );
}

/**
 * Opens an existing log for reading, even while another process owns it. Close it when done.
 *
 * @example const log = await openLogReader(".agent-os/log"); const report = await log.verify(); await log.close();
 * @throws LogError when there is no log at `dir`, or it cannot be read.
 */
export async function openLogReader(dir: string): Promise<KernelLog> {
  if (!(await logExists(dir))) throw new LogError(`there is no log at ${dir}`);
  try {
    return await openLog({ dir });
  } catch (err) {
    if (!(err instanceof LogError && /in use by another process/.test(err.message))) throw err;
  }
  for (let attempt = 0; ; attempt++) {
    const copy = await mkdtemp(path.join(os.tmpdir(), "agent-os-log-snapshot-"));
    try {
      if (await snapshot(dir, copy)) {
        const log = await openLog({ dir: copy });
        const close = log.close.bind(log);
        return Object.assign(log, { close: async () => (await close(), await rm(copy, { recursive: true, force: true })) });
      }
    } catch (err) {
      if (attempt >= 4) {
        await rm(copy, { recursive: true, force: true });
        throw new LogError(`cannot read the log at ${dir} while it is in use: ${(err as Error).message}`, { cause: err });
      }
    }
    await rm(copy, { recursive: true, force: true });
    if (attempt >= 4) throw new LogError(`cannot read the log at ${dir}: it kept changing while being copied`);
  }
}

/** Copies a live LevelDB directory; false when its set of files changed meanwhile. */
async function snapshot(dir: string, copy: string): Promise<boolean> {
  const before = (await readdir(dir)).sort();
  await copyFile(path.join(dir, "CURRENT"), path.join(copy, "CURRENT"));
  const order = (name: string) => (name.startsWith("MANIFEST-") ? 0 : name.endsWith(".ldb") || name.endsWith(".sst") ? 1 : 2);
  for (const name of [...before].sort((a, b) => order(a) - order(b))) {
    if (name === "CURRENT" || name === "LOCK" || name.startsWith("LOG")) continue;
    const from = path.join(dir, name);
    const to = path.join(copy, name);
    if (order(name) === 1) await link(from, to).catch(() => copyFile(from, to));
    else await copyFile(from, to);
  }
  const after = (await readdir(dir)).sort();
  return before.join("\n") === after.join("\n");
}

/**
 * The watchdog thread of a run's SQL process (sql-child.ts). It runs beside a statement that
 * holds the process's main thread in native code, so it can still act:
 *
 * - always, whether the kernel that started the process is still there (a process whose parent
 *   died is re-parented): if not, it ends the process, runaway statement and all;
 * - where the kernel cannot read a process's memory itself (no /proc), while a statement runs,
 *   every few milliseconds, the process's resident memory: over the cap, it writes `memory` to
 *   the kernel on fd 4 and ends the process (SQLite builds a row before anyone can look at it:
 *   `SELECT zeroblob(300000000), ...` would take gigabytes). Where the kernel can, it does, and
 *   a short statement costs this thread nothing.
 */
import { writeSync } from "node:fs";
import { workerData } from "node:worker_threads";
import { MEMORY_MARK } from "./sql-protocol.js";

const { busy, memoryBytes, parent, fd } = workerData as { busy: Int32Array; memoryBytes: number | undefined; parent: number; fd: number };
/** How often memory is read while a statement runs, and how often the parent is checked when idle. */
const BUSY_POLL_MS = 2;
const IDLE_POLL_MS = 250;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

for (;;) {
  if (Atomics.load(busy, 0) === 0) Atomics.wait(busy, 0, 0, IDLE_POLL_MS);
  if (process.ppid !== parent) process.kill(process.pid, "SIGKILL");
  if (memoryBytes !== undefined && Atomics.load(busy, 0) === 1) {
    if (process.memoryUsage.rss() > memoryBytes) {
      try {
        writeSync(fd, `${MEMORY_MARK}\n`);
      } finally {
        process.kill(process.pid, "SIGKILL");
      }
    }
    Atomics.wait(sleeper, 0, 0, BUSY_POLL_MS);
  }
}

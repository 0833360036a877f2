/**
 * The SQL process of one run (started by sql-process.ts with `fork`): the run's connections,
 * its analyses and its statements, off the kernel's thread and out of the kernel's process.
 *
 * better-sqlite3 as built here has no progress handler and no interrupt: a statement runs to
 * its end on the thread that started it, and terminating a worker thread does not stop native
 * code. Only the end of the process stops it, so each run gets a process of its own, and the
 * kernel ends it (SIGKILL) on the SQL time limit, the run's deadline, SIGKILL or the run's end.
 * SQLite's journal makes that safe: the next connection rolls back what was not committed.
 *
 * A watchdog thread (sql-watchdog.ts) ends the process when its memory passes the cap while a
 * statement runs (a row too large to build), saying so on fd 4, and when the kernel is gone.
 *
 * This file is a process entry point: what it holds at module level is the process's own.
 */
import { Worker } from "node:worker_threads";
import { GuestError, type WitError } from "../errors.js";
import { DEFAULT_LIMITS } from "../types.js";
import { createSql, type LocalSql } from "./sql.js";
import type { FromChild, OpenMessage, RequestMessage, ToChild } from "./sql-protocol.js";

const memoryBytes = Number(process.argv[2]);
const busy = new Int32Array(new SharedArrayBuffer(4));
const watchdog = new Worker(new URL("./sql-watchdog.js", import.meta.url), { workerData: { busy, memoryBytes, parent: process.ppid, fd: 4 } });
watchdog.unref();

let sql: LocalSql | undefined;

process.on("message", (message: ToChild) => {
  switch (message?.type) {
    case "open":
      sql = open(message);
      break;
    case "analyze":
    case "query":
      send(answer(message));
      break;
    case "close":
      sql?.close();
      process.exit(0);
      break;
    default:
      process.exit(70);
  }
});
// The kernel went away: nothing of this run may go on.
process.on("disconnect", () => process.exit(0));
send({ type: "ready" });

function open(message: OpenMessage): LocalSql {
  sql?.close();
  const quota = { limits: { ...DEFAULT_LIMITS, sqlRows: message.limits.sqlRows, sqlWriteBytes: message.limits.sqlWriteBytes }, fsBytesWritten: 0, fsFilesCreated: 0 };
  return createSql({ databases: message.databases, quota, maxResultBytes: message.maxResultBytes, allow: message.allow });
}

function answer(m: RequestMessage): FromChild {
  if (!sql) return { type: "reply", id: m.id, err: { tag: "io", val: "the SQL process was not set up" } };
  Atomics.store(busy, 0, 1);
  Atomics.notify(busy, 0);
  try {
    sql.setBusyTimeout(m.busyMs);
    const ok = m.type === "analyze" ? sql.analyze(m.database, m.statement) : sql.query(m.database, m.statement, m.params);
    return { type: "reply", id: m.id, ok };
  } catch (error) {
    const err: WitError = error instanceof GuestError ? error.error : { tag: "io", val: "the host could not carry out the call" };
    return { type: "reply", id: m.id, err };
  } finally {
    Atomics.store(busy, 0, 0);
  }
}

function send(message: FromChild): void {
  process.send?.(message);
}

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
 * The kernel watches the process's memory while a statement runs and kills it past the cap (a
 * row too large to build). A watchdog thread (sql-watchdog.ts) ends the process when the kernel
 * is gone, and watches memory itself where the kernel cannot (no /proc).
 *
 * This file is a process entry point: what it holds at module level is the process's own.
 */
import { Worker } from "node:worker_threads";
import { GuestError, type WitError } from "../../../errors.js";
import { DEFAULT_LIMITS } from "../../../types.js";
import { createSql, type LocalSql } from "./sql.js";
import type { FromChild, OpenMessage, RequestMessage, ToChild } from "./sql-protocol.js";

/** The memory cap this process watches itself, when the kernel cannot (argv[2], "" otherwise). */
const memoryBytes = process.argv[2] ? Number(process.argv[2]) : undefined;
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
warmUp();
send({ type: "ready" });

/**
 * Loads SQLite and runs the analyzer once before saying ready, so that a run's first statement
 * does not pay for it against its time limit.
 */
function warmUp(): void {
  const scratch = createSql({ databases: { warm: { file: ":memory:" } }, quota: { limits: { ...DEFAULT_LIMITS }, fsBytesWritten: 0, fsFilesCreated: 0 } });
  try {
    scratch.analyze("warm", "SELECT 1");
    scratch.query("warm", "SELECT 1", []);
  } finally {
    scratch.close();
  }
}

function open(message: OpenMessage): LocalSql {
  sql?.close();
  const quota = { limits: { ...DEFAULT_LIMITS, sqlRows: message.limits.sqlRows, sqlWriteBytes: message.limits.sqlWriteBytes }, fsBytesWritten: 0, fsFilesCreated: 0 };
  return createSql({ databases: message.databases, quota, maxResultBytes: message.maxResultBytes, allow: message.allow });
}

function answer(m: RequestMessage): FromChild {
  if (!sql) return { type: "reply", id: m.id, err: { tag: "io", val: "the SQL process was not set up" } };
  Atomics.store(busy, 0, 1);
  if (memoryBytes !== undefined) Atomics.notify(busy, 0);
  try {
    sql.setBusyTimeout(m.busyMs);
    const ok = m.type === "analyze" ? sql.analyze(m.database, m.statement) : sql.query(m.database, m.statement, m.params, m.decided);
    return { type: "reply", id: m.id, ok };
  } catch (error) {
    const err: WitError = error instanceof GuestError ? error.error : sqliteError(error);
    return { type: "reply", id: m.id, err };
  } finally {
    Atomics.store(busy, 0, 0);
  }
}

/** An error SQLite raised where nothing expected one: its code and message (they name no host path); anything else says nothing. */
function sqliteError(error: unknown): WitError {
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && code.startsWith("SQLITE_") && error instanceof Error) return { tag: "io", val: `${code}: ${error.message}` };
  return { tag: "io", val: "the host could not carry out the call" };
}

function send(message: FromChild): void {
  process.send?.(message);
}

/**
 * The sql capability of one run, as the gate uses it: every analysis and statement goes to the
 * run's own SQL process (sql-process.ts), never runs on the kernel's thread, and is bounded in
 * time by `limits.sqlTimeout`: the analysis and the execution of one statement share it (the
 * time the gate takes to decide in between does not count). SQLite's busy timeout is set below
 * what is left, so that a lock held by another run ends in a clear `io` ("database is locked")
 * before the time limit kills the statement.
 *
 * After a statement is interrupted (time limit, memory) or the process fails, the run's SQL is
 * stopped: every later call fails with the same error, since its connections and any
 * transaction it had open are gone, and going on as if they were not would commit half a
 * transaction.
 */
import { guestErrors } from "../errors.js";
import type { Limits, SqlFacts } from "../types.js";
import type { DatabaseSpec } from "./sql.js";
import { readFacts, readResult } from "./sql-protocol.js";
import type { SqlProcess, SqlProcessPool, SqlRequest } from "./sql-process.js";
import type { QueryResult, SqlHost, SqlValue } from "./types.js";

/** Options of {@link createRunSql}. Defaults: results up to 16 MiB, ATTACH refused. */
export interface RunSqlOptions {
  databases: Record<string, DatabaseSpec>;
  /** The run's limits: sqlTimeout, sqlRows, sqlWriteBytes. */
  limits: Pick<Limits, "sqlTimeout" | "sqlRows" | "sqlWriteBytes">;
  pool: SqlProcessPool;
  maxResultBytes?: number;
  allow?: { attach?: boolean };
}

/**
 * Creates the sql capability of one run. Its process is taken from the pool at the first call;
 * `close()` ends it (at once if a statement still runs).
 *
 * @example const sql = createRunSql({ databases, limits: run.limits, pool });
 *          const facts = await sql.analyze("main", "SELECT 1"); // then the gate decides
 *          const rows = await sql.query("main", "SELECT 1", []);
 */
export function createRunSql(options: RunSqlOptions): SqlHost {
  const { limits } = options;
  let proc: SqlProcess | undefined;
  let closed = false;
  /** The last statement analyzed and how long that took: its execution gets the rest of the time limit. */
  let analyzed: { database: string; statement: string; ms: number } | undefined;

  function processFor(): SqlProcess {
    if (closed) throw guestErrors.io("the sql capability is closed");
    if (proc === undefined) {
      proc = options.pool.acquire();
      proc.open({ type: "open", databases: options.databases, limits: { sqlRows: limits.sqlRows, sqlWriteBytes: limits.sqlWriteBytes }, maxResultBytes: options.maxResultBytes, allow: options.allow });
    }
    return proc;
  }

  async function send(request: SqlRequest, budgetMs: number, p: SqlProcess): Promise<unknown> {
    return p.request({ ...request, busyMs: busyTimeoutFor(budgetMs) } as SqlRequest, budgetMs);
  }

  /** A process that answered junk is ended: the call fails, and so does every later one. */
  function junk(): never {
    const why = guestErrors.io("the SQL process answered something that is not an answer; SQL is stopped for the rest of this run");
    proc?.kill(why);
    throw why;
  }

  async function analyze(database: string, statement: string): Promise<SqlFacts> {
    analyzed = undefined;
    const p = processFor();
    await p.ready(); // starting the process is not the statement's time
    const t0 = performance.now();
    const value = await send({ type: "analyze", database, statement, busyMs: 0 }, limits.sqlTimeout, p);
    const facts = readFacts(value, statement) ?? junk();
    analyzed = { database, statement, ms: performance.now() - t0 };
    return facts;
  }

  async function query(database: string, statement: string, params: SqlValue[]): Promise<QueryResult> {
    const spent = analyzed?.database === database && analyzed.statement === statement ? analyzed.ms : 0;
    analyzed = undefined;
    const budget = Math.max(1, Math.round(limits.sqlTimeout - spent));
    const value = await send({ type: "query", database, statement, params, busyMs: 0 }, budget, processFor());
    return readResult(value) ?? junk();
  }

  function close(): void {
    closed = true;
    proc?.close();
  }

  return { analyze, query, close };
}

/** SQLite's busy timeout for a statement with `budgetMs` left: enough below it to fail cleanly first. */
function busyTimeoutFor(budgetMs: number): number {
  return Math.max(0, Math.floor(budgetMs - Math.max(500, budgetMs / 4)));
}

/**
 * The sql capability of one run, as the gate uses it: every analysis and statement goes to the
 * run's own SQL process (sql-process.ts), never runs on the kernel's thread, and is bounded in
 * time by `limits.sqlTimeout`: the analysis and the execution of one statement share it (the
 * time the gate takes to decide in between does not count). SQLite's busy timeout is set below
 * what is left, so that a lock held by another run ends in a clear `io` ("database is locked")
 * before the time limit kills the statement.
 *
 * The facts of a statement analyzed before are remembered here, so that the gate decides at once
 * and the statement costs one round trip to the process instead of two: the query then carries
 * the facts decided on, and the process runs it only if they are still the statement's facts
 * under the schema it runs under (otherwise `io`, "changed after the call was decided", and the
 * memory of it is dropped). A statement that may change a schema (anything but select, insert,
 * update, delete) makes the run forget every remembered analysis.
 *
 * After a statement is interrupted (time limit, memory) or the process fails, the run's SQL is
 * stopped: every later call fails with the same error, since its connections and any
 * transaction it had open are gone, and going on as if they were not would commit half a
 * transaction.
 */
import { guestErrors } from "../../../errors.js";
import type { Limits, SqlFacts } from "../../../types.js";
import { REMEMBERED, REMEMBERED_CHARS, type DatabaseSpec } from "./sql.js";
import { readFacts, readResult } from "./sql-protocol.js";
import type { SqlProcess, SqlProcessPool, SqlRequest } from "./sql-process.js";
import type { QueryResult, SqlHost, SqlValue } from "../../../capabilities/types.js";

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
  /** The last statement analyzed, its facts, and how long that took: its execution gets the rest of the time limit. */
  let analyzed: { database: string; statement: string; ms: number; facts: SqlFacts; remembered: boolean } | undefined;
  /** Facts of statements analyzed before, by database and statement (none with ATTACH allowed: an attached schema moves on its own). */
  const remembered = new Map<string, SqlFacts>();
  const remembers = options.allow?.attach !== true;

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
    const key = `${database}\0${statement}`;
    const known = remembered.get(key);
    if (known !== undefined) {
      analyzed = { database, statement, ms: 0, facts: known, remembered: true };
      return known;
    }
    const p = processFor();
    await p.ready(); // starting the process is not the statement's time
    const t0 = performance.now();
    const value = await send({ type: "analyze", database, statement, busyMs: 0 }, limits.sqlTimeout, p);
    const facts = readFacts(value, statement) ?? junk();
    analyzed = { database, statement, ms: performance.now() - t0, facts, remembered: false };
    if (remembers && statement.length <= REMEMBERED_CHARS) {
      if (remembered.size >= REMEMBERED) remembered.delete(remembered.keys().next().value as string);
      remembered.set(key, facts);
    }
    return facts;
  }

  async function query(database: string, statement: string, params: SqlValue[]): Promise<QueryResult> {
    const decided = analyzed?.database === database && analyzed.statement === statement ? analyzed : undefined;
    analyzed = undefined;
    const budget = Math.max(1, Math.round(limits.sqlTimeout - (decided?.ms ?? 0)));
    // Facts from this run's memory are checked by the process against the statement as it runs now.
    const request: SqlRequest = { type: "query", database, statement, params, busyMs: 0, ...(decided?.remembered ? { decided: decided.facts } : {}) };
    let value: unknown;
    try {
      value = await send(request, budget, processFor());
    } catch (error) {
      remembered.delete(`${database}\0${statement}`);
      throw error;
    }
    const result = readResult(value) ?? junk();
    if (decided === undefined || decided.facts.operations.some((op) => !DATA_OPERATIONS.has(op))) remembered.clear();
    return result;
  }

  function close(): Promise<void> {
    closed = true;
    return proc?.close() ?? Promise.resolve();
  }

  return { analyze, query, close };
}

/** Operations that change no schema: after any other, remembered analyses are forgotten. */
const DATA_OPERATIONS: ReadonlySet<string> = new Set(["select", "insert", "update", "delete"]);

/** SQLite's busy timeout for a statement with `budgetMs` left: enough below it to fail cleanly first. */
function busyTimeoutFor(budgetMs: number): number {
  return Math.max(0, Math.floor(budgetMs - Math.max(500, budgetMs / 4)));
}

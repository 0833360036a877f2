/**
 * The `sql` capability's connections, on any SQLite that gives {@link SqlDatabase}: better-sqlite3
 * on Node (hosts/node/sql/sql.ts), SQLite in WebAssembly on the edge (runtime/edge/sqlite/). Nothing here
 * imports a Node built-in.
 *
 * One statement per call, parameters always bound (never interpolated), typed values out
 * (integers as bigint). Each database is opened on first use by the host's `open` (read-only
 * when so mounted, in SQLite's defensive mode, extension loading never enabled), then set to
 * `trusted_schema=OFF`.
 *
 * A statement is compiled and analyzed once per schema: the analysis (the policy's facts, the
 * refused calls) and the prepared statement are remembered under the statement's text together
 * with the schema cookies of `main` and `temp`. Any schema change, by this connection or
 * another, changes a cookie and so forces a new analysis; defensive mode keeps an agent from
 * setting a cookie back (`PRAGMA schema_version = N` is ignored). With ATTACH allowed nothing is
 * remembered, since an attached schema has cookies of its own. A query whose schema changed
 * after the gate decided on its analysis is refused with `io` rather than run under facts
 * nobody decided on (checked inside the statement's transaction: sql-exec.ts).
 *
 * As defense in depth behind the gate, the capability itself refuses ATTACH and DETACH unless
 * `allow.attach` is set, and always refuses `load_extension`, `VACUUM INTO` (which writes a
 * new file wherever the statement names, read-only database or not: a way out of every mount)
 * and the pragmas that would undo a guard of the kernel's (sql-pragma.ts).
 */
import { guestErrors } from "../errors.js";
import type { SqlFacts } from "../types.js";
import { SqlAnalyzer, type CompiledSql } from "./sql-analyze.js";
import type { OpenScratch, SqlDatabase as Database, SqlStatement as Statement } from "./sql-db.js";
import { runStatement, type Runnable, type Transactions, type WriteQuota } from "./sql-exec.js";
import { bindArguments, significant, tokenize, upper } from "./sql-text.js";
import type { QueryResult, RunQuota, SqlValue } from "./types.js";

/** What every host's SQL takes besides its databases. */
export interface SqlCommonOptions {
  /** The run's quota: `limits.sqlRows` caps the rows one query returns, `limits.sqlWriteBytes` what its statements may grow the databases by. */
  quota: RunQuota;
  /** The largest result of one query in bytes (text, blobs, 8 per number). Default: 16 MiB. */
  maxResultBytes?: number;
  /** Statements the capability refuses even when the gate allowed them. Default: ATTACH/DETACH refused (load_extension and VACUUM INTO always are). */
  allow?: { attach?: boolean };
  /** Milliseconds a statement waits for another connection's lock (SQLite's busy timeout). Default: 5000. */
  busyTimeout?: number;
}

/** Options of {@link createSqlConnections}: databases described as the host describes them, and how to open them. */
export interface SqlConnectionsOptions<S> extends SqlCommonOptions {
  /** Databases by name. */
  databases: Record<string, S>;
  /** Opens one database (integers as bigint; read-only, defensive mode, busy timeout as its spec and `busyTimeout` say). @throws anything: the call fails with `io` */
  open(name: string, spec: S, busyTimeout: number): Database;
  /** Opens an empty in-memory database of the same SQLite (the analyzer compiles PRAGMA syntax there). */
  openScratch: OpenScratch;
}

/** The capability in the calling thread: every call is synchronous. */
export interface LocalSql {
  /** The facts the policy decides on; throws GuestError `invalid` for several statements or a syntax error, `not-found` for an unknown database. */
  analyze(database: string, statement: string): SqlFacts;
  /**
   * Runs a statement. With `decided` (the facts the gate decided on, from an earlier analysis),
   * the statement runs only if its facts under the schema it runs under are those: otherwise
   * `io` ("changed after the call was decided"), and nothing runs.
   */
  query(database: string, statement: string, params: SqlValue[], decided?: SqlFacts): QueryResult;
  /** Sets how long statements from now on wait for another connection's lock, in milliseconds. */
  setBusyTimeout(ms: number): void;
  close(): void;
}

/** Statements remembered per database, and the longest text remembered (longer ones are compiled every time). */
export const REMEMBERED = 256;
export const REMEMBERED_CHARS = 4096;

/** One open database and what it remembers of the statements it has compiled. */
interface Connection {
  db: Database;
  analyzer: SqlAnalyzer;
  /** The schema cookies of main and temp, as one string. */
  cookie(): string;
  compiled: Map<string, Compiled>;
  /** The last analysis handed out (the one the gate decided on): a query must run under the same schema. */
  decided?: Compiled;
  /** BEGIN, BEGIN IMMEDIATE, COMMIT and ROLLBACK, prepared once. */
  transaction: Transactions;
}

interface Compiled extends CompiledSql {
  cookie: string;
  /** Prepared on the first query (an analysis alone does not need it). */
  runnable?: Runnable;
}

/**
 * Creates the sql capability's connections for one run, in this thread, on connections that
 * `options.open` makes. Call `close()` when the run ends.
 *
 * @example const sql = createSqlConnections({ databases: { main: { file: "/abs/app.db" } }, quota, open, openScratch });
 *          const facts = sql.analyze("main", "SELECT * FROM users WHERE id = ?");
 *          const result = sql.query("main", "SELECT * FROM users WHERE id = ?", [{ tag: "integer", val: 1n }]);
 */
export function createSqlConnections<S>(options: SqlConnectionsOptions<S>): LocalSql {
  const open = new Map<string, Connection>();
  const maxBytes = options.maxResultBytes ?? 16 * 1024 * 1024;
  const remember = options.allow?.attach !== true;
  const { quota } = options;
  const writes: WriteQuota = { limit: quota.limits.sqlWriteBytes, used: 0 };
  let busyTimeout = options.busyTimeout ?? 5000;
  let closed = false;

  function connection(name: string): Connection {
    if (closed) throw guestErrors.io("the sql capability is closed");
    const spec = typeof name === "string" && Object.hasOwn(options.databases, name) ? options.databases[name] : undefined;
    if (!spec) throw guestErrors.notFound(`database ${JSON.stringify(String(name))}`);
    let conn = open.get(name);
    if (!conn) {
      conn = openConnection(options, name, spec, busyTimeout);
      open.set(name, conn);
    }
    return conn;
  }

  /** The statement's analysis under the current schema: remembered, or compiled now. */
  function compiled(conn: Connection, statement: string): Compiled {
    const cookie = readCookie(conn);
    const known = conn.compiled.get(statement);
    if (known && known.cookie === cookie) return known;
    const fresh: Compiled = { ...conn.analyzer.compile(statement), cookie };
    for (const list of [fresh.facts.operations, fresh.facts.reads, fresh.facts.writes]) Object.freeze(list);
    Object.freeze(fresh.facts);
    conn.compiled.delete(statement);
    if (remember && statement.length <= REMEMBERED_CHARS) {
      if (conn.compiled.size >= REMEMBERED) conn.compiled.delete(conn.compiled.keys().next().value as string);
      conn.compiled.set(statement, fresh);
    }
    return fresh;
  }

  function analyze(name: string, statement: string): SqlFacts {
    const conn = connection(name);
    conn.decided = compiled(conn, statement);
    return conn.decided.facts;
  }

  function query(name: string, statement: string, params: SqlValue[], decided?: SqlFacts): QueryResult {
    const conn = connection(name);
    const analyzed = conn.decided?.facts.statement === statement ? conn.decided : undefined;
    conn.decided = undefined;
    // The statement the gate decided on runs under its analysis, checked inside its transaction.
    const entry = analyzed ?? compiled(conn, statement);
    if (decided !== undefined && !sameFacts(entry.facts, decided)) {
      throw guestErrors.io("the statement's tables or operations changed after the call was decided (the schema changed); try again");
    }
    refuseDangerous(entry, options.allow?.attach === true);
    const values = bind(params);
    if (values.length !== entry.layout.count) {
      throw guestErrors.invalid(`the statement takes ${entry.layout.count} parameters, ${values.length} given`);
    }
    const runnable = prepared(conn.db, entry, statement);
    return runStatement(conn.db, runnable, bindArguments(entry.layout, values), {
      expectedCookie: entry.cookie,
      cookie: conn.cookie,
      transaction: conn.transaction,
      rows: quota.limits.sqlRows,
      maxBytes,
      quota: writes,
      database: name,
    });
  }

  function setBusyTimeout(ms: number): void {
    const next = Math.max(0, Math.floor(ms));
    if (next === busyTimeout) return; // (a PRAGMA per connection per statement is not free)
    busyTimeout = next;
    for (const conn of open.values()) conn.db.pragma(`busy_timeout = ${busyTimeout}`);
  }

  function close(): void {
    closed = true;
    for (const conn of open.values()) {
      conn.analyzer.close();
      conn.db.close();
    }
    open.clear();
  }

  return { analyze, query, setBusyTimeout, close };
}

/** Whether two analyses of one statement say the same to the policy. */
function sameFacts(a: SqlFacts, b: SqlFacts): boolean {
  const same = (x: readonly string[], y: readonly string[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  return a.statement === b.statement && a.canonical === b.canonical && same(a.operations, b.operations) && same(a.reads, b.reads) && same(a.writes, b.writes);
}

/** A connection as the capability uses it: defensive settings, the schema cookies, transactions. */
function openConnection<S>(options: SqlConnectionsOptions<S>, name: string, spec: S, busyTimeout: number): Connection {
  let db: Database | undefined;
  try {
    db = options.open(name, spec, busyTimeout);
    db.pragma("trusted_schema = OFF");
    const main = db.prepare("PRAGMA main.schema_version").pluck();
    const temp = db.prepare("PRAGMA temp.schema_version").pluck();
    const transaction: Transactions = {
      begin: db.prepare("BEGIN"),
      beginImmediate: db.prepare("BEGIN IMMEDIATE"),
      commit: db.prepare("COMMIT"),
      rollback: db.prepare("ROLLBACK"),
    };
    return { db, analyzer: new SqlAnalyzer(db, options.openScratch), cookie: () => `${main.get()}:${temp.get()}`, compiled: new Map(), transaction };
  } catch {
    db?.close();
    throw guestErrors.io(`database ${name} cannot be opened`);
  }
}

/** The schema cookies; reading them waits for a lock another connection holds, and may fail so. */
function readCookie(conn: Connection): string {
  try {
    return conn.cookie();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw guestErrors.io(`the database cannot be read: ${typeof code === "string" ? `${code}: ` : ""}${err instanceof Error ? err.message : String(err)}`);
  }
}

function refuseDangerous(entry: Compiled, allowAttach: boolean): void {
  const { calls } = entry;
  if (calls.attach && !allowAttach) throw guestErrors.denied(null, "the sql capability refuses ATTACH and DETACH");
  if (calls.loadExtension) throw guestErrors.denied(null, "the sql capability refuses load_extension");
  if (calls.vacuumInto) throw guestErrors.denied(null, "the sql capability refuses VACUUM INTO (it writes a file outside the database)");
  if (calls.guardedPragma !== undefined) throw guestErrors.denied(null, calls.guardedPragma);
}

/** The statement prepared for running (once per analysis): raw mode and columns for a reader. */
function prepared(db: Database, entry: Compiled, statement: string): Runnable {
  if (entry.runnable) return entry.runnable;
  let stmt: Statement;
  try {
    stmt = db.prepare(statement);
  } catch (err) {
    throw guestErrors.invalid(err instanceof Error ? err.message : String(err));
  }
  const columns = stmt.reader ? (stmt.raw(true), stmt.columns().map((c) => c.name)) : [];
  const sig = significant(tokenize(statement));
  const explain = upper(sig[0]) === "EXPLAIN";
  const keyword = upper(sig[explain ? (upper(sig[1]) === "QUERY" ? 3 : 1) : 0]);
  const writes = !stmt.readonly || entry.facts.operations.some((op) => WRITING.has(op));
  entry.runnable = { stmt, columns, writes, keyword, explain };
  return entry.runnable;
}

const WRITING = new Set(["insert", "update", "delete", "create", "drop", "alter", "attach", "other"]);

/** Guest values to what a connection binds; anything malformed is `invalid`. */
function bind(params: unknown): unknown[] {
  if (params === undefined || params === null) return [];
  if (!Array.isArray(params)) throw guestErrors.invalid("params must be a list of values");
  return params.map((p: unknown, i) => {
    const v = p as { tag?: unknown; val?: unknown };
    switch (v?.tag) {
      case "null":
        return null;
      case "integer":
        if (typeof v.val !== "bigint" || v.val < -(2n ** 63n) || v.val >= 2n ** 63n) break;
        return v.val;
      case "real":
        if (typeof v.val !== "number") break;
        return v.val;
      case "text":
        if (typeof v.val !== "string") break;
        return v.val;
      case "blob":
        if (!(v.val instanceof Uint8Array)) break;
        return v.val;
    }
    throw guestErrors.invalid(`parameter ${i + 1} is not a valid SQL value`);
  });
}

/**
 * The `sql` capability: SQLite databases named by the kernel's `databases` option.
 *
 * One statement per call, parameters always bound (never interpolated), typed values out
 * (integers as bigint). Each database is opened on first use (read-only when so mounted) in
 * SQLite's defensive mode with `trusted_schema=OFF`; extension loading is never enabled.
 *
 * A statement is compiled and analyzed once per schema: the analysis (the policy's facts, the
 * refused calls) and the prepared statement are remembered under the statement's text together
 * with the schema cookies of `main` and `temp`. Any schema change, by this connection or
 * another, changes a cookie and so forces a new analysis; defensive mode keeps an agent from
 * setting a cookie back (`PRAGMA schema_version = N` is ignored). With ATTACH allowed nothing is
 * remembered, since an attached schema has cookies of its own. A query whose schema changed
 * after the gate decided on its analysis (another connection, in the await between the two) is
 * refused with `io` rather than run under facts nobody decided on.
 *
 * As defense in depth behind the gate, the capability itself refuses ATTACH and DETACH unless
 * `allow.attach` is set, and always refuses `load_extension` and `VACUUM INTO` (which writes a
 * new file wherever the statement names, read-only database or not: a way out of every mount).
 */
import Sqlite from "better-sqlite3";
import type { Database, Statement } from "better-sqlite3";
import { existsSync } from "node:fs";
import { resolve as resolveHostPath } from "node:path";
import { GuestError, UsageError, guestErrors } from "../errors.js";
import type { SqlFacts } from "../types.js";
import { SqlAnalyzer, type CompiledSql } from "./sql-analyze.js";
import { bindArguments } from "./sql-text.js";
import type { QueryResult, RunQuota, SqlHost, SqlValue } from "./types.js";

/** A database as the kernel names it. */
export interface DatabaseSpec {
  /** Host path of the SQLite file. */
  file: string;
  /** Open read-only (the file must exist). Default: false. */
  readOnly?: boolean;
}

export interface SqlOptions {
  /** Databases by name. Default: none (every name is not-found). */
  databases: Record<string, DatabaseSpec>;
  /** The run's quota: `limits.sqlRows` caps the rows one query returns. */
  quota: RunQuota;
  /** The largest result of one query in bytes (text, blobs, 8 per number). Default: 16 MiB. */
  maxResultBytes?: number;
  /** Statements the capability refuses even when the gate allowed them. Default: ATTACH/DETACH refused (load_extension and VACUUM INTO always are). */
  allow?: { attach?: boolean };
}

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** Statements remembered per database, and the longest text remembered (longer ones are compiled every time). */
const REMEMBERED = 256;
const REMEMBERED_CHARS = 4096;

/** One open database and what it remembers of the statements it has compiled. */
interface Connection {
  db: Database;
  analyzer: SqlAnalyzer;
  /** The schema cookies of main and temp, as one string. */
  cookie(): string;
  compiled: Map<string, Compiled>;
  /** The last analysis handed out (the one the gate decided on): a query must run under the same schema. */
  decided?: Compiled;
}

interface Compiled extends CompiledSql {
  cookie: string;
  /** Prepared on the first query (an analysis alone does not need it); raw mode for a reader. */
  stmt?: Statement;
  /** The reader's column names, read once per prepared statement. */
  columns?: string[];
}

/**
 * Parses `--db name=path[:ro]`; the path is resolved against `cwd`.
 *
 * @example parseDatabase("main=./app.db:ro") // ["main", { file: "/abs/app.db", readOnly: true }]
 * @throws UsageError for a malformed spec, or a read-only database whose file does not exist.
 */
export function parseDatabase(spec: string, cwd: string = process.cwd()): [string, { file: string; readOnly: boolean }] {
  const eq = spec.indexOf("=");
  const name = eq > 0 ? spec.slice(0, eq) : "";
  if (!NAME.test(name)) throw new UsageError(`--db expects name=path[:ro] with a name like "main", got ${JSON.stringify(spec)}`);
  let file = spec.slice(eq + 1);
  let readOnly = false;
  if (file.endsWith(":ro") || file.endsWith(":rw")) {
    readOnly = file.endsWith(":ro");
    file = file.slice(0, -3);
  }
  if (file === "") throw new UsageError(`--db ${name}: the path is empty`);
  const abs = resolveHostPath(cwd, file);
  if (readOnly && !existsSync(abs)) throw new UsageError(`--db ${name}: ${abs} does not exist (a read-only database must)`);
  return [name, { file: abs, readOnly }];
}

/**
 * Creates the sql capability for one run. Call `close()` when the run ends.
 *
 * @example const sql = createSql({ databases: { main: { file: "/abs/app.db" } }, quota });
 *          const facts = sql.analyze("main", "SELECT * FROM users WHERE id = ?");
 *          const result = sql.query("main", "SELECT * FROM users WHERE id = ?", [{ tag: "integer", val: 1n }]);
 */
export function createSql(options: SqlOptions): SqlHost {
  const specs = new Map(Object.entries(options.databases));
  const open = new Map<string, Connection>();
  const maxBytes = options.maxResultBytes ?? 16 * 1024 * 1024;
  const remember = options.allow?.attach !== true;
  const { quota } = options;
  let closed = false;

  function connection(name: string): Connection {
    if (closed) throw guestErrors.io("the sql capability is closed");
    const spec = typeof name === "string" && Object.hasOwn(options.databases, name) ? specs.get(name) : undefined;
    if (!spec) throw guestErrors.notFound(`database ${JSON.stringify(String(name))}`);
    let conn = open.get(name);
    if (!conn) {
      let db: Database | undefined;
      try {
        db = new Sqlite(spec.file, { readonly: spec.readOnly === true, fileMustExist: spec.readOnly === true });
        db.unsafeMode(false);
        db.defaultSafeIntegers(true);
        db.pragma("trusted_schema = OFF");
        const main = db.prepare("PRAGMA main.schema_version").pluck();
        const temp = db.prepare("PRAGMA temp.schema_version").pluck();
        conn = { db, analyzer: new SqlAnalyzer(db), cookie: () => `${main.get()}:${temp.get()}`, compiled: new Map() };
      } catch {
        db?.close();
        throw guestErrors.io(`database ${name} cannot be opened`);
      }
      open.set(name, conn);
    }
    return conn;
  }

  /** The statement's analysis under the current schema: remembered, or compiled now. */
  function compiled(conn: Connection, statement: string): Compiled {
    const cookie = conn.cookie();
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

  function query(name: string, statement: string, params: SqlValue[]): QueryResult {
    const conn = connection(name);
    const db = conn.db;
    const entry = compiled(conn, statement);
    const decided = conn.decided;
    conn.decided = undefined;
    // From here to the statement's end nothing else runs on this thread: no other connection
    // of this kernel can change the schema between this check and the execution.
    if (decided?.facts.statement === statement && decided.cookie !== entry.cookie) {
      throw guestErrors.io("the database schema changed after the call was decided; try again");
    }
    const { calls, layout } = entry;
    if (calls.attach && options.allow?.attach !== true) throw guestErrors.denied(null, "the sql capability refuses ATTACH and DETACH");
    if (calls.loadExtension) throw guestErrors.denied(null, "the sql capability refuses load_extension");
    if (calls.vacuumInto) throw guestErrors.denied(null, "the sql capability refuses VACUUM INTO (it writes a file outside the database)");
    if (calls.guardedPragma !== undefined) throw guestErrors.denied(null, calls.guardedPragma);
    const values = bind(params);
    if (values.length !== layout.count) {
      throw guestErrors.invalid(`the statement takes ${layout.count} parameters, ${values.length} given`);
    }
    const args = bindArguments(layout, values);
    let stmt: Statement;
    try {
      if (entry.stmt === undefined) {
        const prepared = db.prepare(statement);
        if (prepared.reader) {
          prepared.raw(true);
          entry.columns = prepared.columns().map((c) => c.name);
        }
        entry.stmt = prepared;
      }
      stmt = entry.stmt;
    } catch (err) {
      throw guestErrors.invalid(err instanceof Error ? err.message : String(err));
    }
    try {
      if (!stmt.reader) {
        const info = stmt.run(...args);
        return { columns: [], rows: [], changes: BigInt(info.changes) };
      }
      const before = stmt.readonly ? 0n : totalChanges(db);
      const columns = [...(entry.columns ?? [])];
      const rows: SqlValue[][] = [];
      let bytes = 0;
      for (const raw of stmt.iterate(...args) as Iterable<unknown[]>) {
        if (rows.length >= quota.limits.sqlRows) {
          throw guestErrors.limit(`the query returns more than ${quota.limits.sqlRows} rows`);
        }
        const row = raw.map(toValue);
        bytes += row.reduce((n, v) => n + sizeOf(v), 0);
        if (bytes > maxBytes) throw guestErrors.limit(`the query returns more than ${maxBytes} bytes`);
        rows.push(row);
      }
      return { columns, rows, changes: stmt.readonly ? 0n : totalChanges(db) - before };
    } catch (err) {
      if (err instanceof GuestError) throw err;
      const code = (err as { code?: unknown }).code;
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof RangeError || err instanceof TypeError) throw guestErrors.invalid(message);
      if (code === "SQLITE_READONLY") throw guestErrors.denied(null, `database ${name} is read-only`);
      throw guestErrors.io(`${typeof code === "string" ? code : "SQLITE_ERROR"}: ${message}`);
    }
  }

  function close(): void {
    closed = true;
    for (const conn of open.values()) {
      conn.analyzer.close();
      conn.db.close();
    }
    open.clear();
  }

  return { analyze, query, close };
}

function totalChanges(db: Database): bigint {
  const value = db.prepare("SELECT total_changes()").raw(true).safeIntegers(true).get() as [bigint];
  return value[0];
}

/** Guest values to what better-sqlite3 binds; anything malformed is `invalid`. */
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
        return Buffer.from(v.val.buffer, v.val.byteOffset, v.val.byteLength);
    }
    throw guestErrors.invalid(`parameter ${i + 1} is not a valid SQL value`);
  });
}

function toValue(raw: unknown): SqlValue {
  if (raw === null || raw === undefined) return { tag: "null" };
  if (typeof raw === "bigint") return { tag: "integer", val: raw };
  if (typeof raw === "number") return { tag: "real", val: raw };
  if (typeof raw === "string") return { tag: "text", val: raw };
  if (raw instanceof Uint8Array) return { tag: "blob", val: new Uint8Array(raw) };
  return { tag: "text", val: String(raw) };
}

function sizeOf(v: SqlValue): number {
  if (v.tag === "text") return Buffer.byteLength(v.val);
  if (v.tag === "blob") return v.val.byteLength;
  return 8;
}

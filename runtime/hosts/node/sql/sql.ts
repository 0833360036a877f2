/**
 * The `sql` capability's connections on Node: SQLite files named by the kernel's `databases`
 * option, opened with better-sqlite3 in the thread (and process) that calls this module. The
 * kernel runs it in an SQL process of the run's own (sql-child.ts, through sql-process.ts),
 * never on its own thread; offline tools (`agent-os replay --policy`, `policy suggest`) use it
 * directly to analyze. What the capability does with a connection (analysis, remembered
 * statements, the checks before a statement runs) is sql-connections.ts, shared with the edge.
 */
import Sqlite from "better-sqlite3";
import type { Database } from "better-sqlite3";
import { existsSync } from "node:fs";
import { resolve as resolveHostPath } from "node:path";
import { UsageError } from "../../../errors.js";
import type { SqlFacts } from "../../../types.js";
import { SqlAnalyzer } from "../../../capabilities/sql-analyze.js";
import { createSqlConnections, type LocalSql, type SqlCommonOptions } from "../../../capabilities/sql-connections.js";
import type { SqlDatabase } from "../../../capabilities/sql-db.js";

export { REMEMBERED, REMEMBERED_CHARS, type LocalSql } from "../../../capabilities/sql-connections.js";

/** A database as the kernel names it. */
export interface DatabaseSpec {
  /** Host path of the SQLite file. */
  file: string;
  /** Open read-only (the file must exist). Default: false. */
  readOnly?: boolean;
}

export interface SqlOptions extends SqlCommonOptions {
  /** Databases by name. Default: none (every name is not-found). */
  databases: Record<string, DatabaseSpec>;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

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
 * Creates the sql capability's connections for one run, in this thread. Call `close()` when the
 * run ends.
 *
 * @example const sql = createSql({ databases: { main: { file: "/abs/app.db" } }, quota });
 *          const facts = sql.analyze("main", "SELECT * FROM users WHERE id = ?");
 *          const result = sql.query("main", "SELECT * FROM users WHERE id = ?", [{ tag: "integer", val: 1n }]);
 */
export function createSql(options: SqlOptions): LocalSql {
  return createSqlConnections({ ...options, open: openFile, openScratch });
}

/**
 * Analyzes one SQL statement with SQLite's compiler, on a better-sqlite3 connection.
 *
 * @example analyzeSql(db, "/* hi *\/ dRoP TABLE users") // { operations: ["drop"], writes: ["users"], ... }
 * @throws GuestError `invalid` for no statement, several statements, a syntax error or an unknown table.
 */
export function analyzeSql(db: Database, statement: string): SqlFacts {
  const analyzer = new SqlAnalyzer(asSqlDatabase(db), openScratch);
  try {
    return analyzer.compile(statement).facts;
  } finally {
    analyzer.close();
  }
}

/** A file, read-only when so mounted, in defensive mode (unsafeMode off), integers as bigint. */
function openFile(_name: string, spec: DatabaseSpec, busyTimeout: number): SqlDatabase {
  const db = new Sqlite(spec.file, { readonly: spec.readOnly === true, fileMustExist: spec.readOnly === true, timeout: busyTimeout });
  try {
    db.unsafeMode(false);
    db.defaultSafeIntegers(true);
  } catch (err) {
    db.close();
    throw err;
  }
  return asSqlDatabase(db);
}

function openScratch(): SqlDatabase {
  return asSqlDatabase(new Sqlite(":memory:"));
}

/** better-sqlite3's connection, typed as the interface the shared code uses (it fits as it is). */
function asSqlDatabase(db: Database): SqlDatabase {
  return db;
}

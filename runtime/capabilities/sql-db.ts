/**
 * What the SQL analyzer and executor need of a SQLite connection: the part of better-sqlite3's
 * API they use, so that Node's connections (better-sqlite3, native) and the edge's (SQLite in
 * WebAssembly, runtime/edge/sqlite/) run the same analyzer and the same executor.
 *
 * Semantics are better-sqlite3's: `prepare` refuses several statements ("The supplied SQL string
 * contains more than one statement"); with `safeIntegers()` integers come out as bigint; `raw()`
 * gives rows as arrays and `pluck()` the first column only; errors carry SQLite's extended result
 * code's name as `code` ("SQLITE_READONLY", "SQLITE_CONSTRAINT_PRIMARYKEY").
 */

/** One prepared statement. The setters return the statement itself, as better-sqlite3's do. */
export interface SqlStatement {
  /** Whether the statement returns rows (it has result columns). */
  readonly reader: boolean;
  /** SQLite's sqlite3_stmt_readonly: the statement writes nothing to any database. */
  readonly readonly: boolean;
  raw(on?: boolean): this;
  pluck(on?: boolean): this;
  safeIntegers(on?: boolean): this;
  columns(): Array<{ name: string }>;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number | bigint };
  iterate(...params: unknown[]): IterableIterator<unknown>;
}

/** One connection. */
export interface SqlDatabase {
  prepare(source: string): SqlStatement;
  /** Runs `PRAGMA <source>` and gives its rows. */
  pragma(source: string): unknown;
  /** Whether a transaction is open (not in autocommit mode). */
  readonly inTransaction: boolean;
  close(): unknown;
}

/** The scratch connection the analyzer compiles PRAGMA statements on: an empty in-memory database of the same SQLite. */
export type OpenScratch = () => SqlDatabase;

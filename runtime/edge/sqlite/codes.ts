/**
 * SQLite's result codes by name, as better-sqlite3 names them in its errors' `code`: the
 * extended code's name where this table has it, else the primary code's.
 */

/** An error from SQLite, as better-sqlite3 gives it: the message and the result code's name. */
export class SqliteError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = "SqliteError";
  }
}

const PRIMARY = [
  "OK", "ERROR", "INTERNAL", "PERM", "ABORT", "BUSY", "LOCKED", "NOMEM", "READONLY", "INTERRUPT",
  "IOERR", "CORRUPT", "NOTFOUND", "FULL", "CANTOPEN", "PROTOCOL", "EMPTY", "SCHEMA", "TOOBIG", "CONSTRAINT",
  "MISMATCH", "MISUSE", "NOLFS", "AUTH", "FORMAT", "RANGE", "NOTADB", "NOTICE", "WARNING",
];

/** Extended codes by primary code, indexed by `code >> 8` (from sqlite3.h). */
const EXTENDED: Record<number, string[]> = {
  1: ["", "MISSING_COLLSEQ", "RETRY", "SNAPSHOT", "RESERVESIZE", "KEY", "UNABLE"],
  5: ["", "RECOVERY", "SNAPSHOT", "TIMEOUT"],
  6: ["", "SHAREDCACHE", "VTAB"],
  8: ["", "RECOVERY", "CANTLOCK", "ROLLBACK", "DBMOVED", "CANTINIT", "DIRECTORY"],
  11: ["", "VTAB", "SEQUENCE", "INDEX"],
  19: ["", "CHECK", "COMMITHOOK", "FOREIGNKEY", "FUNCTION", "NOTNULL", "PRIMARYKEY", "TRIGGER", "UNIQUE", "VTAB", "ROWID", "PINNED", "DATATYPE"],
};

/**
 * @example sqliteCodeName(2067) === "SQLITE_CONSTRAINT_UNIQUE"
 */
export function sqliteCodeName(code: number): string {
  const primary = PRIMARY[code & 0xff] ?? "ERROR";
  const extended = EXTENDED[code & 0xff]?.[code >> 8];
  return extended ? `SQLITE_${primary}_${extended}` : `SQLITE_${primary}`;
}

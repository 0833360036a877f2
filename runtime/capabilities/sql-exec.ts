/**
 * Running one analyzed statement on its connection: under the schema the policy decided on,
 * within the run's write quota, with bounded results.
 *
 * - The schema check and the statement run in one transaction: the statement's own, or one this
 *   module opens around it (BEGIN, or BEGIN IMMEDIATE for a write), so that no other process
 *   can change the schema between the check and the run. Statements that cannot run inside a
 *   transaction (BEGIN, COMMIT, SAVEPOINT..., VACUUM, ATTACH, DETACH, PRAGMA) and EXPLAIN are
 *   checked just before they run.
 * - Writes: before a statement that may write, each database's `max_page_count` is set to its
 *   page count plus what is left of the run's quota (`limits.sqlWriteBytes`), so that SQLite
 *   itself stops the write with SQLITE_FULL and rolls it back; the growth is counted after it.
 * - Results: rows are read one at a time and refused (`limit`) as soon as they pass
 *   `limits.sqlRows` or the byte cap. A single row too large for memory is the SQL process's
 *   memory watchdog's (hosts/node/sql/sql-child.ts).
 */
import type { SqlDatabase as Database, SqlStatement as Statement } from "./sql-db.js";
import { GuestError, guestErrors } from "../errors.js";
import { utf8Length } from "../portable/utf8.js";
import type { QueryResult, SqlValue } from "./types.js";

/** The run's counters shared by every statement of its connections. */
export interface WriteQuota {
  /** Bytes the run's statements may grow its databases by, in all. */
  limit: number;
  /** Bytes grown so far. */
  used: number;
}

/** What the capability knows of the statement it runs. */
export interface Runnable {
  stmt: Statement;
  /** The reader's column names. */
  columns: string[];
  /** Whether it may write: SQLite says so, or the analysis shows a writing operation. */
  writes: boolean;
  /** Its leading keyword (after EXPLAIN), upper case. */
  keyword: string;
  explain: boolean;
}

/** The connection's transaction statements, prepared once. */
export interface Transactions {
  begin: Statement;
  beginImmediate: Statement;
  commit: Statement;
  rollback: Statement;
}

export interface RunOptions {
  /** The schema cookie the statement was analyzed (and the policy decided) under. */
  expectedCookie: string;
  cookie(): string;
  transaction: Transactions;
  rows: number;
  maxBytes: number;
  quota: WriteQuota;
  database: string;
}

/** Statements SQLite refuses inside a transaction, or that are the transaction. */
const UNWRAPPED = new Set(["BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE", "VACUUM", "ATTACH", "DETACH", "PRAGMA"]);

/**
 * Runs a compiled statement with bound arguments.
 *
 * @example runStatement(db, runnable, [1], { cookie, rows: 100, maxBytes: 1 << 20, quota, database: "main" })
 * @throws GuestError: `io` (the schema changed since the decision, or SQLite failed), `limit`
 * (rows, bytes, write quota), `denied` (a read-only database), `invalid` (bad arguments).
 */
export function runStatement(db: Database, r: Runnable, args: unknown[], o: RunOptions): QueryResult {
  const wrap = !r.explain && !UNWRAPPED.has(r.keyword) && !db.inTransaction;
  const limits = r.writes ? pageLimits(db, o.quota) : undefined;
  try {
    if (wrap) (r.writes ? o.transaction.beginImmediate : o.transaction.begin).run();
    if (o.cookie() !== o.expectedCookie) throw guestErrors.io("the database schema changed after the call was decided; try again");
    const result = execute(db, r, args, o);
    if (wrap) o.transaction.commit.run();
    return result;
  } catch (err) {
    if (wrap && db.inTransaction) o.transaction.rollback.run();
    throw sqlError(err, o);
  } finally {
    if (limits) o.quota.used += grownBytes(db, limits);
  }
}

function execute(db: Database, r: Runnable, args: unknown[], o: RunOptions): QueryResult {
  const { stmt } = r;
  if (!stmt.reader) {
    const info = stmt.run(...args);
    return { columns: [], rows: [], changes: BigInt(info.changes) };
  }
  const before = r.writes ? totalChanges(db) : 0n;
  const rows: SqlValue[][] = [];
  let bytes = 0;
  for (const raw of stmt.iterate(...args) as Iterable<unknown[]>) {
    if (rows.length >= o.rows) throw guestErrors.limit(`the query returns more than ${o.rows} rows`);
    const row: SqlValue[] = [];
    for (const cell of raw) {
      const value = toValue(cell);
      bytes += sizeOf(value);
      if (bytes > o.maxBytes) throw guestErrors.limit(`the query returns more than ${o.maxBytes} bytes`);
      row.push(value);
    }
    rows.push(row);
  }
  return { columns: [...r.columns], rows, changes: r.writes ? totalChanges(db) - before : 0n };
}

interface PageCounts {
  schemas: { name: string; pages: number; pageSize: number }[];
}

/** Sets each database's max_page_count from what is left of the quota; returns the page counts before. */
function pageLimits(db: Database, quota: WriteQuota): PageCounts {
  const left = Math.max(0, quota.limit - quota.used);
  const schemas: PageCounts["schemas"] = [];
  for (const name of (db.prepare("PRAGMA database_list").safeIntegers(false).all() as { name: string }[]).map((s) => s.name)) {
    const q = `"${name.replace(/"/g, '""')}"`;
    const pages = Number(db.prepare(`PRAGMA ${q}.page_count`).pluck().safeIntegers(false).get());
    const pageSize = Number(db.prepare(`PRAGMA ${q}.page_size`).pluck().safeIntegers(false).get());
    db.prepare(`PRAGMA ${q}.max_page_count = ${pages + Math.floor(left / pageSize)}`).run();
    schemas.push({ name, pages, pageSize });
  }
  return { schemas };
}

function grownBytes(db: Database, before: PageCounts): number {
  let grown = 0;
  for (const s of before.schemas) {
    try {
      const pages = Number(db.prepare(`PRAGMA "${s.name.replace(/"/g, '""')}".page_count`).pluck().safeIntegers(false).get());
      grown += Math.max(0, pages - s.pages) * s.pageSize;
    } catch {
      // a database the statement detached: what it grew is in its file, no longer ours to count
    }
  }
  return grown;
}

/** Any failure of a statement as the WIT error the agent sees. */
function sqlError(err: unknown, o: RunOptions): GuestError {
  if (err instanceof GuestError) return err;
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof RangeError || err instanceof TypeError) return guestErrors.invalid(message);
  if (code === "SQLITE_READONLY") return guestErrors.denied(null, `database ${o.database} is read-only`);
  if (code === "SQLITE_FULL") return guestErrors.limit(`the run's SQL write quota of ${o.quota.limit} bytes is used up (the statement was rolled back)`);
  return guestErrors.io(`${typeof code === "string" ? code : "SQLITE_ERROR"}: ${message}`);
}

function totalChanges(db: Database): bigint {
  const value = db.prepare("SELECT total_changes()").raw(true).safeIntegers(true).get() as [bigint];
  return value[0];
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
  if (v.tag === "text") return utf8Length(v.val);
  if (v.tag === "blob") return v.val.byteLength;
  return 8;
}

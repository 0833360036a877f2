/**
 * The SQL analyzer: what one statement does, as SQLite's own compiler says it, for the policy.
 *
 * The statement is prepared (which refuses several statements and syntax errors), then the
 * bytecode of `EXPLAIN <statement>` is read (sql-bytecode.ts). SQLite's `statement.readonly`
 * (sqlite3_stmt_readonly) is the ground truth for "writes nothing": a statement SQLite says is not
 * read-only always has a writing operation (`other` when the bytecode names none). It is wrong in
 * the other direction for ATTACH (`attach`), PRAGMA (always `pragma`) and table-valued pragma
 * functions such as `pragma_optimize` (always `pragma`, and what the pragma reads and writes):
 * those are read from the statement itself. A PRAGMA is never compiled on the connection that
 * runs it (sql-pragma.ts). Nothing is executed.
 *
 * Table names: a table of the main database is reported by its stored name; a table of
 * another schema as `schema.name` (e.g. `temp.scratch`). The schema table itself appears only
 * when a statement other than DDL touches it. Tables written through AUTOINCREMENT also report
 * `sqlite_sequence`, which SQLite writes alongside them.
 */
import type { OpenScratch, SqlDatabase as Database } from "./sql-db.js";
import { GuestError, guestErrors } from "../errors.js";
import type { SqlFacts } from "../types.js";
import { Analysis, type OpRow } from "./sql-bytecode.js";
import { analyzePragma, guardedPragma } from "./sql-pragma.js";
import { SchemaView } from "./sql-schema.js";
import { bindArguments, canonicalText, layoutOf, significant, tokenize, upper, type ParameterLayout, type Token } from "./sql-text.js";
import { VirtualTables } from "./sql-vtabs.js";

export { SQL_OPERATIONS, type SqlOperation } from "./sql-bytecode.js";
export { bindArguments, canonicalSql, parameterLayout, type ParameterLayout } from "./sql-text.js";

/** What a statement would do to the host beyond its database, as its bytecode shows. */
export interface DangerousCalls {
  /** ATTACH or DETACH: opens (or creates) another database file. */
  attach: boolean;
  /** load_extension(): loads native code. */
  loadExtension: boolean;
  /** VACUUM INTO: writes a new database file wherever the statement names. */
  vacuumInto: boolean;
  /** A PRAGMA that would undo a guard of the kernel's (sql-pragma.ts): why it is refused. */
  guardedPragma?: string;
}

/** What one compilation of a statement tells: the policy's facts, the calls the capability refuses, its parameters. */
export interface CompiledSql {
  facts: SqlFacts;
  calls: DangerousCalls;
  layout: ParameterLayout;
}

const NO_CALLS: DangerousCalls = Object.freeze({ attach: false, loadExtension: false, vacuumInto: false });

/**
 * The analyzer of one connection: it keeps what it learns once per connection (which pointer is
 * which virtual table) and a scratch in-memory database for PRAGMA syntax. Call `close()` with
 * the connection.
 *
 * @example const analyzer = new SqlAnalyzer(db, () => new Sqlite(":memory:")); analyzer.compile("SELECT * FROM users").facts.reads // ["users"]
 */
export class SqlAnalyzer {
  private readonly virtual: VirtualTables;
  private scratchDb: Database | undefined;

  /** @param openScratch opens an empty in-memory database of the same SQLite, for PRAGMA syntax. */
  constructor(
    private readonly db: Database,
    private readonly openScratch: OpenScratch,
  ) {
    this.virtual = new VirtualTables(db);
  }

  /**
   * Compiles one statement once (prepare, then EXPLAIN) and reads from its bytecode both the
   * facts the policy decides on and the calls the capability refuses.
   *
   * @example analyzer.compile("VACUUM INTO 'x.db'") // { facts: { operations: ["other"], ... }, calls: { vacuumInto: true, ... }, ... }
   * @throws GuestError `invalid` for no statement, several statements, a syntax error or an unknown table.
   */
  compile(statement: string): CompiledSql {
    if (typeof statement !== "string") throw guestErrors.invalid("a statement must be a string");
    if (statement.includes("\0")) throw guestErrors.invalid("a statement must not contain a NUL byte");
    const tokens = tokenize(statement);
    const sig = significant(tokens);
    while (sig.length && sig[sig.length - 1].text === ";") sig.pop();
    if (sig.length === 0) throw guestErrors.invalid("no SQL statement");
    refreshSchemas(this.db);
    const canonical = canonicalText(tokens);
    const layout = layoutOf(tokens);
    const skip = upper(sig[0]) !== "EXPLAIN" ? 0 : upper(sig[1]) === "QUERY" && upper(sig[2]) === "PLAN" ? 3 : 1;
    if (skip > 0 && sig.length <= skip) throw guestErrors.invalid("EXPLAIN without a statement");
    if (upper(sig[skip]) === "PRAGMA") {
      const { pragma, ...facts } = analyzePragma(this.scratch(), new SchemaView(this.db), sig.slice(skip), statement.slice(sig[skip].at));
      const refused = guardedPragma(pragma);
      // EXPLAIN PRAGMA compiles the pragma, and compiling applies it: refused alike.
      return { facts: { statement, canonical, ...facts }, calls: refused ? { ...NO_CALLS, guardedPragma: refused } : NO_CALLS, layout };
    }
    let readonly: boolean;
    try {
      readonly = this.db.prepare(statement).readonly;
    } catch (err) {
      throw guestErrors.invalid(sqliteMessage(err));
    }
    // EXPLAIN only describes its statement: analyze the statement it describes. It runs nothing,
    // so it calls nothing (and EXPLAIN EXPLAIN does not compile).
    if (skip > 0) {
      const inner = this.compile(statement.slice(sig[skip].at)).facts;
      return { facts: { ...inner, statement, canonical }, calls: NO_CALLS, layout };
    }
    const rows = explain(this.db, statement, tokens);
    const facts = new Analysis(new SchemaView(this.db), this.virtual, sig).run(rows, readonly);
    return { facts: { statement, canonical, ...facts }, calls: callsIn(rows), layout };
  }

  close(): void {
    this.scratchDb?.close();
    this.scratchDb = undefined;
  }

  private scratch(): Database {
    this.scratchDb ??= this.openScratch();
    return this.scratchDb;
  }
}

function callsIn(rows: OpRow[]): DangerousCalls {
  const calls = { attach: false, loadExtension: false, vacuumInto: false };
  for (const row of rows) {
    if (row.opcode === "Vacuum" && row.p2 !== 0) calls.vacuumInto = true;
    if ((row.opcode !== "Function" && row.opcode !== "PureFunc") || typeof row.p4 !== "string") continue;
    if (/^sqlite_(attach|detach)\(/.test(row.p4)) calls.attach = true;
    if (/^load_extension\(/i.test(row.p4)) calls.loadExtension = true;
  }
  return calls;
}

/**
 * Makes the connection's copy of every schema current. SQLite compiles against the schema it
 * last loaded and notices a change made by another connection only when a statement runs
 * (EXPLAIN does not): without this, a trigger another connection added would be missing from
 * the analysis and then fire when the statement runs. Reading each schema table runs the check.
 */
function refreshSchemas(db: Database): void {
  try {
    const schemas = (db.prepare("PRAGMA database_list").safeIntegers(false).all() as { name: string }[]).map((r) => r.name);
    for (const schema of schemas) db.prepare(`SELECT 1 FROM "${schema.replace(/"/g, '""')}".sqlite_schema LIMIT 0`).all();
  } catch (err) {
    throw guestErrors.io(`the database schema cannot be read: ${sqliteMessage(err)}`);
  }
}

/** The bytecode of `EXPLAIN <statement>`, every parameter bound to null (better-sqlite3 insists). */
function explain(db: Database, statement: string, tokens: Token[]): OpRow[] {
  const layout = layoutOf(tokens);
  try {
    const args = bindArguments(layout, new Array<null>(layout.count).fill(null));
    return db.prepare(`EXPLAIN ${statement}`).safeIntegers(false).all(...args) as OpRow[];
  } catch (err) {
    throw guestErrors.invalid(sqliteMessage(err));
  }
}

function sqliteMessage(err: unknown): string {
  if (err instanceof GuestError) return String(err.error.val);
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^The supplied SQL string contains more than one statement$/, "only one SQL statement per call");
}

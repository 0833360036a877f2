/**
 * The SQL analyzer: what one statement does, as SQLite's own compiler says it, for the policy.
 *
 * The statement is prepared (which refuses several statements and syntax errors), then the
 * bytecode of `EXPLAIN <statement>` is read: the tables a statement opens for reading and
 * writing (root pages mapped through `sqlite_schema`, indexes to their tables, views to their
 * base tables, trigger sub-programs included), and the destructive opcodes (Destroy, DropTable,
 * Clear, Delete, schema parsing, attach/detach and load_extension calls, Vacuum, journal-mode
 * and cookie changes). The leading keyword of the canonical text only adds to what the
 * bytecode shows; it never removes anything. Nothing is executed.
 *
 * Table names: a table of the main database is reported by its stored name; a table of
 * another schema as `schema.name` (e.g. `temp.scratch`). The schema table itself appears only
 * when a statement other than DDL touches it. Tables written through AUTOINCREMENT also report
 * `sqlite_sequence`, which SQLite writes alongside them.
 */
import type { Database } from "better-sqlite3";
import { GuestError, guestErrors } from "../errors.js";
import type { SqlFacts } from "../types.js";

/** Operation names, as policies use them. */
export const SQL_OPERATIONS = ["select", "insert", "update", "delete", "create", "drop", "alter", "pragma", "attach", "transaction", "other"] as const;
export type SqlOperation = (typeof SQL_OPERATIONS)[number];

// --- tokens and canonical text -------------------------------------------------------------

type TokenType = "space" | "word" | "string" | "ident" | "number" | "blob" | "variable" | "op";
interface Token {
  type: TokenType;
  text: string;
  /** Offset in the statement. */
  at: number;
}

const KEYWORDS = new Set(
  ("ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYZE AND AS ASC ATTACH AUTOINCREMENT BEFORE BEGIN BETWEEN BY CASCADE CASE " +
    "CAST CHECK COLLATE COLUMN COMMIT CONFLICT CONSTRAINT CREATE CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP " +
    "DATABASE DEFAULT DEFERRABLE DEFERRED DELETE DESC DETACH DISTINCT DO DROP EACH ELSE END ESCAPE EXCEPT EXCLUDE EXCLUSIVE " +
    "EXISTS EXPLAIN FAIL FILTER FIRST FOLLOWING FOR FOREIGN FROM FULL GENERATED GLOB GROUP GROUPS HAVING IF IGNORE IMMEDIATE " +
    "IN INDEX INDEXED INITIALLY INNER INSERT INSTEAD INTERSECT INTO IS ISNULL JOIN KEY LAST LEFT LIKE LIMIT MATCH " +
    "MATERIALIZED NATURAL NO NOT NOTHING NOTNULL NULL NULLS OF OFFSET ON OR ORDER OTHERS OUTER OVER PARTITION PLAN PRAGMA " +
    "PRECEDING PRIMARY QUERY RAISE RANGE RECURSIVE REFERENCES REGEXP REINDEX RELEASE RENAME REPLACE RESTRICT RETURNING " +
    "RIGHT ROLLBACK ROW ROWS SAVEPOINT SELECT SET TABLE TEMP TEMPORARY THEN TIES TO TRANSACTION TRIGGER UNBOUNDED UNION " +
    "UNIQUE UPDATE USING VACUUM VALUES VIEW VIRTUAL WHEN WHERE WINDOW WITH WITHOUT").split(" "),
);

/**
 * Splits SQL into tokens the way SQLite's tokenizer does (comments and whitespace become
 * "space"). Unterminated strings and identifiers run to the end (prepare refuses them anyway).
 */
function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const push = (type: TokenType, end: number) => {
    out.push({ type, text: sql.slice(i, end), at: i });
    i = end;
  };
  const until = (close: string, from: number, doubled: boolean): number => {
    let j = from;
    for (;;) {
      const k = sql.indexOf(close, j);
      if (k < 0) return sql.length;
      if (doubled && sql[k + 1] === close) j = k + 2;
      else return k + 1;
    }
  };
  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    if (/\s/.test(c)) push("space", i + (sql.slice(i).match(/^\s+/)?.[0].length ?? 1));
    else if (c === "-" && next === "-") push("space", sql.includes("\n", i) ? sql.indexOf("\n", i) + 1 : sql.length);
    else if (c === "/" && next === "*") push("space", sql.includes("*/", i + 2) ? sql.indexOf("*/", i + 2) + 2 : sql.length);
    else if ((c === "x" || c === "X") && next === "'") push("blob", until("'", i + 2, false));
    else if (c === "'") push("string", until("'", i + 1, true));
    else if (c === '"' || c === "`") push("ident", until(c, i + 1, true));
    else if (c === "[") push("ident", until("]", i + 1, false));
    else if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(next ?? ""))) push("number", i + (sql.slice(i).match(/^(0x[0-9a-f_]+|[0-9_.]+(e[+-]?[0-9_]+)?)/i)?.[0].length ?? 1));
    else if (c === "?" || ((c === ":" || c === "@" || c === "$") && /[A-Za-z0-9_$\u0080-\uffff]/.test(next ?? ""))) {
      push("variable", i + 1 + (sql.slice(i + 1).match(/^[A-Za-z0-9_$:\u0080-\uffff]*/)?.[0].length ?? 0));
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) push("word", i + (sql.slice(i).match(/^[A-Za-z0-9_$\u0080-\uffff]+/)?.[0].length ?? 1));
    else push("op", i + 1);
  }
  return out;
}

/** Comments removed, whitespace collapsed to one space, keywords upper-cased; literals and quoted identifiers untouched. */
function canonicalText(tokens: Token[]): string {
  let out = "";
  let pendingSpace = false;
  for (const t of tokens) {
    if (t.type === "space") {
      pendingSpace = out !== "";
      continue;
    }
    if (pendingSpace) out += " ";
    pendingSpace = false;
    out += t.type === "word" && KEYWORDS.has(t.text.toUpperCase()) ? t.text.toUpperCase() : t.text;
  }
  return out.replace(/(\s*;)+$/, "");
}

/**
 * Canonicalizes one SQL statement's text (no SQLite needed).
 *
 * @example canonicalSql("dRoP /* x *\/ table  \"T\"") === 'DROP TABLE "T"'
 */
export function canonicalSql(statement: string): string {
  return canonicalText(tokenize(statement));
}

function significant(tokens: Token[]): Token[] {
  return tokens.filter((t) => t.type !== "space");
}

/** An identifier token's name: quotes removed, doubled quotes undone. */
function identName(t: Token): string {
  if (t.type === "ident" || t.type === "string") {
    const body = t.text.slice(1, t.text.length - 1);
    return t.text[0] === "[" ? body : body.split(t.text[0] + t.text[0]).join(t.text[0]);
  }
  return t.text;
}

const upper = (t: Token | undefined) => (t && t.type === "word" ? t.text.toUpperCase() : "");
const isName = (t: Token | undefined) => !!t && (t.type === "word" || t.type === "ident" || t.type === "string");

// --- the schema ------------------------------------------------------------------------------

interface SchemaObject {
  type: string;
  name: string;
  tblName: string;
  rootpage: number;
  sql: string | null;
}

/** The schemas of the connection, read lazily: database index -> name and objects. */
class SchemaView {
  private readonly names: string[] = [];
  private readonly objects = new Map<number, SchemaObject[]>();

  constructor(private readonly db: Database) {
    for (const row of db.prepare("PRAGMA database_list").safeIntegers(false).all() as { seq: number; name: string }[]) {
      this.names[row.seq] = row.name;
    }
  }

  get count(): number {
    return this.names.length;
  }

  schemaName(index: number): string {
    return this.names[index] ?? `db${index}`;
  }

  indexOf(schema: string): number {
    const i = this.names.findIndex((n) => n !== undefined && n.toLowerCase() === schema.toLowerCase());
    return i < 0 ? 0 : i;
  }

  list(index: number): SchemaObject[] {
    let objs = this.objects.get(index);
    if (!objs) {
      const schema = this.names[index];
      if (schema === undefined) throw guestErrors.invalid("the statement uses a database the analyzer cannot see");
      const q = `SELECT type, name, tbl_name AS tblName, rootpage, sql FROM "${schema.replace(/"/g, '""')}".sqlite_schema`;
      objs = this.db.prepare(q).safeIntegers(false).all() as SchemaObject[];
      this.objects.set(index, objs);
    }
    return objs;
  }

  /** Qualified table name for a stored name in database `index`. */
  qualify(index: number, name: string): string {
    return index === 0 ? name : `${this.schemaName(index)}.${name}`;
  }

  byRoot(index: number, root: number): SchemaObject | undefined {
    if (root === 1) return { type: "table", name: index === 1 ? "sqlite_temp_schema" : "sqlite_schema", tblName: "", rootpage: 1, sql: null };
    return this.list(index).find((o) => o.rootpage === root);
  }

  byName(index: number, name: string, type?: string): SchemaObject | undefined {
    const lower = name.toLowerCase();
    return this.list(index).find((o) => o.name.toLowerCase() === lower && (type === undefined || o.type === type));
  }
}

// --- the analyzer ----------------------------------------------------------------------------

interface OpRow {
  addr: number;
  opcode: string;
  p1: number;
  p2: number;
  p3: number;
  p4: string | number | null;
  p5: number;
}

interface Cursor {
  table: string;
  /** A table b-tree (rowid table or WITHOUT ROWID primary key), as opposed to an index. */
  isTable: boolean;
  withoutRowid: boolean;
  schemaTable: boolean;
  write: boolean;
}

const OPFLAG_ISUPDATE = 0x04;
const OPFLAG_P2ISREG = 0x10;
const LEADING: Record<string, SqlOperation[]> = {
  SELECT: ["select"],
  VALUES: ["select"],
  INSERT: ["insert"],
  REPLACE: ["insert", "update", "delete"],
  UPDATE: ["update"],
  DELETE: ["delete"],
  CREATE: ["create"],
  DROP: ["drop"],
  ALTER: ["alter"],
  PRAGMA: ["pragma"],
  ATTACH: ["attach"],
  DETACH: ["attach"],
  BEGIN: ["transaction"],
  COMMIT: ["transaction"],
  END: ["transaction"],
  ROLLBACK: ["transaction"],
  SAVEPOINT: ["transaction"],
  RELEASE: ["transaction"],
  VACUUM: ["other"],
  REINDEX: ["other"],
  ANALYZE: ["other"],
};
const DDL = new Set(["CREATE", "DROP", "ALTER", "VACUUM", "REINDEX", "ANALYZE"]);
/** Eponymous virtual tables that expose the database's pages or layout. */
const RAW_VTABS = new Set(["sqlite_dbpage", "dbstat"]);

/**
 * Analyzes one SQL statement with SQLite's compiler.
 *
 * @example analyzeSql(db, "/* hi *\/ dRoP TABLE users") // { operations: ["drop"], writes: ["users"], ... }
 * @throws GuestError `invalid` for no statement, several statements, a syntax error or an unknown table.
 */
export function analyzeSql(db: Database, statement: string): SqlFacts {
  return compileSql(db, statement).facts;
}

/** What one compilation of a statement tells: the policy's facts, the calls the capability refuses, its parameters. */
export interface CompiledSql {
  facts: SqlFacts;
  calls: DangerousCalls;
  layout: ParameterLayout;
}

/**
 * Compiles one statement once (prepare, then EXPLAIN) and reads from its bytecode both the
 * facts the policy decides on (analyzeSql) and the calls the capability refuses (dangerousCalls).
 *
 * @example compileSql(db, "VACUUM INTO 'x.db'") // { facts: { operations: ["other"], ... }, calls: { vacuumInto: true, ... }, ... }
 * @throws GuestError `invalid` as analyzeSql.
 */
export function compileSql(db: Database, statement: string): CompiledSql {
  if (typeof statement !== "string") throw guestErrors.invalid("a statement must be a string");
  if (statement.includes("\0")) throw guestErrors.invalid("a statement must not contain a NUL byte");
  const tokens = tokenize(statement);
  const sig = significant(tokens);
  while (sig.length && sig[sig.length - 1].text === ";") sig.pop();
  if (sig.length === 0) throw guestErrors.invalid("no SQL statement");
  refreshSchemas(db);
  try {
    db.prepare(statement);
  } catch (err) {
    throw guestErrors.invalid(sqliteMessage(err));
  }
  const canonical = canonicalText(tokens);
  const layout = layoutOf(tokens);
  // EXPLAIN only describes its statement: analyze the statement it describes. It runs nothing,
  // so it calls nothing (and EXPLAIN EXPLAIN does not compile).
  if (upper(sig[0]) === "EXPLAIN") {
    const skip = upper(sig[1]) === "QUERY" && upper(sig[2]) === "PLAN" ? 3 : 1;
    if (sig.length <= skip) throw guestErrors.invalid("EXPLAIN without a statement");
    const inner = compileSql(db, statement.slice(sig[skip].at)).facts;
    return { facts: { ...inner, statement, canonical }, calls: { attach: false, loadExtension: false, vacuumInto: false }, layout };
  }
  const rows = explain(db, statement, tokens);
  return { facts: { statement, canonical, ...new Analysis(db, sig).run(rows) }, calls: callsIn(rows), layout };
}

class Analysis {
  private readonly schema: SchemaView;
  private readonly keyword: string;
  private readonly ops = new Set<SqlOperation>();
  private readonly reads = new Set<string>();
  private readonly writes = new Set<string>();
  private readonly firedTriggers: { name: string }[] = [];
  private vtabRead = false;
  private vtabWrite = false;

  constructor(
    db: Database,
    private readonly sig: Token[],
  ) {
    this.schema = new SchemaView(db);
    this.keyword = upper(sig[0]);
  }

  run(rows: OpRow[]): { operations: string[]; reads: string[]; writes: string[] } {
    for (const op of LEADING[this.keyword] ?? []) this.ops.add(op);
    this.walk(rows);
    this.ddlTargets();
    this.replaceSemantics();
    this.virtualTables();
    if (this.keyword === "WITH" && ![...this.ops].some((o) => o !== "select")) this.ops.add("select");
    if (this.ops.size === 0) this.ops.add(LEADING[this.keyword] ? LEADING[this.keyword][0] : "other");
    const order = (a: string, b: string) => SQL_OPERATIONS.indexOf(a as SqlOperation) - SQL_OPERATIONS.indexOf(b as SqlOperation);
    return { operations: [...this.ops].sort(order), reads: [...this.reads].sort(), writes: [...this.writes].sort() };
  }

  /** Reads the bytecode of the statement and of every trigger sub-program that follows it. */
  private walk(rows: OpRow[]): void {
    let cursors = new Map<number, Cursor>();
    let lastAddr = -1;
    let inTrigger = false;
    const ddl = DDL.has(this.keyword);
    for (const row of rows) {
      if (row.addr <= lastAddr) {
        cursors = new Map();
        inTrigger = true;
      }
      lastAddr = row.addr;
      const p4 = typeof row.p4 === "string" ? row.p4 : "";
      switch (row.opcode) {
        case "Init": {
          const m = /^-- TRIGGER (.+)$/.exec(p4);
          if (m) this.firedTriggers.push({ name: m[1] });
          break;
        }
        case "OpenRead":
        case "OpenWrite":
        case "ReopenIdx": {
          if (row.p5 & OPFLAG_P2ISREG) break; // a b-tree this very statement creates
          const obj = this.schema.byRoot(row.p3, row.p2);
          if (!obj) throw guestErrors.invalid("the statement opens a table the analyzer cannot name");
          // DDL maintains the schema table and sqlite_sequence/sqlite_stat* itself: that is not the agent's write.
          const schemaTable = obj.rootpage === 1 || /^sqlite_/i.test(obj.name);
          const table = obj.rootpage === 1 && row.p3 === 1 ? obj.name : this.schema.qualify(row.p3, obj.type === "index" ? obj.tblName : obj.name);
          const write = row.opcode === "OpenWrite";
          const withoutRowid = obj.type === "table" && typeof row.p4 === "string" && row.p4.startsWith("k(");
          cursors.set(row.p1, { table, isTable: obj.type === "table", withoutRowid, schemaTable, write });
          if (schemaTable && ddl) break;
          (write ? this.writes : this.reads).add(table);
          break;
        }
        case "Column": {
          const c = cursors.get(row.p1);
          if (c?.write && !(c.schemaTable && ddl)) this.reads.add(c.table);
          break;
        }
        case "Insert": {
          const c = cursors.get(row.p1);
          if (c?.isTable && !(c.schemaTable && ddl)) this.ops.add(row.p5 & OPFLAG_ISUPDATE ? "update" : "insert");
          break;
        }
        case "Delete": {
          const c = cursors.get(row.p1);
          if (c?.isTable && !(c.schemaTable && ddl)) this.ops.add(row.p2 & OPFLAG_ISUPDATE ? "update" : "delete");
          break;
        }
        case "IdxInsert": {
          const c = cursors.get(row.p1);
          if (!c?.withoutRowid) break;
          if (!inTrigger && this.keyword === "INSERT") this.ops.add("insert");
          else if (!inTrigger && this.keyword === "UPDATE") this.ops.add("update");
          else this.ops.add("insert").add("update");
          break;
        }
        case "IdxDelete": {
          const c = cursors.get(row.p1);
          if (c?.withoutRowid) this.ops.add(!inTrigger && this.keyword === "UPDATE" ? "update" : "delete");
          break;
        }
        case "Clear": {
          const obj = this.schema.byRoot(row.p2, row.p1);
          if (obj?.type === "table") {
            this.ops.add("delete");
            this.writes.add(this.schema.qualify(row.p2, obj.name));
          }
          break;
        }
        case "Destroy":
          this.ops.add("drop");
          break;
        case "DropTable":
          this.ops.add("drop");
          this.writes.add(this.schema.qualify(row.p1, this.schema.byName(row.p1, p4)?.name ?? p4));
          break;
        case "DropIndex":
        case "DropTrigger": {
          this.ops.add("drop");
          const obj = this.schema.byName(row.p1, p4, row.opcode === "DropIndex" ? "index" : "trigger");
          if (obj) this.writes.add(this.schema.qualify(row.p1, obj.tblName));
          break;
        }
        case "CreateBtree":
          this.ops.add("create");
          break;
        case "ParseSchema": {
          this.ops.add(this.keyword === "ALTER" ? "alter" : "create");
          const m = /^tbl_name='((?:[^']|'')*)'/.exec(p4);
          if (m) this.writes.add(this.schema.qualify(row.p1, m[1].replace(/''/g, "'")));
          break;
        }
        case "Function":
        case "PureFunc":
          if (/^sqlite_(attach|detach)\(/.test(p4)) this.ops.add("attach");
          else if (/^load_extension\(/i.test(p4)) this.ops.add("other");
          break;
        case "Vacuum":
          this.ops.add("other");
          break;
        case "AutoCommit":
        case "Savepoint":
          this.ops.add("transaction");
          break;
        case "JournalMode":
          this.ops.add("pragma");
          break;
        case "VOpen":
          this.vtabRead = true;
          break;
        case "VUpdate":
          this.vtabWrite = true;
          if (!inTrigger && LEADING[this.keyword]?.some((o) => o === "insert" || o === "update" || o === "delete")) break;
          this.ops.add("insert").add("update").add("delete");
          break;
        default:
          break;
      }
    }
  }

  /** The object a CREATE or ALTER names, and the table of a new index or trigger. */
  private ddlTargets(): void {
    const sig = this.sig;
    if (this.keyword === "ALTER" && upper(sig[1]) === "TABLE") {
      const [schema, name, after] = this.qualifiedName(2);
      const index = schema === null ? 0 : this.schema.indexOf(schema);
      const obj = this.schema.byName(index, name, "table");
      this.writes.add(this.schema.qualify(index, obj?.name ?? name));
      if (upper(sig[after]) === "RENAME" && upper(sig[after + 1]) === "TO" && isName(sig[after + 2])) {
        this.writes.add(this.schema.qualify(index, identName(sig[after + 2])));
      }
      return;
    }
    if (this.keyword !== "CREATE") return;
    let i = 1;
    let temp = false;
    while (["TEMP", "TEMPORARY", "UNIQUE", "VIRTUAL"].includes(upper(sig[i]))) temp = temp || upper(sig[i++]).startsWith("TEMP");
    const kind = upper(sig[i++]);
    if (upper(sig[i]) === "IF" && upper(sig[i + 1]) === "NOT" && upper(sig[i + 2]) === "EXISTS") i += 3;
    const [schema, name, after] = this.qualifiedName(i);
    const index = temp ? 1 : schema === null ? 0 : this.schema.indexOf(schema);
    if (kind === "TABLE" || kind === "VIEW") this.writes.add(this.schema.qualify(index, name));
    if (kind === "INDEX" || kind === "TRIGGER") {
      // The table is the name after the first ON at the top level (CREATE INDEX i ON t(...), CREATE TRIGGER t ... ON tbl).
      let depth = 0;
      for (let j = after; j < sig.length; j++) {
        if (sig[j].text === "(") depth++;
        else if (sig[j].text === ")") depth--;
        else if (depth === 0 && upper(sig[j]) === "ON" && isName(sig[j + 1])) {
          const [tSchema, table] = this.qualifiedName(j + 1);
          const tIndex = tSchema === null ? index : this.schema.indexOf(tSchema);
          const obj = this.schema.byName(tIndex, table) ?? this.schema.byName(0, table);
          this.writes.add(obj ? this.schema.qualify(this.schema.byName(tIndex, table) ? tIndex : 0, obj.name) : this.schema.qualify(tIndex, table));
          break;
        }
      }
    }
  }

  /** [schema or null, name, index of the next token] for `name` or `schema.name` at `i`. */
  private qualifiedName(i: number): [string | null, string, number] {
    const sig = this.sig;
    if (!isName(sig[i])) throw guestErrors.invalid("the analyzer cannot find the object this statement names");
    if (sig[i + 1]?.text === "." && isName(sig[i + 2])) return [identName(sig[i]), identName(sig[i + 2]), i + 3];
    return [null, identName(sig[i]), i + 1];
  }

  /** REPLACE conflict resolution deletes the rows it replaces, even where the bytecode only overwrites. */
  private replaceSemantics(): void {
    if (!this.ops.has("insert") && !this.ops.has("update")) return;
    const sources: Token[][] = [this.sig];
    for (const table of this.writes) {
      const [index, name] = this.split(table);
      const sql = this.schema.byName(index, name, "table")?.sql;
      if (sql) sources.push(significant(tokenize(sql)));
    }
    for (const trigger of this.firedTriggers) {
      for (let index = 0; index < this.schema.count; index++) {
        const sql = this.schema.byName(index, trigger.name, "trigger")?.sql;
        if (sql) sources.push(significant(tokenize(sql)));
      }
    }
    const replaces = sources.some((toks) =>
      toks.some((t, i) => upper(t) === "REPLACE" && (i === 0 || ["OR", "CONFLICT"].includes(upper(toks[i - 1])))),
    );
    if (replaces) this.ops.add("update").add("delete");
    if (this.ops.has("insert") && this.sig.some((t, i) => upper(t) === "DO" && upper(this.sig[i + 1]) === "UPDATE")) this.ops.add("update");
  }

  /** Virtual tables have no root page: name those the statement (or a view or trigger it uses) mentions. */
  private virtualTables(): void {
    if (!this.vtabRead && !this.vtabWrite) return;
    const mentioned = new Set<string>();
    const addNames = (toks: Token[]) => toks.filter(isName).forEach((t) => mentioned.add(identName(t).toLowerCase()));
    addNames(this.sig);
    const seen = new Set<string>();
    for (let changed = true; changed; ) {
      changed = false;
      for (let index = 0; index < this.schema.count; index++) {
        if (this.schema.schemaName(index) === `db${index}`) continue;
        for (const obj of this.schema.list(index)) {
          const key = `${index}.${obj.type}.${obj.name}`;
          if (seen.has(key) || !obj.sql) continue;
          const relevant =
            (obj.type === "view" && mentioned.has(obj.name.toLowerCase())) ||
            (obj.type === "trigger" && this.firedTriggers.some((t) => t.name === obj.name));
          if (!relevant) continue;
          seen.add(key);
          addNames(significant(tokenize(obj.sql)));
          changed = true;
        }
      }
    }
    let found = 0;
    for (let index = 0; index < this.schema.count; index++) {
      if (this.schema.schemaName(index) === `db${index}`) continue;
      for (const obj of this.schema.list(index)) {
        const isVirtual = obj.type === "table" && obj.rootpage === 0 && /^\s*create\s+virtual\s/i.test(obj.sql ?? "");
        if (!isVirtual || !mentioned.has(obj.name.toLowerCase())) continue;
        found++;
        const table = this.schema.qualify(index, obj.name);
        this.reads.add(table);
        if (this.vtabWrite) this.writes.add(table);
      }
    }
    for (const raw of RAW_VTABS) if (mentioned.has(raw)) this.reads.add(raw);
    if (this.vtabWrite && found === 0) throw guestErrors.invalid("the statement writes a virtual table the analyzer cannot name");
  }

  private split(table: string): [number, string] {
    const dot = table.indexOf(".");
    if (dot < 0) return [0, table];
    return [this.schema.indexOf(table.slice(0, dot)), table.slice(dot + 1)];
  }
}

/** What a statement would do to the host beyond its database, as its bytecode shows. */
export interface DangerousCalls {
  /** ATTACH or DETACH: opens (or creates) another database file. */
  attach: boolean;
  /** load_extension(): loads native code. */
  loadExtension: boolean;
  /** VACUUM INTO: writes a new database file wherever the statement names. */
  vacuumInto: boolean;
}

/**
 * Whether a statement calls ATTACH, DETACH or load_extension anywhere in its bytecode
 * (triggers and views included), or writes a copy of the database with VACUUM INTO (the
 * Vacuum opcode with a file-name register in P2). The sql capability refuses these itself.
 *
 * @example dangerousCalls(db, "SELECT load_extension('x')") // { attach: false, loadExtension: true, vacuumInto: false }
 * @throws GuestError `invalid` when the statement does not compile.
 */
export function dangerousCalls(db: Database, statement: string): DangerousCalls {
  return compileSql(db, statement).calls;
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

/** How SQLite numbers a statement's parameters: their count, and the key of each named one. */
export interface ParameterLayout {
  /** The highest parameter index (SQLite's sqlite3_bind_parameter_count). */
  count: number;
  /** Index (1-based) -> better-sqlite3 key ("a" for :a, @a, $a; "3" for ?3), for named indexes. */
  named: Map<number, string>;
}

/**
 * Numbers the parameters of a statement as SQLite does (`?` takes the next index, `?N` index N,
 * a name keeps the index it first got).
 *
 * @example parameterLayout("SELECT ?, :a, ?5").count === 5
 */
export function parameterLayout(statement: string): ParameterLayout {
  return layoutOf(tokenize(statement));
}

function layoutOf(tokens: Token[]): ParameterLayout {
  const names = new Map<string, number>();
  const named = new Map<number, string>();
  let count = 0;
  for (const t of tokens) {
    if (t.type !== "variable") continue;
    if (t.text === "?") count++;
    else if (!names.has(t.text)) {
      const index = /^\?\d+$/.test(t.text) ? Number(t.text.slice(1)) : ++count;
      names.set(t.text, index);
      count = Math.max(count, index);
      if (!named.has(index)) named.set(index, t.text.slice(1));
    }
  }
  return { count, named };
}

/** Arguments for better-sqlite3: positional values for unnamed indexes, then an object for named ones. */
export function bindArguments(layout: ParameterLayout, values: unknown[]): unknown[] {
  const positional: unknown[] = [];
  const keys: Record<string, unknown> = {};
  for (let index = 1; index <= layout.count; index++) {
    const key = layout.named.get(index);
    if (key === undefined) positional.push(values[index - 1]);
    else keys[key] = values[index - 1];
  }
  return layout.named.size > 0 ? [...positional, keys] : positional;
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

/**
 * Reading a statement's bytecode (`EXPLAIN <statement>`) into the facts the policy decides on:
 * the tables opened for reading and writing (root pages mapped through the schema, indexes to
 * their tables, views to their base tables, trigger sub-programs included), the virtual tables
 * opened (by pointer: sql-vtabs.ts), and the destructive opcodes (Destroy, DropTable, Clear,
 * Delete, schema parsing, attach/detach and load_extension calls, Vacuum, journal-mode and
 * cookie changes). The leading keyword only adds operations; it never removes any.
 */
import { guestErrors } from "../errors.js";
import type { SchemaView } from "./sql-schema.js";
import { identName, isName, significant, tokenize, upper, type Token } from "./sql-text.js";
import { EPONYMOUS, pragmaArguments, pragmaEffect, schemaVtabReads, statementSources, type VirtualTables } from "./sql-vtabs.js";

/** Operation names, as policies use them. */
export const SQL_OPERATIONS = ["select", "insert", "update", "delete", "create", "drop", "alter", "pragma", "attach", "transaction", "other"] as const;
export type SqlOperation = (typeof SQL_OPERATIONS)[number];

/** Operations that change something: a statement SQLite says is not read-only has one of them. */
const WRITING: ReadonlySet<SqlOperation> = new Set(["insert", "update", "delete", "create", "drop", "alter", "attach", "other"]);

/** One row of `EXPLAIN`. */
export interface OpRow {
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
export const LEADING: Readonly<Record<string, SqlOperation[]>> = {
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

/** The facts of one statement, without its text. */
export interface BytecodeFacts {
  operations: string[];
  reads: string[];
  writes: string[];
}

/** Operations in the order policies list them. */
export function sortOperations(ops: Iterable<string>): string[] {
  return [...ops].sort((a, b) => SQL_OPERATIONS.indexOf(a as SqlOperation) - SQL_OPERATIONS.indexOf(b as SqlOperation));
}

/**
 * The keyword of the statement proper: the first word, or for `WITH ...` the first keyword
 * after the common table expressions (their bodies are in parentheses).
 */
function mainKeyword(sig: Token[]): string {
  const first = upper(sig[0]);
  if (first !== "WITH") return first;
  let depth = 0;
  for (const t of sig) {
    if (t.text === "(") depth++;
    else if (t.text === ")") depth--;
    else if (depth === 0 && ["SELECT", "VALUES", "INSERT", "REPLACE", "UPDATE", "DELETE"].includes(upper(t))) return upper(t);
  }
  return first;
}

/** One statement's analysis: construct, then `run` over its bytecode once. */
export class Analysis {
  private readonly keyword: string;
  private readonly ops = new Set<SqlOperation>();
  private readonly reads = new Set<string>();
  private readonly writes = new Set<string>();
  private readonly firedTriggers: { name: string }[] = [];
  /** Virtual tables the bytecode opens (VOpen) or writes (VUpdate), by pointer. */
  private readonly vtabs = new Map<string, { write: boolean }>();

  constructor(
    private readonly schema: SchemaView,
    private readonly virtual: VirtualTables,
    private readonly sig: Token[],
  ) {
    this.keyword = mainKeyword(sig);
  }

  /** `readonly`: SQLite's own sqlite3_stmt_readonly() for the statement. */
  run(rows: OpRow[], readonly: boolean): BytecodeFacts {
    for (const op of LEADING[this.keyword] ?? []) this.ops.add(op);
    this.walk(rows);
    this.ddlTargets();
    this.replaceSemantics();
    this.virtualTables();
    if (this.ops.size === 0) this.ops.add(LEADING[this.keyword] ? LEADING[this.keyword][0] : "other");
    // SQLite says it writes: it is never only a read, whatever the bytecode showed.
    if (!readonly && ![...this.ops].some((o) => WRITING.has(o))) this.ops.add("other");
    return { operations: sortOperations(this.ops), reads: [...this.reads].sort(), writes: [...this.writes].sort() };
  }

  /** Reads the bytecode of the statement and of every trigger sub-program that follows it. */
  private walk(rows: OpRow[]): void {
    let cursors = new Map<number, Cursor>();
    let lastAddr = -1;
    let inTrigger = false;
    for (const row of rows) {
      if (row.addr <= lastAddr) {
        cursors = new Map();
        inTrigger = true;
      }
      lastAddr = row.addr;
      this.step(row, cursors, inTrigger);
    }
  }

  private step(row: OpRow, cursors: Map<number, Cursor>, inTrigger: boolean): void {
    const p4 = typeof row.p4 === "string" ? row.p4 : "";
    const ddl = DDL.has(this.keyword);
    const ownSchema = (c: Cursor | undefined) => c !== undefined && c.schemaTable && ddl;
    switch (row.opcode) {
      case "Init": {
        const m = /^-- TRIGGER (.+)$/.exec(p4);
        if (m) this.firedTriggers.push({ name: m[1] });
        break;
      }
      case "OpenRead":
      case "OpenWrite":
      case "ReopenIdx":
        this.open(row, cursors, ddl);
        break;
      case "Column": {
        const c = cursors.get(row.p1);
        if (c?.write && !ownSchema(c)) this.reads.add(c.table);
        break;
      }
      case "Insert": {
        const c = cursors.get(row.p1);
        if (c?.isTable && !ownSchema(c)) this.ops.add(row.p5 & OPFLAG_ISUPDATE ? "update" : "insert");
        break;
      }
      case "Delete": {
        const c = cursors.get(row.p1);
        if (c?.isTable && !ownSchema(c)) this.ops.add(row.p2 & OPFLAG_ISUPDATE ? "update" : "delete");
        break;
      }
      case "IdxInsert":
        if (!cursors.get(row.p1)?.withoutRowid) break;
        if (!inTrigger && this.keyword === "INSERT") this.ops.add("insert");
        else if (!inTrigger && this.keyword === "UPDATE") this.ops.add("update");
        else this.ops.add("insert").add("update");
        break;
      case "IdxDelete":
        if (cursors.get(row.p1)?.withoutRowid) this.ops.add(!inTrigger && this.keyword === "UPDATE" ? "update" : "delete");
        break;
      default:
        this.schemaChange(row, p4, inTrigger);
    }
  }

  private open(row: OpRow, cursors: Map<number, Cursor>, ddl: boolean): void {
    if (row.p5 & OPFLAG_P2ISREG) return; // a b-tree this very statement creates
    const obj = this.schema.byRoot(row.p3, row.p2);
    if (!obj) throw guestErrors.invalid("the statement opens a table the analyzer cannot name");
    // DDL maintains the schema table and sqlite_sequence/sqlite_stat* itself: that is not the agent's write.
    const schemaTable = obj.rootpage === 1 || /^sqlite_/i.test(obj.name);
    const table = obj.rootpage === 1 && row.p3 === 1 ? obj.name : this.schema.qualify(row.p3, obj.type === "index" ? obj.tblName : obj.name);
    const write = row.opcode === "OpenWrite";
    const withoutRowid = obj.type === "table" && typeof row.p4 === "string" && row.p4.startsWith("k(");
    cursors.set(row.p1, { table, isTable: obj.type === "table", withoutRowid, schemaTable, write });
    if (schemaTable && ddl) return;
    (write ? this.writes : this.reads).add(table);
  }

  /** Opcodes that change the schema, call out of the database, or touch a virtual table. */
  private schemaChange(row: OpRow, p4: string, inTrigger: boolean): void {
    switch (row.opcode) {
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
        this.vtabs.set(p4, { write: this.vtabs.get(p4)?.write ?? false });
        break;
      case "VUpdate":
        this.vtabs.set(p4, { write: true });
        if (!inTrigger && LEADING[this.keyword]?.some((o) => o === "insert" || o === "update" || o === "delete")) break;
        this.ops.add("insert").add("update").add("delete");
        break;
      default:
        break;
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
    if (kind === "INDEX" || kind === "TRIGGER") this.indexedTable(after, index);
  }

  /** The table after the first top-level ON (CREATE INDEX i ON t(...), CREATE TRIGGER t ... ON tbl). */
  private indexedTable(after: number, index: number): void {
    const sig = this.sig;
    let depth = 0;
    for (let j = after; j < sig.length; j++) {
      if (sig[j].text === "(") depth++;
      else if (sig[j].text === ")") depth--;
      else if (depth === 0 && upper(sig[j]) === "ON" && isName(sig[j + 1])) {
        const [tSchema, table] = this.qualifiedName(j + 1);
        const tIndex = tSchema === null ? index : this.schema.indexOf(tSchema);
        const obj = this.schema.byName(tIndex, table) ?? this.schema.byName(0, table);
        this.writes.add(obj ? this.schema.qualify(this.schema.byName(tIndex, table) ? tIndex : 0, obj.name) : this.schema.qualify(tIndex, table));
        return;
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
        if (!this.schema.has(index)) continue;
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

  /**
   * Each virtual table the bytecode opens or writes, named by its pointer, adds what it reads:
   * a pragma function its pragma's tables (with the arguments written in the statement, or in
   * the views and triggers it runs), dbstat every table, a schema's virtual table itself and
   * what its module reads. A pointer the analyzer cannot name makes the statement invalid.
   */
  private virtualTables(): void {
    if (this.vtabs.size === 0) return;
    const sources = statementSources(this.schema, this.sig, this.firedTriggers);
    for (const [pointer, use] of this.vtabs) {
      const vtab = this.virtual.resolve(pointer, this.schema);
      if (!vtab) throw guestErrors.invalid("the statement uses a virtual table the analyzer cannot name");
      if (vtab.kind === "schema") {
        for (const t of schemaVtabReads(this.schema, vtab)) this.reads.add(t);
        if (use.write) this.writes.add(this.schema.qualify(vtab.index, vtab.name));
        continue;
      }
      if (use.write) throw guestErrors.invalid(`the statement writes ${vtab.name}, which the analyzer does not allow`);
      if (vtab.name.startsWith("pragma_")) {
        const { arg, schema } = pragmaArguments(vtab.name, sources);
        const effect = pragmaEffect(this.schema, vtab.name.slice("pragma_".length), arg, schema);
        for (const op of effect.operations) this.ops.add(op);
        for (const t of effect.reads) this.reads.add(t);
        for (const t of effect.writes) this.writes.add(t);
      } else if (EPONYMOUS[vtab.name as keyof typeof EPONYMOUS] === "every table") {
        this.reads.add(vtab.name);
        for (const t of this.schema.everyTable()) this.reads.add(t);
      }
    }
  }

  private split(table: string): [number, string] {
    const dot = table.indexOf(".");
    if (dot < 0) return [0, table];
    return [this.schema.indexOf(table.slice(0, dot)), table.slice(dot + 1)];
  }
}

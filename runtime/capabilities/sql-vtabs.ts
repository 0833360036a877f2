/**
 * Virtual tables and pragmas as the policy sees them: a table-valued function reads what it
 * reads, not nothing.
 *
 * A virtual table has no root page, so the bytecode's `VOpen` names it only by a pointer. The
 * analyzer maps pointers to names by compiling `SELECT * FROM <name>` for every eponymous
 * virtual table of the build (pragma_*, json_each, json_tree, jsonb_each, jsonb_tree, dbstat,
 * fts3tokenize) and for every virtual table in the schemas; a pointer it cannot map makes the
 * statement `invalid`. What each one reads is {@link pragmaEffect} and {@link VIRTUAL_MODULES};
 * policies/README.md has the table.
 */
import type { SqlDatabase as Database } from "./sql-db.js";
import { guestErrors } from "../errors.js";
import { SCHEMA_TABLE, type SchemaView } from "./sql-schema.js";
import { identName, isName, significant, tokenize, upper, type Token } from "./sql-text.js";

/** What using a virtual table or running a pragma adds to a statement's facts. */
export interface Effect {
  operations: ("pragma" | "other")[];
  reads: string[];
  writes: string[];
}

/** Eponymous virtual tables that are not pragmas, and what they read: nothing, or every table. */
export const EPONYMOUS = { json_each: "nothing", json_tree: "nothing", jsonb_each: "nothing", jsonb_tree: "nothing", fts3tokenize: "nothing", dbstat: "every table" } as const;

/** Pragmas whose argument is a table (or view): they read that table's layout. */
const TABLE_ARGUMENT = new Set(["table_info", "table_xinfo", "index_list", "foreign_key_list"]);
/** Pragmas whose argument is an index (or a WITHOUT ROWID table): they read that index's table's layout. */
const INDEX_ARGUMENT = new Set(["index_info", "index_xinfo"]);
/** Pragmas that read the content of every table, whatever their argument. */
const READ_EVERY_TABLE = new Set(["integrity_check", "quick_check", "foreign_key_check", "optimize"]);
/** Pragmas that take an argument without setting anything (the others' argument is a new value). */
export const ARGUMENT_PRAGMAS = new Set([...TABLE_ARGUMENT, ...INDEX_ARGUMENT, ...READ_EVERY_TABLE, "table_list", "wal_checkpoint", "incremental_vacuum"]);

/**
 * What a pragma reads and writes. `arg` is its argument: a literal, `undefined` for none, or
 * `null` when it is not a literal (a parameter, a column, an expression): then it could be
 * any table, and every table is read. `sets` is true for `PRAGMA name = value` on a pragma
 * whose value is a new setting.
 *
 * Pragmas about tables read those tables; every other pragma (settings, database_list with its
 * host paths, function_list, compile_options...) reads, or when set writes, the pseudo-table
 * `pragma_<name>`, so that a rule's `tables:` must name it to allow it.
 *
 * @example pragmaEffect(schema, "table_info", "secrets") // { operations: ["pragma"], reads: ["secrets"], writes: [] }
 */
export function pragmaEffect(schema: SchemaView, name: string, arg: string | null | undefined, schemaName?: string, sets = false): Effect {
  const pragma = name.toLowerCase();
  if (pragma === "optimize") return { operations: ["pragma", "other"], reads: schema.everyTable(), writes: ["sqlite_stat1", "sqlite_stat4"] };
  if (READ_EVERY_TABLE.has(pragma)) return { operations: ["pragma"], reads: schema.everyTable(), writes: [] };
  const reads = (names: string[]): Effect => ({ operations: ["pragma"], reads: names, writes: [] });
  if (TABLE_ARGUMENT.has(pragma) || INDEX_ARGUMENT.has(pragma)) {
    if (arg === null) return reads(schema.everyTable());
    if (arg === undefined) return reads([]);
    return reads([objectTable(schema, arg, TABLE_ARGUMENT.has(pragma) ? "table" : "index", schemaName)]);
  }
  if (pragma === "table_list") return reads(typeof arg === "string" ? [objectTable(schema, arg, "table", schemaName)] : [SCHEMA_TABLE]);
  const pseudo = `pragma_${pragma}`;
  return sets ? { operations: ["pragma"], reads: [], writes: [pseudo] } : reads([pseudo]);
}

/** The table a pragma's argument names (an index stands for its table), as the policy names it. */
function objectTable(schema: SchemaView, name: string, kind: "table" | "index", schemaName: string | undefined): string {
  const kinds = kind === "index" ? ["index", "table"] : ["table", "view"];
  for (const type of kinds) {
    if (schemaName !== undefined) {
      const index = schema.find(schemaName);
      const obj = index < 0 ? undefined : schema.byName(index, name, type);
      if (obj) return schema.qualify(index, type === "index" ? obj.tblName : obj.name);
    } else {
      const found = schema.locate(name, type);
      if (found) return schema.qualify(found.index, type === "index" ? found.obj.tblName : found.obj.name);
    }
  }
  // Nothing by that name: the pragma reads nothing, but the policy still sees what was asked for.
  return schemaName === undefined || schemaName.toLowerCase() === "main" ? name : `${schemaName}.${name}`;
}

/**
 * Modules of virtual tables created in a schema (CREATE VIRTUAL TABLE ... USING module), and the
 * other tables reading one of them reads: an FTS table's external content table, the FTS table
 * an fts4aux or fts5vocab table describes. rtree, rtree_i32, geopoly and fts3tokenize read only
 * their own shadow tables; dbstat reads every table.
 */
export const VIRTUAL_MODULES = ["fts3", "fts4", "fts5", "fts4aux", "fts5vocab", "rtree", "rtree_i32", "geopoly", "fts3tokenize", "dbstat"] as const;

/** One virtual table a pointer stands for. */
export type VirtualTable = { kind: "eponymous"; name: string } | { kind: "schema"; index: number; name: string; sql: string };

/**
 * Maps the pointers in `VOpen`/`VUpdate` to virtual tables, for one connection. The eponymous
 * ones are mapped once; the schemas' ones again whenever a pointer is not known.
 */
export class VirtualTables {
  private eponymous: Map<string, VirtualTable> | undefined;
  private named = new Map<string, VirtualTable>();

  constructor(private readonly db: Database) {}

  /** The virtual table behind a pointer; undefined when none of the connection's is. */
  resolve(pointer: string, schema: SchemaView): VirtualTable | undefined {
    this.eponymous ??= this.mapEponymous();
    const known = this.eponymous.get(pointer) ?? this.named.get(pointer);
    if (known) return known;
    this.named = this.mapSchemas(schema);
    return this.named.get(pointer);
  }

  private pointerOf(from: string): string | undefined {
    try {
      const rows = this.db.prepare(`EXPLAIN SELECT * FROM ${from}`).safeIntegers(false).all() as { opcode: string; p4: unknown }[];
      const open = rows.find((r) => r.opcode === "VOpen");
      return typeof open?.p4 === "string" ? open.p4 : undefined;
    } catch {
      return undefined; // not in this build, or a virtual table that does not connect
    }
  }

  private mapEponymous(): Map<string, VirtualTable> {
    const names = new Set<string>(Object.keys(EPONYMOUS));
    for (const p of this.db.prepare("SELECT name FROM pragma_pragma_list").pluck().all() as string[]) names.add(`pragma_${p}`);
    const map = new Map<string, VirtualTable>();
    for (const name of names) {
      const pointer = this.pointerOf(quoteName(name));
      if (pointer !== undefined) map.set(pointer, { kind: "eponymous", name });
    }
    return map;
  }

  private mapSchemas(schema: SchemaView): Map<string, VirtualTable> {
    const map = new Map<string, VirtualTable>();
    for (let index = 0; index < schema.count; index++) {
      if (!schema.has(index)) continue;
      for (const obj of schema.list(index)) {
        if (obj.type !== "table" || obj.rootpage !== 0 || !/^\s*create\s+virtual\s/i.test(obj.sql ?? "")) continue;
        const pointer = this.pointerOf(`${quoteName(schema.schemaName(index))}.${quoteName(obj.name)}`);
        if (pointer !== undefined) map.set(pointer, { kind: "schema", index, name: obj.name, sql: obj.sql ?? "" });
      }
    }
    return map;
  }
}

/**
 * What reading a virtual table created in a schema reads: itself, and the tables its module
 * reads through it (followed transitively: an fts5vocab table over an FTS table with external
 * content reads that content table too).
 */
export function schemaVtabReads(schema: SchemaView, vtab: { index: number; name: string; sql: string }): string[] {
  const out = new Set<string>();
  const pending = [vtab];
  while (pending.length > 0) {
    const current = pending.pop()!;
    const table = schema.qualify(current.index, current.name);
    if (out.has(table)) continue;
    out.add(table);
    const { module, args } = moduleOf(current.sql);
    if (module === "dbstat") for (const t of schema.everyTable()) out.add(t);
    for (const target of targetsOf(module, args)) {
      const index = target.schema === undefined ? current.index : schema.find(target.schema);
      const obj = index < 0 ? undefined : schema.byName(index, target.name);
      if (!obj) {
        out.add(schema.qualify(index < 0 ? current.index : index, target.name));
        continue;
      }
      if (/^\s*create\s+virtual\s/i.test(obj.sql ?? "")) pending.push({ index, name: obj.name, sql: obj.sql ?? "" });
      else out.add(schema.qualify(index, obj.name));
    }
  }
  return [...out];
}

/** The module and the argument list (as token groups) of a CREATE VIRTUAL TABLE statement. */
function moduleOf(sql: string): { module: string; args: Token[][] } {
  const sig = significant(tokenize(sql));
  const using = sig.findIndex((t) => upper(t) === "USING");
  if (using < 0 || !isName(sig[using + 1])) throw guestErrors.invalid("the analyzer cannot read a virtual table's definition");
  const module = identName(sig[using + 1]).toLowerCase();
  const args: Token[][] = [];
  if (sig[using + 2]?.text === "(") {
    let depth = 0;
    let current: Token[] = [];
    for (const t of sig.slice(using + 3)) {
      if (t.text === "(") depth++;
      if (t.text === ")" && depth-- === 0) break;
      if (t.text === "," && depth === 0) {
        args.push(current);
        current = [];
      } else current.push(t);
    }
    args.push(current);
  }
  return { module, args };
}

/** The tables a module reads beside its own shadow tables. */
function targetsOf(module: string, args: Token[][]): { schema?: string; name: string }[] {
  const bare = (arg: Token[] | undefined) => (arg && arg.length === 1 && isName(arg[0]) ? identName(arg[0]) : undefined);
  if (module === "fts4aux" || module === "fts5vocab") {
    // fts4aux(table) | fts4aux(schema, table); fts5vocab(table, type) | fts5vocab(schema, table, type)
    const named = args.map(bare);
    const three = module === "fts4aux" ? args.length === 2 : args.length === 3;
    const target = three ? { schema: named[0], name: named[1] } : { name: named[0] };
    if (target.name === undefined || (three && target.schema === undefined)) throw guestErrors.invalid(`the analyzer cannot read the arguments of a ${module} table`);
    return [target as { schema?: string; name: string }];
  }
  if (module === "fts3" || module === "fts4" || module === "fts5") {
    for (const arg of args) {
      if (arg.length >= 3 && upper(arg[0]) === "CONTENT" && arg[1].text === "=") {
        const value = arg.slice(2);
        if (value.length !== 1 || !isName(value[0])) throw guestErrors.invalid("the analyzer cannot read an FTS table's content option");
        const name = identName(value[0]);
        return name === "" ? [] : [{ name }];
      }
    }
  }
  return [];
}

/**
 * The tokens of a statement, and those of every view it names (transitively) and every trigger
 * it fires: everywhere a table-valued function it runs can be written.
 */
export function statementSources(schema: SchemaView, sig: Token[], firedTriggers: readonly { name: string }[]): Token[][] {
  const sources: Token[][] = [sig];
  const mentioned = new Set<string>();
  const addNames = (toks: Token[]) => toks.filter(isName).forEach((t) => mentioned.add(identName(t).toLowerCase()));
  addNames(sig);
  const seen = new Set<string>();
  for (let changed = true; changed; ) {
    changed = false;
    for (let index = 0; index < schema.count; index++) {
      if (!schema.has(index)) continue;
      for (const obj of schema.list(index)) {
        const key = `${index}.${obj.type}.${obj.name}`;
        if (seen.has(key) || !obj.sql) continue;
        const relevant = (obj.type === "view" && mentioned.has(obj.name.toLowerCase())) || (obj.type === "trigger" && firedTriggers.some((t) => t.name === obj.name));
        if (!relevant) continue;
        seen.add(key);
        const toks = significant(tokenize(obj.sql));
        sources.push(toks);
        addNames(toks);
        changed = true;
      }
    }
  }
  return sources;
}

/**
 * The literal arguments of a table-valued pragma function, as written: `pragma_x('a', 'main')`
 * gives `{ arg: "a", schema: "main" }`. When any use of the function in `sources` is not
 * a plain call with literal arguments, or a hidden column (`arg`, `schema`) is named anywhere
 * (a constraint in WHERE or ON passes an argument too), the argument is unknown (`null`).
 */
export function pragmaArguments(name: string, sources: Token[][]): { arg: string | null | undefined; schema?: string } {
  const lower = name.toLowerCase();
  let found: { arg: string | undefined; schema?: string } | undefined;
  for (const sig of sources) {
    if (sig.some((t) => isName(t) && ["arg", "schema"].includes(identName(t).toLowerCase()))) return { arg: null };
    for (let i = 0; i < sig.length; i++) {
      if (!isName(sig[i]) || identName(sig[i]).toLowerCase() !== lower) continue;
      const call = literalCall(sig, i + 1);
      if (call === null) return { arg: null };
      if (found && (found.arg !== call.arg || found.schema !== call.schema)) return { arg: null };
      found = call;
    }
  }
  return found ?? { arg: null };
}

/** `( 'a' [, 'b'] )` at `i` as literals; no parentheses is no argument; anything else is null. */
function literalCall(sig: Token[], i: number): { arg: string | undefined; schema?: string } | null {
  if (sig[i]?.text !== "(") return { arg: undefined };
  const values: string[] = [];
  let j = i + 1;
  for (;;) {
    const t = sig[j];
    if (t?.text === ")" && values.length === 0) return { arg: undefined };
    if (!t || (t.type !== "string" && t.type !== "number")) return null;
    values.push(t.type === "string" ? identName(t) : t.text);
    j++;
    if (sig[j]?.text === ")") break;
    if (sig[j]?.text !== ",") return null;
    j++;
  }
  if (values.length > 2) return null;
  return values.length === 2 ? { arg: values[0], schema: values[1] } : { arg: values[0] };
}

function quoteName(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

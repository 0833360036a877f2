/**
 * The schemas of one connection as the analyzer needs them: each database's objects (read from
 * its schema table), root pages to objects, and table names as the policy sees them (a table of
 * `main` by its stored name, any other as `schema.name`).
 */
import type { SqlDatabase as Database } from "./sql-db.js";
import { guestErrors } from "../errors.js";

export interface SchemaObject {
  type: string;
  name: string;
  tblName: string;
  rootpage: number;
  sql: string | null;
}

/** The name the policy sees for the schema table itself (root page 1 of `main`). */
export const SCHEMA_TABLE = "sqlite_schema";

/** The schemas of the connection, read lazily: database index -> name and objects. */
export class SchemaView {
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

  /** Whether database index `index` is attached (indexes can have gaps after DETACH). */
  has(index: number): boolean {
    return this.names[index] !== undefined;
  }

  schemaName(index: number): string {
    return this.names[index] ?? `db${index}`;
  }

  /** The index of a schema by name (any case); -1 when there is none. */
  find(schema: string): number {
    return this.names.findIndex((n) => n !== undefined && n.toLowerCase() === schema.toLowerCase());
  }

  /** The index of a schema by name; `main` (0) when there is none. */
  indexOf(schema: string): number {
    const i = this.find(schema);
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
    if (root === 1) return { type: "table", name: index === 1 ? "sqlite_temp_schema" : SCHEMA_TABLE, tblName: "", rootpage: 1, sql: null };
    return this.list(index).find((o) => o.rootpage === root);
  }

  byName(index: number, name: string, type?: string): SchemaObject | undefined {
    const lower = name.toLowerCase();
    return this.list(index).find((o) => o.name.toLowerCase() === lower && (type === undefined || o.type === type));
  }

  /**
   * Where SQLite finds an unqualified table or index name: temp first, then main, then the
   * attached databases in order. Undefined when no schema has it.
   */
  locate(name: string, type: string): { index: number; obj: SchemaObject } | undefined {
    const order = [1, 0, ...this.names.map((_, i) => i).filter((i) => i > 1)];
    for (const index of order) {
      if (!this.has(index)) continue;
      const obj = this.byName(index, name, type);
      if (obj) return { index, obj };
    }
    return undefined;
  }

  /** Every table of every schema, qualified, with the schema table: what a statement that can read anything reads. */
  everyTable(): string[] {
    const out = new Set<string>([SCHEMA_TABLE]);
    for (let index = 0; index < this.count; index++) {
      if (!this.has(index)) continue;
      for (const obj of this.list(index)) if (obj.type === "table") out.add(this.qualify(index, obj.name));
    }
    return [...out];
  }
}

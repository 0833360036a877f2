/**
 * One prepared statement of sqlite.wasm, with better-sqlite3's semantics (see SqlStatement):
 * arguments are positional values and at most one object of named ones (keys without their
 * `:`, `@` or `$`); integers bind as 64-bit integers only when they are bigints (a number binds
 * as a double, as better-sqlite3 does); rows come out as objects, arrays (`raw`) or one value
 * (`pluck`); integers as bigint with `safeIntegers`.
 */
import type { SqlStatement } from "../../capabilities/sql-db.js";
import { SqliteError } from "./codes.js";
import type { WasmDatabase } from "./wasm-sqlite.js";

type Ptr = number;

const ROW = 100;
const DONE = 101;
const TRANSIENT = -1;
const INTEGER = 1;
const FLOAT = 2;
const TEXT = 3;
const BLOB = 4;

const encoder = new TextEncoder();

export class WasmStatement implements SqlStatement {
  readonly reader: boolean;
  readonly readonly: boolean;
  private rawMode = false;
  private pluckMode = false;
  private safe: boolean;
  private names: string[] | undefined;
  private finalized = false;

  /** @internal */
  constructor(
    private readonly db: WasmDatabase,
    private readonly ptr: Ptr,
  ) {
    const { x } = db.sqlite;
    this.reader = x.sqlite3_column_count(ptr) > 0;
    this.readonly = x.sqlite3_stmt_readonly(ptr) !== 0;
    this.safe = db.safe;
  }

  raw(on = true): this {
    this.rawMode = on;
    if (on) this.pluckMode = false;
    return this;
  }

  pluck(on = true): this {
    this.pluckMode = on;
    if (on) this.rawMode = false;
    return this;
  }

  safeIntegers(on = true): this {
    this.safe = on;
    return this;
  }

  columns(): Array<{ name: string }> {
    return this.columnNames().map((name) => ({ name }));
  }

  get(...params: unknown[]): unknown {
    this.bind(params);
    try {
      return this.step() ? this.row() : undefined;
    } finally {
      this.reset();
    }
  }

  all(...params: unknown[]): unknown[] {
    this.bind(params);
    const rows: unknown[] = [];
    try {
      while (this.step()) rows.push(this.row());
    } finally {
      this.reset();
    }
    return rows;
  }

  run(...params: unknown[]): { changes: number } {
    const { x } = this.db.sqlite;
    this.bind(params);
    const before = x.sqlite3_total_changes64(this.db.ptr);
    try {
      while (this.step());
    } finally {
      this.reset();
    }
    // As better-sqlite3 counts: a statement that changed nothing (COMMIT, ROLLBACK) reports 0, not the last count.
    return { changes: x.sqlite3_total_changes64(this.db.ptr) === before ? 0 : Number(x.sqlite3_changes64(this.db.ptr)) };
  }

  *iterate(...params: unknown[]): IterableIterator<unknown> {
    this.bind(params);
    try {
      while (this.step()) yield this.row();
    } finally {
      this.reset();
    }
  }

  /** @internal Frees the statement (its connection does, when it closes). */
  finalize(): void {
    if (this.finalized) return;
    this.finalized = true;
    this.db.sqlite.x.sqlite3_finalize(this.ptr);
    this.db.forget(this);
  }

  /** One step: true for a row, false when done. @throws SqliteError */
  private step(): boolean {
    const { sqlite } = this.db;
    const rc = sqlite.x.sqlite3_step(this.ptr);
    if (rc === ROW) return true;
    if (rc === DONE) return false;
    const error = sqlite.error(this.db.ptr);
    sqlite.x.sqlite3_reset(this.ptr);
    throw error;
  }

  private reset(): void {
    this.db.sqlite.x.sqlite3_reset(this.ptr);
  }

  private bind(params: unknown[]): void {
    if (this.finalized) throw new TypeError("The statement has been finalized");
    const { sqlite } = this.db;
    const { x } = sqlite;
    x.sqlite3_reset(this.ptr);
    x.sqlite3_clear_bindings(this.ptr);
    this.names = undefined; // (a schema change recompiles the statement: SELECT * may have new columns)
    const last = params[params.length - 1];
    const named = isNamed(last) ? last : undefined;
    const positional = named ? params.slice(0, -1) : params;
    let next = 0;
    const count = x.sqlite3_bind_parameter_count(this.ptr);
    for (let i = 1; i <= count; i++) {
      const name = sqlite.text(x.sqlite3_bind_parameter_name(this.ptr, i));
      let value: unknown;
      if (name === "" || name.startsWith("?")) {
        if (next >= positional.length) throw new RangeError("Too few parameter values were provided");
        value = positional[next++];
      } else {
        const key = name.slice(1);
        if (!named || !Object.hasOwn(named, key)) throw new RangeError(`Missing named parameter "${key}"`);
        value = named[key];
      }
      this.bindValue(i, value);
    }
    if (next < positional.length) throw new RangeError("Too many parameter values were provided");
  }

  private bindValue(i: number, value: unknown): void {
    const { sqlite } = this.db;
    const { x } = sqlite;
    let rc: number;
    if (value === null || value === undefined) rc = x.sqlite3_bind_null(this.ptr, i);
    else if (typeof value === "bigint") rc = x.sqlite3_bind_int64(this.ptr, i, BigInt.asIntN(64, value));
    else if (typeof value === "number") rc = x.sqlite3_bind_double(this.ptr, i, value);
    else if (typeof value === "string" || value instanceof Uint8Array) {
      const bytes = typeof value === "string" ? encoder.encode(value) : value;
      const p = x.malloc(Math.max(1, bytes.byteLength));
      if (p === 0) throw new SqliteError("out of memory", "SQLITE_NOMEM");
      new Uint8Array(x.memory.buffer).set(bytes, p);
      rc = typeof value === "string" ? x.sqlite3_bind_text(this.ptr, i, p, bytes.byteLength, TRANSIENT) : x.sqlite3_bind_blob(this.ptr, i, p, bytes.byteLength, TRANSIENT);
      x.free(p);
    } else throw new TypeError("SQLite3 can only bind numbers, strings, bigints, buffers, and null");
    if (rc !== 0) throw sqlite.error(this.db.ptr);
  }

  private row(): unknown {
    if (this.pluckMode) return this.value(0);
    const names = this.columnNames();
    if (this.rawMode) return names.map((_, i) => this.value(i));
    const row: Record<string, unknown> = {};
    names.forEach((name, i) => (row[name] = this.value(i)));
    return row;
  }

  private value(i: number): unknown {
    const { sqlite } = this.db;
    const { x } = sqlite;
    switch (x.sqlite3_column_type(this.ptr, i)) {
      case INTEGER: {
        const v = x.sqlite3_column_int64(this.ptr, i);
        return this.safe ? v : Number(v);
      }
      case FLOAT:
        return x.sqlite3_column_double(this.ptr, i);
      case TEXT: {
        const p = x.sqlite3_column_text(this.ptr, i);
        return sqlite.text(p, x.sqlite3_column_bytes(this.ptr, i));
      }
      case BLOB: {
        const p = x.sqlite3_column_blob(this.ptr, i);
        return sqlite.bytes(p, x.sqlite3_column_bytes(this.ptr, i));
      }
      default:
        return null;
    }
  }

  private columnNames(): string[] {
    if (this.names) return this.names;
    const { sqlite } = this.db;
    const n = sqlite.x.sqlite3_column_count(this.ptr);
    this.names = Array.from({ length: n }, (_, i) => sqlite.text(sqlite.x.sqlite3_column_name(this.ptr, i)));
    return this.names;
  }
}

/** An object of named parameters (not a value SQLite binds). */
function isNamed(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !(value instanceof Uint8Array) && !Array.isArray(value);
}

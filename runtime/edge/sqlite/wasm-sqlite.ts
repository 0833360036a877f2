/**
 * SQLite in WebAssembly (sqlite.wasm, built by build.ts) behind {@link SqlDatabase}: the same
 * connection interface the SQL analyzer and executor use on Node with better-sqlite3, with its
 * semantics (one statement per prepare, bigint integers on request, raw and pluck rows, errors
 * carrying SQLite's result code's name).
 *
 * Web-standard APIs only. The module is instantiated from a compiled WebAssembly.Module (edge
 * hosts import wasm as modules and compile nothing from bytes). Databases are in SQLite's memdb
 * VFS: a path starting with "/" is one database shared by every connection of this instance,
 * loaded with {@link WasmDatabase.load} and saved with {@link WasmDatabase.serialize}.
 * {@link WasmSqlite.withDeadline} ends a statement that runs past its time (SQLITE_INTERRUPT)
 * through the progress handler.
 */
import { Wasm, type WasmInstance, type WasmMemory, type WasmModule } from "../../engines/component/wasm.js";
import type { SqlDatabase, SqlStatement } from "../../capabilities/sql-db.js";
import { significant, tokenize } from "../../capabilities/sql-text.js";
import { SqliteError, sqliteCodeName } from "./codes.js";
import { WasmStatement } from "./wasm-statement.js";

export { SqliteError } from "./codes.js";

type Ptr = number;

/** The C functions sqlite.wasm exports (build.ts: SQLITE_EXPORTS). */
interface SqliteExports {
  memory: WasmMemory;
  _initialize(): void;
  malloc(n: number): Ptr;
  free(p: Ptr): void;
  sqlite3_open_v2(name: Ptr, out: Ptr, flags: number, vfs: Ptr): number;
  sqlite3_close_v2(db: Ptr): number;
  sqlite3_prepare_v2(db: Ptr, sql: Ptr, n: number, out: Ptr, tail: Ptr): number;
  sqlite3_stmt_readonly(s: Ptr): number;
  sqlite3_step(s: Ptr): number;
  sqlite3_reset(s: Ptr): number;
  sqlite3_clear_bindings(s: Ptr): number;
  sqlite3_finalize(s: Ptr): number;
  sqlite3_bind_null(s: Ptr, i: number): number;
  sqlite3_bind_int64(s: Ptr, i: number, v: bigint): number;
  sqlite3_bind_double(s: Ptr, i: number, v: number): number;
  sqlite3_bind_text(s: Ptr, i: number, p: Ptr, n: number, destructor: number): number;
  sqlite3_bind_blob(s: Ptr, i: number, p: Ptr, n: number, destructor: number): number;
  sqlite3_bind_parameter_count(s: Ptr): number;
  sqlite3_bind_parameter_name(s: Ptr, i: number): Ptr;
  sqlite3_column_count(s: Ptr): number;
  sqlite3_column_name(s: Ptr, i: number): Ptr;
  sqlite3_column_type(s: Ptr, i: number): number;
  sqlite3_column_int64(s: Ptr, i: number): bigint;
  sqlite3_column_double(s: Ptr, i: number): number;
  sqlite3_column_text(s: Ptr, i: number): Ptr;
  sqlite3_column_blob(s: Ptr, i: number): Ptr;
  sqlite3_column_bytes(s: Ptr, i: number): number;
  sqlite3_errmsg(db: Ptr): Ptr;
  sqlite3_extended_errcode(db: Ptr): number;
  sqlite3_get_autocommit(db: Ptr): number;
  sqlite3_changes64(db: Ptr): bigint;
  sqlite3_total_changes64(db: Ptr): bigint;
  sqlite3_serialize(db: Ptr, schema: Ptr, size: Ptr, flags: number): Ptr;
  sqlite3_deserialize(db: Ptr, schema: Ptr, data: Ptr, size: bigint, capacity: bigint, flags: number): number;
  sqlite3_malloc64(n: bigint): Ptr;
  sqlite3_backup_init(dest: Ptr, destName: Ptr, source: Ptr, sourceName: Ptr): Ptr;
  sqlite3_backup_step(backup: Ptr, pages: number): number;
  sqlite3_backup_finish(backup: Ptr): number;
  sqlite3_free(p: Ptr): void;
  sqlite3_hard_heap_limit64(n: bigint): bigint;
  sqlite3_busy_timeout(db: Ptr, ms: number): number;
  aos_progress_handler(db: Ptr, ops: number, token: number): void;
  aos_db_config_int(db: Ptr, op: number, value: number): number;
}

const OK = 0;
const DONE = 101;
const OPEN_READONLY = 0x1;
const OPEN_READWRITE = 0x2;
const OPEN_CREATE = 0x4;
const DBCONFIG_DEFENSIVE = 1010;
/** Virtual machine instructions between two calls of the progress handler. */
const PROGRESS_OPS = 1000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What {@link WasmSqlite.load} takes besides the module. */
export interface WasmSqliteOptions {
  /** The wall clock SQLite's date functions read, in milliseconds. Default: Date.now. */
  now?: () => number;
  /** The most memory SQLite may allocate, in bytes (sqlite3_hard_heap_limit64). Default: 32 MiB. */
  heapLimitBytes?: number;
}

/** One instance of sqlite.wasm: its memory, its databases, its deadline. */
export class WasmSqlite {
  private deadline = Infinity;
  private interrupted = false;

  private constructor(readonly x: SqliteExports) {}

  /**
   * Instantiates sqlite.wasm.
   * @example const sqlite = await WasmSqlite.load(sqliteModule); const db = sqlite.open("/main");
   */
  static async load(module: WasmModule, options: WasmSqliteOptions = {}): Promise<WasmSqlite> {
    const now = options.now ?? Date.now;
    let self: WasmSqlite | undefined;
    const env = {
      aos_progress: () => (self !== undefined && self.tick() ? 1 : 0),
      aos_random: (p: Ptr, n: number) => void crypto.getRandomValues(new Uint8Array(self!.x.memory.buffer, p, n)),
      aos_now_ms: () => now(),
      emscripten_notify_memory_growth: () => undefined,
    };
    const instantiate = Wasm as unknown as { instantiate(m: WasmModule, imports: object): Promise<WasmInstance> };
    const instance = await instantiate.instantiate(module, { env });
    self = new WasmSqlite(instance.exports as unknown as SqliteExports);
    self.x._initialize();
    self.x.sqlite3_hard_heap_limit64(BigInt(options.heapLimitBytes ?? 32 * 1024 * 1024));
    return self;
  }

  /**
   * Runs `fn` with every statement it steps interrupted (SQLITE_INTERRUPT) once `ms` have passed.
   * @example sqlite.withDeadline(5000, () => stmt.all())
   */
  withDeadline<T>(ms: number, fn: () => T): { value?: T; error?: unknown; timedOut: boolean } {
    this.deadline = performance.now() + ms;
    this.interrupted = false;
    try {
      return { value: fn(), timedOut: this.interrupted };
    } catch (error) {
      return { error, timedOut: this.interrupted };
    } finally {
      this.deadline = Infinity;
    }
  }

  /**
   * Opens a database of the memdb VFS: `path` "/name" is shared by every connection of this
   * instance (created empty on first open unless read-only). Defensive mode is on.
   * @throws SqliteError
   */
  open(path: string, options: { readOnly?: boolean; safeIntegers?: boolean } = {}): WasmDatabase {
    const flags = options.readOnly === true ? OPEN_READONLY : OPEN_READWRITE | OPEN_CREATE;
    const name = this.cstring(path);
    const vfs = this.cstring("memdb");
    const out = this.x.malloc(4);
    try {
      const rc = this.x.sqlite3_open_v2(name, out, flags, vfs);
      const db = this.u32(out);
      if (rc !== OK) {
        const error = db === 0 ? new SqliteError("out of memory", "SQLITE_NOMEM") : this.error(db);
        if (db !== 0) this.x.sqlite3_close_v2(db);
        throw error;
      }
      this.x.aos_db_config_int(db, DBCONFIG_DEFENSIVE, 1);
      this.x.aos_progress_handler(db, PROGRESS_OPS, 0);
      return new WasmDatabase(this, db, options.safeIntegers ?? false);
    } finally {
      this.x.free(name);
      this.x.free(vfs);
      this.x.free(out);
    }
  }

  /** The progress handler: whether to interrupt the statement now. */
  private tick(): boolean {
    if (performance.now() < this.deadline) return false;
    this.interrupted = true;
    return true;
  }

  /** @internal */
  cstring(text: string): Ptr {
    const bytes = encoder.encode(text);
    const p = this.x.malloc(bytes.byteLength + 1);
    if (p === 0) throw new SqliteError("out of memory", "SQLITE_NOMEM");
    const heap = this.heap();
    heap.set(bytes, p);
    heap[p + bytes.byteLength] = 0;
    return p;
  }

  /** @internal A copy of `n` bytes at `p`. */
  bytes(p: Ptr, n: number): Uint8Array {
    return p === 0 || n === 0 ? new Uint8Array(0) : this.heap().slice(p, p + n);
  }

  /** @internal */
  text(p: Ptr, n?: number): string {
    if (p === 0) return "";
    const heap = this.heap();
    let end = p;
    if (n === undefined) while (heap[end] !== 0) end++;
    else end = p + n;
    return decoder.decode(heap.subarray(p, end));
  }

  /** @internal */
  u32(p: Ptr): number {
    return new DataView(this.x.memory.buffer).getUint32(p, true);
  }

  /** @internal The connection's last error. */
  error(db: Ptr): SqliteError {
    return new SqliteError(this.text(this.x.sqlite3_errmsg(db)), sqliteCodeName(this.x.sqlite3_extended_errcode(db)));
  }

  private heap(): Uint8Array {
    return new Uint8Array(this.x.memory.buffer);
  }
}

/** One connection (see {@link SqlDatabase}). */
export class WasmDatabase implements SqlDatabase {
  private readonly statements = new Set<WasmStatement>();
  private closed = false;

  /** @internal */
  constructor(
    readonly sqlite: WasmSqlite,
    readonly ptr: Ptr,
    readonly safe: boolean,
  ) {}

  get inTransaction(): boolean {
    return !this.closed && this.sqlite.x.sqlite3_get_autocommit(this.ptr) === 0;
  }

  /** @throws SqliteError for SQL SQLite does not compile; RangeError for no statement or several */
  prepare(source: string): WasmStatement {
    if (this.closed) throw new TypeError("The database connection is not open");
    const { x } = this.sqlite;
    const bytes = encoder.encode(source);
    const sql = this.sqlite.cstring(source);
    const out = x.malloc(8);
    try {
      const rc = x.sqlite3_prepare_v2(this.ptr, sql, bytes.byteLength, out, out + 4);
      const stmt = this.sqlite.u32(out);
      if (rc !== OK) throw this.sqlite.error(this.ptr);
      const rest = decoder.decode(bytes.subarray(this.sqlite.u32(out + 4) - sql));
      if (stmt === 0) throw new RangeError("The supplied SQL string contains no statements");
      if (significant(tokenize(rest)).some((t) => t.text !== ";")) {
        x.sqlite3_finalize(stmt);
        throw new RangeError("The supplied SQL string contains more than one statement");
      }
      const statement = new WasmStatement(this, stmt);
      this.statements.add(statement);
      return statement;
    } finally {
      x.free(sql);
      x.free(out);
    }
  }

  pragma(source: string): unknown[] {
    return this.prepare(`PRAGMA ${source}`).all();
  }

  /** Sets how long a statement waits for another connection's lock (this VFS does not sleep: it retries at once). */
  busyTimeout(ms: number): void {
    this.sqlite.x.sqlite3_busy_timeout(this.ptr, ms);
  }

  /** The main database's bytes (a copy). @throws SqliteError */
  serialize(): Uint8Array {
    const { x } = this.sqlite;
    const schema = this.sqlite.cstring("main");
    const size = x.malloc(8);
    try {
      const p = x.sqlite3_serialize(this.ptr, schema, size, 0);
      if (p === 0) throw new SqliteError("the database could not be serialized (out of memory)", "SQLITE_NOMEM");
      const n = Number(new DataView(x.memory.buffer).getBigInt64(size, true));
      const copy = this.sqlite.bytes(p, n);
      x.sqlite3_free(p);
      return copy;
    } finally {
      x.free(schema);
      x.free(size);
    }
  }

  /**
   * Replaces the main database's content with `bytes` (a database file's content): they are
   * opened privately, then copied page by page with SQLite's backup API (a shared memdb database
   * cannot be deserialized into: the connection would leave it).
   * @throws SqliteError for bytes that are not a database, or a database another connection holds locked
   */
  load(bytes: Uint8Array): void {
    const { x } = this.sqlite;
    const source = this.sqlite.open(":memory:");
    const main = this.sqlite.cstring("main");
    try {
      const p = x.sqlite3_malloc64(BigInt(Math.max(1, bytes.byteLength)));
      if (p === 0) throw new SqliteError("out of memory", "SQLITE_NOMEM");
      new Uint8Array(x.memory.buffer).set(bytes, p);
      // SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE: SQLite owns the copy.
      if (x.sqlite3_deserialize(source.ptr, main, p, BigInt(bytes.byteLength), BigInt(bytes.byteLength), 1 | 2) !== OK) throw this.sqlite.error(source.ptr);
      const backup = x.sqlite3_backup_init(this.ptr, main, source.ptr, main);
      if (backup === 0) throw this.sqlite.error(this.ptr);
      const stepped = x.sqlite3_backup_step(backup, -1);
      const finished = x.sqlite3_backup_finish(backup);
      if (stepped !== DONE || finished !== OK) throw this.sqlite.error(this.ptr);
    } finally {
      x.free(main);
      source.close();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const statement of this.statements) statement.finalize();
    this.statements.clear();
    this.sqlite.x.sqlite3_close_v2(this.ptr);
  }

  /** @internal */
  forget(statement: WasmStatement): void {
    this.statements.delete(statement);
  }
}

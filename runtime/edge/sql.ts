/**
 * The `sql` capability on the edge: SQLite in WebAssembly (sqlite/sqlite.wasm, the SQLite that
 * Node's kernel runs, compiled to wasm) with the same analyzer, the same policy facts, the same
 * checks before a statement runs and the same errors as on Node (capabilities/sql-connections.ts).
 *
 * - Each database is one SQLite database in memory, shared by the kernel's runs (each run has
 *   connections of its own, so transactions and locks work between runs as between processes).
 *   With a `store`, it is loaded from the store when the kernel starts and saved to it after
 *   every statement that commits a change, before the call returns: the database file's bytes,
 *   as a file of the edge fs's layout (edge/fs-volume.ts: parts under the store's value limit,
 *   rewritten in two generations, so that a save cut short leaves the last whole one). A save
 *   costs the whole database: this suits the small databases of agents, not large ones.
 * - Statements run on the host's thread. Each is interrupted past `limits.sqlTimeout` through
 *   SQLite's progress handler (every 1,000 instructions), and the run's SQL is then stopped, as
 *   on Node. SQLite's allocations are capped for the whole kernel (`memoryBytes`).
 * - A lock another run holds fails a statement at once with `io` ("database is locked"): the
 *   thread that would wait is the one the other run needs. A run that holds a write transaction
 *   keeps other runs from reading that database until it ends it (memdb's locking).
 */
import { guestErrors, GuestError, UsageError } from "../errors.js";
import type { WasmModule } from "../engines/component/wasm.js";
import { Wasm } from "../engines/component/wasm.js";
import { createSqlConnections, type LocalSql } from "../capabilities/sql-connections.js";
import type { QueryResult, RunQuota, SqlHost, SqlValue } from "../capabilities/types.js";
import type { Limits, SqlFacts } from "../types.js";
import type { KvStore } from "./kv-backend.js";
import { Volume, type VFile } from "./fs-volume.js";
import { WasmSqlite, type WasmDatabase } from "./sqlite/wasm-sqlite.js";

/** One database of {@link EdgeSqlOption}. */
export interface EdgeDatabaseSpec {
  /** Where the database is kept (see KvStore). Default: nowhere, the database lives as long as the kernel. */
  store?: KvStore;
  /** Agents may only read it (SQLITE_READONLY otherwise, `denied`). Needs a store to read from. Default: false. */
  readOnly?: boolean;
}

/** The `sql` option of EdgeKernel. */
export interface EdgeSqlOption {
  /** sqlite.wasm (agent-os/sqlite.wasm), imported as a WebAssembly.Module. */
  sqlite: WasmModule;
  /** Databases by name, as agents name them in `sql.query`. */
  databases: Record<string, EdgeDatabaseSpec>;
  /** The most memory SQLite may allocate for all databases and statements together, in bytes. Default: 32 MiB. */
  memoryBytes?: number;
}

/** The file a database is saved as, in its store. */
const FILE = "database.sqlite";
const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** Each connection's page cache, in KiB: SQLite's allocations are capped for the whole kernel. */
const CACHE_KIB = 1024;

interface Kept {
  name: string;
  spec: EdgeDatabaseSpec;
  /** The kernel's own connection: it reads data_version and serializes. */
  keeper: WasmDatabase;
  volume?: Volume;
  /** data_version when last saved. */
  saved: unknown;
}

/**
 * Checks the option's shape.
 * @throws UsageError naming the field
 */
export function checkEdgeSql(option: EdgeSqlOption | undefined): void {
  if (option === undefined) return;
  if (!option || typeof option !== "object") throw new UsageError("EdgeKernel: sql must be { sqlite, databases }");
  if (!(option.sqlite instanceof (Wasm.Module as unknown as abstract new () => object))) throw new UsageError("EdgeKernel: sql.sqlite must be sqlite.wasm imported as a WebAssembly.Module");
  if (!option.databases || typeof option.databases !== "object") throw new UsageError("EdgeKernel: sql.databases must be { name: { store?, readOnly? } }");
  const stores = new Map<KvStore, string>();
  for (const [name, spec] of Object.entries(option.databases)) {
    if (!NAME.test(name)) throw new UsageError(`EdgeKernel: sql database name ${JSON.stringify(name)} must be letters, digits, _ and - (starting with a letter or _)`);
    if (!spec || typeof spec !== "object") throw new UsageError(`EdgeKernel: sql database ${name} must be { store?, readOnly? }`);
    const { store, readOnly } = spec;
    if (readOnly !== undefined && typeof readOnly !== "boolean") throw new UsageError(`EdgeKernel: sql database ${name}: readOnly must be true or false`);
    if (store === undefined) {
      if (readOnly) throw new UsageError(`EdgeKernel: sql database ${name} is read-only but has no store to read it from`);
      continue;
    }
    if (typeof store?.get !== "function" || typeof store.put !== "function" || typeof store.list !== "function") throw new UsageError(`EdgeKernel: sql database ${name}: store must be a KvStore (get, put, list)`);
    if (stores.has(store)) throw new UsageError(`EdgeKernel: sql databases ${stores.get(store)} and ${name} use the same store`);
    stores.set(store, name);
  }
  const memory = option.memoryBytes;
  if (memory !== undefined && !(Number.isSafeInteger(memory) && memory >= 1024 * 1024)) throw new UsageError("EdgeKernel: sql.memoryBytes must be a number of bytes, at least 1 MiB");
}

/** The kernel's SQLite: its databases, loaded; runs get connections of their own. */
export class EdgeSql {
  private constructor(
    private readonly sqlite: WasmSqlite,
    private readonly kept: Map<string, Kept>,
    private readonly now: () => number,
  ) {}

  /**
   * Instantiates SQLite and loads every database from its store.
   * @throws Error for a store that cannot be read or does not hold a database
   */
  static async load(option: EdgeSqlOption, now: () => number): Promise<EdgeSql> {
    const sqlite = await WasmSqlite.load(option.sqlite, { now, heapLimitBytes: option.memoryBytes });
    const kept = new Map<string, Kept>();
    for (const [name, spec] of Object.entries(option.databases)) {
      const keeper = sqlite.open(`/${name}`, { safeIntegers: true });
      const entry: Kept = { name, spec, keeper, saved: undefined };
      kept.set(name, entry);
      if (spec.store) {
        entry.volume = await Volume.load(spec.store, spec.readOnly === true, now());
        const file = entry.volume.lookup([FILE]);
        if (file?.kind === "file") {
          try {
            keeper.load(await entry.volume.bytesOf(file, FILE));
          } catch (error) {
            throw new Error(`sql database ${name}: its store does not hold a database that opens: ${error instanceof Error ? error.message : String(error)}`);
          }
        }
      }
      entry.saved = dataVersion(keeper);
    }
    return new EdgeSql(sqlite, kept, now);
  }

  /** The sql capability of one run. */
  forRun(limits: Pick<Limits, "sqlTimeout" | "sqlRows" | "sqlWriteBytes">, quota: RunQuota): SqlHost {
    return new RunSql(this, limits, quota);
  }

  /** @internal The run's connections. */
  connections(quota: RunQuota): LocalSql {
    const databases = Object.fromEntries([...this.kept].map(([name, k]) => [name, k.spec]));
    return createSqlConnections({
      databases,
      quota,
      busyTimeout: 0,
      open: (name, spec) => {
        const db = this.sqlite.open(`/${name}`, { readOnly: spec.readOnly === true, safeIntegers: true });
        db.pragma(`cache_size = -${CACHE_KIB}`); // (SQLite's default, 16 MiB a connection, would use up the shared heap)
        return db;
      },
      openScratch: () => this.sqlite.open(":memory:"),
    });
  }

  /** @internal Runs `fn` under the SQL time limit. */
  timed<T>(ms: number, fn: () => T): { value?: T; error?: unknown; timedOut: boolean } {
    return this.sqlite.withDeadline(ms, fn);
  }

  /**
   * @internal Saves a database that changed since it was last saved, unless another
   * connection is writing to it (it is saved when that one commits, or its run ends).
   * @throws GuestError `io` when the store refuses the save
   */
  async save(name: string): Promise<void> {
    const k = this.kept.get(name);
    if (!k?.volume || k.spec.readOnly) return;
    let version: unknown;
    let bytes: Uint8Array;
    try {
      version = dataVersion(k.keeper);
      if (version === k.saved) return;
      // The write lock keeps every other connection between transactions while the bytes are copied.
      k.keeper.prepare("BEGIN IMMEDIATE").run();
    } catch {
      return; // (another connection is writing: saved when it commits, or when its run ends)
    }
    try {
      bytes = k.keeper.serialize();
    } finally {
      k.keeper.prepare("COMMIT").run();
    }
    const volume = k.volume;
    await volume.exclusive(async () => {
      const old = volume.lookup([FILE]);
      const file: VFile = await volume.storeFile(FILE, old?.kind === "file" ? old : undefined, bytes, this.now());
      volume.root.children.set(FILE, file);
      k.saved = version;
    }).catch((error: unknown) => {
      throw guestErrors.io(`database ${name} was changed but could not be saved to its store (${error instanceof Error ? error.message : String(error)}); the change is kept in memory and saved with the next one`);
    });
  }

  /** @internal Every database with a store, saved if it changed. */
  async saveAll(): Promise<void> {
    for (const name of this.kept.keys()) await this.save(name).catch(() => undefined);
  }

  /** Waits for saves in flight, then closes every connection. */
  async close(): Promise<void> {
    await this.saveAll();
    for (const k of this.kept.values()) {
      await k.volume?.idle();
      k.keeper.close();
    }
  }
}

/** One run's sql capability: its own connections, each call under the time limit, saved before it returns. */
class RunSql implements SqlHost {
  private local: LocalSql | undefined;
  private stopped: GuestError | undefined;
  private analyzed: { database: string; statement: string; ms: number } | undefined;

  constructor(
    private readonly sql: EdgeSql,
    private readonly limits: Pick<Limits, "sqlTimeout" | "sqlRows" | "sqlWriteBytes">,
    private readonly quota: RunQuota,
  ) {}

  async analyze(database: string, statement: string): Promise<SqlFacts> {
    this.analyzed = undefined;
    const t0 = performance.now();
    const facts = this.run(this.limits.sqlTimeout, (local) => local.analyze(database, statement));
    this.analyzed = { database, statement, ms: performance.now() - t0 };
    return facts;
  }

  async query(database: string, statement: string, params: SqlValue[]): Promise<QueryResult> {
    const decided = this.analyzed?.database === database && this.analyzed.statement === statement ? this.analyzed : undefined;
    this.analyzed = undefined;
    const budget = Math.max(1, Math.round(this.limits.sqlTimeout - (decided?.ms ?? 0)));
    const result = this.run(budget, (local) => local.query(database, statement, params));
    await this.sql.save(database);
    return result;
  }

  async close(): Promise<void> {
    this.local?.close(); // (a transaction left open is rolled back)
    this.local = undefined;
    this.stopped ??= guestErrors.io("the sql capability is closed");
    await this.sql.saveAll();
  }

  private run<T>(ms: number, fn: (local: LocalSql) => T): T {
    if (this.stopped) throw this.stopped;
    this.local ??= this.sql.connections(this.quota);
    const local = this.local;
    const { value, error, timedOut } = this.sql.timed(ms, () => fn(local));
    if (timedOut) {
      this.stopped = guestErrors.limit(`the statement ran longer than the SQL time limit of ${ms} ms and was interrupted; SQL is stopped for the rest of this run`);
      local.close();
      this.local = undefined;
      throw this.stopped;
    }
    if (error !== undefined) throw outOfMemory(error) ?? error;
    return value as T;
  }
}

/** SQLite's heap limit reached, as the `limit` it is. */
function outOfMemory(error: unknown): GuestError | undefined {
  if (!(error instanceof GuestError) || error.error.tag !== "io" || !String(error.error.val).startsWith("SQLITE_NOMEM")) return undefined;
  return guestErrors.limit("the statement needed more memory than SQLite may use here (EdgeKernel sql.memoryBytes) and was stopped");
}

function dataVersion(db: WasmDatabase): unknown {
  return db.prepare("PRAGMA data_version").pluck().get();
}

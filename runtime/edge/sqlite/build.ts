/**
 * Builds `sqlite.wasm` beside this file: SQLite for agent-os/edge, compiled with Emscripten
 * (`emcc`, Debian's `emscripten` package) from the amalgamation that better-sqlite3 ships, so
 * that the edge runs the very SQLite that Node's kernel runs, and the SQL analyzer reads the same
 * bytecode on both. The glue (aos-sqlite.c) adds a VFS without files and a progress handler that
 * calls the host.
 *
 * The compile options are better-sqlite3's (deps/defines.gypi), except:
 * - the progress handler is compiled in (better-sqlite3 omits it): the edge ends a statement
 *   past its time with it, having no process to kill;
 * - no threads, no files (SQLITE_OS_OTHER; temp tables in memory), no localtime, no extension
 *   loading (nothing to load);
 * - memory statistics on, for the heap limit (sqlite3_hard_heap_limit64).
 *
 * The output's imports are checked (only the glue's three callbacks and Emscripten's memory
 * growth notice), and `sqlite.wasm.sha256` holds its hash. Run with `npm run build:sqlite`
 * (about 40 s). The same inputs and emcc give the same bytes; test/edge/sqlite-build.test.ts
 * rebuilds and compares where emcc is installed.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Wasm } from "../../engines/component/wasm.js";

/** sha256 of the amalgamation this build starts from (better-sqlite3 12.11.1: SQLite 3.53.2). */
export const AMALGAMATION_SHA256 = "60d2f39a3726cd6b9021da6f4e868608d66fbb6528a9f513dc8ffcc640493422";

const HERE = fileURLToPath(new URL("../../../../runtime/edge/sqlite/", import.meta.url));
export const SQLITE_WASM = join(HERE, "sqlite.wasm");

/** better-sqlite3's defines, less SQLITE_OMIT_PROGRESS_CALLBACK, SQLITE_THREADSAFE=2 and SQLITE_DEFAULT_MEMSTATUS=0. */
const BETTER_SQLITE3_DEFINES = [
  "SQLITE_DEFAULT_CACHE_SIZE=-16000",
  "SQLITE_DEFAULT_FOREIGN_KEYS=1",
  "SQLITE_DEFAULT_WAL_SYNCHRONOUS=1",
  "SQLITE_DQS=0",
  "SQLITE_ENABLE_COLUMN_METADATA",
  "SQLITE_ENABLE_DBSTAT_VTAB",
  "SQLITE_ENABLE_DESERIALIZE",
  "SQLITE_ENABLE_FTS3",
  "SQLITE_ENABLE_FTS3_PARENTHESIS",
  "SQLITE_ENABLE_FTS4",
  "SQLITE_ENABLE_FTS5",
  "SQLITE_ENABLE_GEOPOLY",
  "SQLITE_ENABLE_JSON1",
  "SQLITE_ENABLE_MATH_FUNCTIONS",
  "SQLITE_ENABLE_PERCENTILE",
  "SQLITE_ENABLE_RTREE",
  "SQLITE_ENABLE_STAT4",
  "SQLITE_ENABLE_UPDATE_DELETE_LIMIT",
  "SQLITE_LIKE_DOESNT_MATCH_BLOBS",
  "SQLITE_OMIT_DEPRECATED",
  "SQLITE_OMIT_SHARED_CACHE",
  "SQLITE_OMIT_TCL_VARIABLE",
  "SQLITE_SOUNDEX",
  "SQLITE_TRACE_SIZE_LIMIT=32",
  "SQLITE_USE_URI=0",
];

const EDGE_DEFINES = ["SQLITE_OS_OTHER=1", "SQLITE_THREADSAFE=0", "SQLITE_TEMP_STORE=3", "SQLITE_OMIT_LOCALTIME", "SQLITE_OMIT_LOAD_EXTENSION", "SQLITE_DEFAULT_MEMSTATUS=1"];

/** The C functions the binding (wasm-sqlite.ts) calls. */
export const SQLITE_EXPORTS = [
  "malloc",
  "free",
  "sqlite3_initialize",
  "sqlite3_open_v2",
  "sqlite3_close_v2",
  "sqlite3_prepare_v2",
  "sqlite3_stmt_readonly",
  "sqlite3_step",
  "sqlite3_reset",
  "sqlite3_clear_bindings",
  "sqlite3_finalize",
  "sqlite3_bind_null",
  "sqlite3_bind_int64",
  "sqlite3_bind_double",
  "sqlite3_bind_text",
  "sqlite3_bind_blob",
  "sqlite3_bind_parameter_count",
  "sqlite3_bind_parameter_name",
  "sqlite3_column_count",
  "sqlite3_column_name",
  "sqlite3_column_type",
  "sqlite3_column_int64",
  "sqlite3_column_double",
  "sqlite3_column_text",
  "sqlite3_column_blob",
  "sqlite3_column_bytes",
  "sqlite3_errmsg",
  "sqlite3_extended_errcode",
  "sqlite3_get_autocommit",
  "sqlite3_changes64",
  "sqlite3_total_changes64",
  "sqlite3_serialize",
  "sqlite3_deserialize",
  "sqlite3_backup_init",
  "sqlite3_backup_step",
  "sqlite3_backup_finish",
  "sqlite3_malloc64",
  "sqlite3_free",
  "sqlite3_limit",
  "sqlite3_hard_heap_limit64",
  "sqlite3_memory_used",
  "sqlite3_busy_timeout",
  "aos_progress_handler",
  "aos_db_config_int",
];

/** What the output may import: the glue's callbacks, and Emscripten's notice that memory grew. */
export const SQLITE_IMPORTS = ["env.aos_progress", "env.aos_random", "env.aos_now_ms", "env.emscripten_notify_memory_growth"];

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * The environment emcc runs in: this one, without npm's `node_modules/.bin` on the PATH (the
 * binaryen package puts its own wasm-opt there, and emcc would optimize with it under `npm run`
 * and with the system's otherwise: two different outputs from the same inputs).
 */
function toolchainEnv(): Record<string, string | undefined> {
  const path = (process.env.PATH ?? "").split(":").filter((dir) => !/node_modules[\\/]\.bin$/.test(dir));
  return { ...process.env, PATH: path.join(":") };
}

/** A module's imports as `module.name`. */
function moduleImports(bytes: Uint8Array): string[] {
  const api = Wasm.Module as unknown as { imports(m: object): Array<{ module: string; name: string }> };
  return api.imports(new Wasm.Module(bytes)).map((i) => `${i.module}.${i.name}`);
}

/**
 * Compiles sqlite.wasm with emcc and returns its bytes.
 * @throws if emcc is missing, the amalgamation is not the expected one, or the output imports anything else
 */
export function buildSqlite(emcc = "emcc"): Uint8Array {
  const require = createRequire(import.meta.url);
  const deps = join(dirname(require.resolve("better-sqlite3/package.json")), "deps", "sqlite3");
  const source = join(deps, "sqlite3.c");
  if (sha256(readFileSync(source)) !== AMALGAMATION_SHA256) throw new Error(`${source} is not the amalgamation this build expects: update AMALGAMATION_SHA256 and rebuild`);
  const out = mkdtempSync(join(tmpdir(), "agent-os-sqlite-"));
  try {
    const exportsFile = join(out, "exports.json");
    writeFileSync(exportsFile, JSON.stringify(SQLITE_EXPORTS.map((name) => `_${name}`)));
    const wasm = join(out, "sqlite.wasm");
    const defines = [...BETTER_SQLITE3_DEFINES, ...EDGE_DEFINES].map((d) => `-D${d}`);
    const settings = ["STANDALONE_WASM", "WASM_BIGINT", "ALLOW_MEMORY_GROWTH", "MAXIMUM_MEMORY=268435456", "INITIAL_MEMORY=4194304", "TOTAL_STACK=524288", "ERROR_ON_UNDEFINED_SYMBOLS=0", "WARN_ON_UNDEFINED_SYMBOLS=0", `EXPORTED_FUNCTIONS=@${exportsFile}`];
    const args = ["-O2", ...defines, `-I${deps}`, source, join(HERE, "aos-sqlite.c"), "-o", wasm, "--no-entry", ...settings.flatMap((s) => ["-s", s])];
    execFileSync(emcc, args, { stdio: ["ignore", "ignore", "inherit"], env: toolchainEnv() });
    const bytes = readFileSync(wasm);
    const imports = moduleImports(bytes);
    const unexpected = imports.filter((name) => !SQLITE_IMPORTS.includes(name));
    if (unexpected.length > 0) throw new Error(`sqlite.wasm imports what the binding does not give: ${unexpected.join(", ")}`);
    return bytes;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const bytes = buildSqlite(process.env.EMCC ?? "emcc");
  writeFileSync(SQLITE_WASM, bytes);
  writeFileSync(`${SQLITE_WASM}.sha256`, `${sha256(bytes)}\n`);
  console.log(`wrote ${SQLITE_WASM} (${bytes.byteLength} bytes, sha256 ${sha256(bytes)})`);
}

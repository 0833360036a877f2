/**
 * Issue 13, items 6 and 7: table-valued pragma functions and other virtual tables are decided
 * as what they read, a statement SQLite says writes is never a pure read, and a PRAGMA is not
 * applied by analyzing it. Every attack is made by a real agent through a real KernelSpace on a
 * real SQLite file, and the file is checked afterwards.
 */
import Database from "better-sqlite3";
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KernelSpace } from "../../dist/runtime/index.js";
import { analyzeSql } from "../../dist/runtime/hosts/node/sql/sql.js";
import { BASICS, runStatements } from "./sql-agent.js";
import { tempDir } from "./helpers.js";

const SCHEMA = `
CREATE TABLE public(id INTEGER PRIMARY KEY, note TEXT);
CREATE TABLE secrets(id INTEGER PRIMARY KEY, token TEXT, owner INTEGER REFERENCES public(id));
CREATE INDEX secrets_token ON secrets(token);
CREATE TABLE child(id INTEGER PRIMARY KEY, parent INTEGER NOT NULL REFERENCES public(id));
CREATE VIRTUAL TABLE fts USING fts5(token, content='secrets', content_rowid='id');
CREATE VIRTUAL TABLE vocab USING fts5vocab('fts', 'row');
INSERT INTO public(note) VALUES ('hello'), ('world');
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 200) INSERT INTO secrets(token, owner) SELECT 'tok-' || i, 1 FROM n;
INSERT INTO fts(fts) VALUES ('rebuild');
`;

let dir: { path: string; cleanup: () => void };
let file: string;
let kernel: KernelSpace | undefined;

beforeEach(() => {
  dir = tempDir("sql-vtabs");
  file = join(dir.path, "app.db");
  const db = new Database(file);
  db.exec(SCHEMA);
  db.close();
});
afterEach(async () => {
  await kernel?.close();
  kernel = undefined;
  dir.cleanup();
});

function kernelWith(rules: Record<string, unknown>[]): KernelSpace {
  kernel = new KernelSpace({ policy: { version: 1, default: "deny", rules: [BASICS, ...rules] }, log: false, pool: { warm: 1 }, databases: { main: file } });
  return kernel;
}

function inspect<T>(fn: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

describe("eponymous virtual tables are decided as what they read (tables: [public])", () => {
  // Each reads the layout or the content of `secrets` (or everything), or shows host paths.
  const LEAKS = [
    "SELECT * FROM pragma_table_info('secrets')",
    "select name from PRAGMA_TABLE_INFO('SECRETS')",
    `SELECT * FROM "pragma_table_info"('secrets', 'main')`,
    "SELECT * FROM main.pragma_table_info('secrets')",
    "SELECT * FROM pragma_table_info WHERE arg = 'secrets'",
    "SELECT * FROM pragma_table_info AS p WHERE p.arg = 'secrets' AND p.schema = 'main'",
    { sql: "SELECT * FROM pragma_table_info(?)", params: ["secrets"] },
    "SELECT * FROM pragma_table_info('sec' || 'rets')",
    "SELECT s.note, p.name FROM public s, pragma_table_info(s.note) p",
    "SELECT p.name FROM (SELECT 'secrets' AS t) x JOIN pragma_table_info(x.t) p",
    "SELECT * FROM pragma_table_xinfo('secrets')",
    "SELECT * FROM pragma_index_list('secrets')",
    "SELECT * FROM pragma_index_info('secrets_token')",
    "SELECT * FROM pragma_index_xinfo('secrets_token')",
    "SELECT * FROM pragma_foreign_key_list('secrets')",
    "SELECT * FROM pragma_foreign_key_check",
    "SELECT * FROM pragma_integrity_check",
    "SELECT * FROM pragma_quick_check('secrets')",
    "SELECT * FROM pragma_table_list",
    "SELECT * FROM pragma_database_list",
    "SELECT file FROM pragma_database_list WHERE name = 'main'",
    "SELECT * FROM pragma_function_list",
    "SELECT * FROM pragma_module_list",
    "SELECT * FROM pragma_compile_options",
    "SELECT * FROM dbstat",
    "SELECT name, pgsize FROM dbstat WHERE name = 'secrets'",
    "SELECT * FROM fts WHERE fts MATCH 'tok'",
    "SELECT term FROM vocab",
    "WITH c AS (SELECT * FROM pragma_table_info('secrets')) SELECT * FROM c",
    "SELECT (SELECT group_concat(name) FROM pragma_table_info('secrets'))",
    "SELECT * FROM public WHERE id IN (SELECT cid FROM pragma_table_info('secrets'))",
    "SELECT * FROM public UNION ALL SELECT name, type FROM pragma_table_info('secrets')",
    "PRAGMA table_info(secrets)",
    "PRAGMA main.index_list = 'secrets'",
    "PRAGMA database_list",
  ];

  it("denies every spelling, and nothing of secrets or of the host reaches the agent", async () => {
    const policy = kernelWith([{ id: "public-only", action: "sql.query", database: "main", tables: ["public"], effect: "allow" }]);
    const { told } = await runStatements(policy, [...LEAKS, "SELECT note FROM public WHERE id = 1", "SELECT name FROM pragma_table_info('public')"]);
    const leaks = told.slice(0, LEAKS.length);
    leaks.forEach((t, i) => expect(t.tag, JSON.stringify(LEAKS[i])).toBe("denied"));
    for (const t of leaks) expect(JSON.stringify(t)).not.toMatch(/token|owner|tok-|secrets_token|app\.db/);
    // What the rule allows still runs: the policy decides on facts, not on everything.
    expect(told.slice(LEAKS.length)).toEqual([
      { tag: "ok", value: JSON.stringify([["hello"]]) },
      { tag: "ok", value: JSON.stringify([["id"], ["note"]]) },
    ]);
  });

  it("reports the tables each reads, for the policy and the log", () => {
    const db = new Database(file);
    try {
      db.pragma("trusted_schema = OFF");
      const reads = (sql: string) => analyzeSql(db, sql).reads;
      expect(reads("SELECT * FROM pragma_table_info('secrets')")).toEqual(["secrets"]);
      expect(reads("SELECT * FROM pragma_index_info('secrets_token')")).toEqual(["secrets"]);
      expect(reads("SELECT * FROM pragma_table_info(?)")).toEqual(expect.arrayContaining(["public", "secrets", "child", "sqlite_schema"]));
      expect(reads("SELECT * FROM pragma_database_list")).toEqual(["pragma_database_list"]);
      expect(reads("SELECT * FROM pragma_table_list")).toEqual(["sqlite_schema"]);
      expect(reads("SELECT * FROM fts")).toEqual(["fts", "secrets"]);
      expect(reads("SELECT * FROM vocab")).toEqual(["fts", "secrets", "vocab"]);
      expect(reads("SELECT * FROM json_each('[1]')")).toEqual([]);
      expect(analyzeSql(db, "SELECT * FROM pragma_table_info('public')").operations).toEqual(["select", "pragma"]);
    } finally {
      db.close();
    }
  });
});

describe("a select that writes is not a select", () => {
  const OPTIMIZE = [
    "SELECT * FROM pragma_optimize",
    "select * from PRAGMA_OPTIMIZE",
    "SELECT * FROM pragma_optimize(0x10002)",
    "SELECT optimize FROM main.pragma_optimize",
    "SELECT * FROM pragma_optimize WHERE arg = 65538",
    "WITH x AS (SELECT * FROM pragma_optimize) SELECT * FROM x",
    "SELECT (SELECT count(*) FROM pragma_optimize)",
    "SELECT * FROM public WHERE EXISTS (SELECT 1 FROM pragma_optimize)",
    "EXPLAIN QUERY PLAN SELECT * FROM pragma_optimize",
    "PRAGMA optimize",
    "PRAGMA main.optimize(0x10002)",
  ];

  it("the fixture is one pragma_optimize writes to (without the kernel)", () => {
    const copy = join(dir.path, "copy.db");
    copyFileSync(file, copy);
    const db = new Database(copy);
    try {
      db.prepare("SELECT * FROM pragma_optimize(0x10002)").all();
      expect(db.prepare("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'sqlite_stat%'").pluck().get()).toBeGreaterThan(0);
    } finally {
      db.close();
    }
  });

  it("strict denies pragma_optimize in every spelling; sqlite_stat1 never appears and the file is unchanged", async () => {
    const before = readFileSync(file);
    // strict's own 10 s of wall time is not what this test is about (a loaded machine may need more).
    kernel = new KernelSpace({ policy: "strict", log: false, pool: { warm: 1 }, databases: { main: file }, limits: { wallTime: 120_000 } });
    const { told } = await runStatements(kernel, [...OPTIMIZE, "SELECT count(*) FROM public"]);
    told.slice(0, OPTIMIZE.length).forEach((t, i) => expect(t.tag, OPTIMIZE[i]).toBe("denied"));
    expect(told[OPTIMIZE.length]).toEqual({ tag: "ok", value: JSON.stringify([[2]]) });
    expect(inspect((db) => db.prepare("SELECT name FROM sqlite_schema WHERE name LIKE 'sqlite_stat%'").pluck().all())).toEqual([]);
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it("a statement SQLite says is not read-only never passes as a read (header unchanged)", async () => {
    const policy = kernelWith([{ id: "reads", action: "sql.query", operations: ["select", "pragma"], effect: "allow" }]);
    const writes = ["PRAGMA user_version = 7", "pragma main.user_version(8)", "PRAGMA application_id = 9", "PRAGMA auto_vacuum = 1", "PRAGMA incremental_vacuum"];
    const { told } = await runStatements(policy, [...writes, "PRAGMA user_version"]);
    told.slice(0, writes.length).forEach((t, i) => expect(t.tag, writes[i]).toBe("denied"));
    expect(told[writes.length]).toEqual({ tag: "ok", value: JSON.stringify([[0]]) });
    expect(inspect((db) => [db.pragma("user_version", { simple: true }), db.pragma("application_id", { simple: true })])).toEqual([0, 0]);
  });
});

describe("analyzing a PRAGMA applies nothing (SQLite applies many while compiling them)", () => {
  it("a denied PRAGMA leaves the connection as it was", async () => {
    const policy = kernelWith([{ id: "rows", action: "sql.query", operations: ["select", "insert"], tables: ["public", "child"], effect: "allow" }]);
    const { told } = await runStatements(policy, [
      "PRAGMA query_only = ON",
      "INSERT INTO public(note) VALUES ('after query_only')",
      "EXPLAIN PRAGMA query_only = 1",
      "INSERT INTO public(note) VALUES ('after explain')",
      "PRAGMA foreign_keys = OFF",
      "INSERT INTO child(parent) VALUES (999)",
      "pragma ignore_check_constraints(1)",
      "SELECT count(*) FROM public",
    ]);
    expect(told.map((t) => t.tag)).toEqual(["denied", "ok", "denied", "ok", "denied", "io", "denied", "ok"]);
    expect(told[5].reason).toMatch(/FOREIGN KEY/);
    expect(inspect((db) => db.prepare("SELECT count(*) FROM child").pluck().get())).toBe(0);
    expect(told[7].value).toBe(JSON.stringify([[4]]));
  });
});

describe("pragmas that undo a guard of the kernel's are refused whatever the policy", () => {
  it("max_page_count, trusted_schema, writable_schema, journal_mode off or memory", async () => {
    const policy = kernelWith([{ id: "anything", action: "sql.query", effect: "allow" }]);
    const guarded = [
      "PRAGMA max_page_count = 999999999",
      "pragma MAX_PAGE_COUNT(10)",
      "PRAGMA main.max_page_count = 1",
      "PRAGMA temp.max_page_count = 1",
      "PRAGMA trusted_schema = ON",
      "pragma trusted_schema(1)",
      "EXPLAIN PRAGMA trusted_schema = 1",
      "PRAGMA writable_schema = 1",
      "PRAGMA journal_mode = OFF",
      "pragma journal_mode('memory')",
      "PRAGMA main.journal_mode = Memory",
    ];
    const { told } = await runStatements(policy, [...guarded, "PRAGMA trusted_schema", "PRAGMA journal_mode", "PRAGMA main.journal_mode = TRUNCATE"]);
    told.slice(0, guarded.length).forEach((t, i) => expect(t.tag, guarded[i]).toBe("denied"));
    expect(told.slice(guarded.length)).toEqual([
      { tag: "ok", value: JSON.stringify([[0]]) },
      { tag: "ok", value: JSON.stringify([["delete"]]) },
      { tag: "ok", value: JSON.stringify([["truncate"]]) },
    ]);
    expect(inspect((db) => db.pragma("journal_mode", { simple: true }))).toBe("delete");
  });
});

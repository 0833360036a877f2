/**
 * The edge sql (runtime/edge/sql.ts): EdgeKernel runs agents whose SQL goes to SQLite in
 * WebAssembly (runtime/edge/sqlite/sqlite.wasm), in Node. The same scripts run on Node's kernel
 * over SQLite files (better-sqlite3, in the run's SQL process) and must answer the same: the
 * analyzer's facts, the policy's decisions, the capability's refusals, errors and quotas.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EdgeKernel, UsageError, createMemoryBackend, memoryKvStore, verifyChain, type KvStore, type LogBackend } from "../../dist/runtime/edge/index.js";
import type { Limits } from "../../dist/runtime/types.js";
import { kernelFor, moduleAgent, tempDir } from "../kernel/helpers.js";
import { SQL_AGENT_SOURCE, SQL_POLICY } from "./sql-agent.js";

const engine = new WebAssembly.Module(readFileSync("runtime/engines/quickjs-async/engine.wasm"));
const sqlite = new WebAssembly.Module(readFileSync("runtime/edge/sqlite/sqlite.wasm"));
const agent = EdgeKernel.agent("sql-script", SQL_AGENT_SOURCE);

/** One call: database, statement, params (`{ int: "1" }` is a bigint). */
type Call = [string, string, unknown[]?];
type Outcome = [string, ...unknown[]];

function edgeKernel(store: KvStore | undefined, extra: { readOnly?: boolean; memoryBytes?: number; log?: LogBackend } = {}): EdgeKernel {
  return new EdgeKernel({ engine, policy: SQL_POLICY, log: extra.log, sql: { sqlite, memoryBytes: extra.memoryBytes, databases: { main: { store, readOnly: extra.readOnly } } } });
}

async function runOn(kernel: { execute: EdgeKernel["execute"] }, calls: Call[], limits: Partial<Limits> = {}): Promise<Outcome[]> {
  const result = await kernel.execute(agent, JSON.stringify(calls), { limits });
  if (result.status !== "ok") throw new Error(`${result.status}: ${result.error}`);
  return JSON.parse(result.output!);
}

async function onEdge(calls: Call[], limits: Partial<Limits> = {}, store: KvStore = memoryKvStore()): Promise<Outcome[]> {
  const kernel = edgeKernel(store);
  try {
    return await runOn(kernel, calls, limits);
  } finally {
    await kernel.close();
  }
}

const hostDirs = tempDir("agent-os-edge-sql-");
afterAll(() => hostDirs.remove());
let nodeRuns = 0;

async function onNode(calls: Call[], limits: Partial<Limits> = {}): Promise<Outcome[]> {
  const kernel = kernelFor({ policy: SQL_POLICY, databases: { main: { file: join(hostDirs.path, `${nodeRuns++}.db`) } } });
  try {
    return await runOn({ execute: (a, t, o) => kernel.execute(moduleAgent(a.name, SQL_AGENT_SOURCE), t, o) }, calls, limits);
  } finally {
    await kernel.close();
  }
}

/** Runs a script on both kernels; they must answer the same. */
async function same(calls: Call[], limits: Partial<Limits> = {}): Promise<Outcome[]> {
  const edge = await onEdge(calls, limits);
  expect(edge).toEqual(await onNode(calls, limits));
  return edge;
}

const SCHEMA: Call[] = [
  ["main", "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT, score REAL)"],
  ["main", "CREATE TABLE secrets(k TEXT, v TEXT)"],
  ["main", "CREATE TABLE audit(note INTEGER)"],
  ["main", "CREATE TRIGGER keep AFTER INSERT ON notes BEGIN INSERT INTO audit VALUES (new.id); END"],
  ["main", "CREATE VIEW peek AS SELECT * FROM secrets"],
];

describe("edge sql: the same answers as Node's", () => {
  it("decides on the analyzer's facts: tables behind triggers and views, refusals, errors", async () => {
    const out = await same([
      ...SCHEMA,
      ["main", "INSERT INTO secrets VALUES ('k', 'v')"],
      ["main", "INSERT INTO notes(body, score) VALUES (?, ?)", ["first", 1.5]],
      ["main", "DROP TRIGGER keep"],
      ["main", "INSERT INTO notes(body, score) VALUES (?, ?)", ["first", 1.5]],
      ["main", "INSERT INTO notes(id, body) VALUES (?, ?)", [{ int: "9007199254740993" }, "big id"]],
      ["main", "SELECT id, body, score, typeof(score) FROM notes ORDER BY id"],
      ["main", "SELECT * FROM peek"],
      ["main", "/* hidden */ dElEtE FROM secrets"],
      ["main", "SELECT * FROM pragma_table_info('secrets')"],
      ["main", "PRAGMA trusted_schema = ON"],
      ["main", "VACUUM INTO '/tmp/out.db'"],
      ["main", "ATTACH ':memory:' AS other"],
      ["main", "SELECT 1; DROP TABLE notes"],
      ["main", "SELEC 1"],
      ["main", "SELECT * FROM nowhere"],
      ["other", "SELECT 1"],
      ["main", "BEGIN"],
      ["main", "UPDATE notes SET body = 'changed'"],
      ["main", "ROLLBACK"],
      ["main", "SELECT count(*), sum(body = 'changed') FROM notes"],
      ["main", "INSERT INTO notes(id, body) VALUES (1, 'duplicate')"],
      ["main", "EXPLAIN SELECT * FROM secrets"],
      ["main", "DELETE FROM notes WHERE id = 1"],
    ]);
    expect(out.slice(0, 5).every((o) => o[0] === "ok")).toBe(true);
    expect(out[5]).toEqual(["denied", "no-secrets", "secrets stay put"]);
    expect(out[6]).toEqual(["denied", "audit-kept", "the audit is the kernel's"]); // (through the trigger)
    expect(out[10][1]).toContain('[[1,"first",1.5,"real"],["n9007199254740993","big id",null,"null"]]');
    for (const i of [11, 12, 13, 26]) expect(out[i][1], String(i)).toBe("no-secrets");
    for (const i of [14, 15, 16]) expect(out[i].slice(0, 2), String(i)).toEqual(["denied", null]);
    for (const i of [17, 18, 19]) expect(out[i][0], String(i)).toBe("invalid");
    expect(out[20][0]).toBe("not-found");
    expect(out[24][1]).toContain("[[2,0]]");
    expect(out[25][0]).toBe("io");
    expect(out[27][1]).toContain('"changes":1');
  });

  it("keeps the run's write quota and row limit", async () => {
    const out = await same(
      [
        ["main", "CREATE TABLE t(b BLOB)"],
        ["main", "INSERT INTO t VALUES (randomblob(200000))"],
        ["main", "SELECT count(*) FROM t"],
        ["main", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 50) SELECT x FROM c"],
      ],
      { sqlWriteBytes: 64 * 1024, sqlRows: 20 },
    );
    expect(out[1][0]).toBe("limit");
    expect(out[2][1]).toContain("[[0]]");
    expect(out[3][0]).toBe("limit");
  });
});

describe("edge sql: the host's store", () => {
  it("saves every committed change before the call returns, and the next kernel loads it", async () => {
    const store = memoryKvStore();
    await onEdge([...SCHEMA, ["main", "DROP TRIGGER keep"], ["main", "INSERT INTO notes(body) VALUES ('kept')"], ["main", "BEGIN"], ["main", "INSERT INTO notes(body) VALUES ('left open')"]], {}, store);
    const keys = (await store.list({ start: "", end: "\uffff" })).map(([k]) => k);
    expect(keys).toContain("m!database.sqlite");
    const out = await onEdge([["main", "SELECT body FROM notes"], ["main", "SELECT name FROM sqlite_schema ORDER BY name"]], {}, store);
    expect(out[0][1]).toContain('"rows":[["kept"]]');
    expect(out[1][1]).toContain('"rows":[["audit"],["notes"],["peek"],["secrets"]]');
  });

  it("refuses writes to a read-only database and leaves its store as it was", async () => {
    const store = memoryKvStore();
    await onEdge([["main", "CREATE TABLE t(x)"], ["main", "INSERT INTO t VALUES (1)"]], {}, store);
    const before = await store.list({ start: "", end: "\uffff" });
    const kernel = edgeKernel(store, { readOnly: true });
    try {
      const out = await runOn(kernel, [["main", "INSERT INTO t VALUES (2)"], ["main", "DROP TABLE t"], ["main", "SELECT x FROM t"]]);
      expect(out[0]).toEqual(["denied", null, "database main is read-only"]);
      expect(out[1][0]).toBe("denied");
      expect(out[2][1]).toContain('"rows":[[1]]');
    } finally {
      await kernel.close();
    }
    expect(await store.list({ start: "", end: "\uffff" })).toEqual(before);
  });
});

describe("edge sql: limits on the host's thread", () => {
  it("interrupts a runaway statement at the SQL time limit, stops the run's SQL, and answers the neighbour", async () => {
    const kernel = edgeKernel(undefined);
    try {
      const runaway = kernel.execute(agent, JSON.stringify([["main", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"], ["main", "SELECT 1"]]), { limits: { sqlTimeout: 300 } });
      const neighbour = kernel.execute(agent, JSON.stringify([["main", "CREATE TABLE n(x)"], ["main", "INSERT INTO n VALUES (1)"], ["main", "SELECT x FROM n"]]));
      const [r, n] = await Promise.all([runaway, neighbour]);
      const out = JSON.parse(r.output!) as Outcome[];
      expect(out[0][0]).toBe("limit");
      expect(out[0][1]).toMatch(/SQL time limit of \d+ ms/);
      expect(out[1]).toEqual(out[0]);
      expect(JSON.parse(n.output!)[2][1]).toContain('"rows":[[1]]');
    } finally {
      await kernel.close();
    }
  });

  it("stops a statement past SQLite's memory cap with limit, and the run goes on", async () => {
    const kernel = edgeKernel(undefined, { memoryBytes: 8 * 1024 * 1024 });
    try {
      const out = await runOn(kernel, [["main", "SELECT length(randomblob(20000000))"], ["main", "SELECT 2"]]);
      expect(out[0][0]).toBe("limit");
      expect(out[1][1]).toContain('"rows":[[2]]');
    } finally {
      await kernel.close();
    }
  });
});

describe("edge sql: the log", () => {
  it("records every decision; the chain verifies and the run replays identically", async () => {
    const backend = createMemoryBackend();
    const kernel = edgeKernel(undefined, { log: backend });
    try {
      const result = await kernel.execute(agent, JSON.stringify([...SCHEMA, ["main", "INSERT INTO notes(body) VALUES ('x')"], ["main", "SELECT * FROM secrets"]]));
      expect(result.status).toBe("ok");
      const rules: unknown[] = [];
      for await (const e of (await kernel.log).query({ runId: result.runId })) if (e.type === "call" && e.data.action === "sql.query") rules.push((e.data.decision as { rule?: string })?.rule);
      expect(rules).toEqual(["setup", "setup", "setup", "setup", "setup", "audit-kept", "no-secrets"]);
      const report = await verifyChain(backend);
      expect(report.ok).toBe(true);
      const replay = await kernel.replay({ runId: result.runId });
      expect(replay.status).toBe("identical");
      expect(replay.output).toBe(result.output);
    } finally {
      await kernel.close();
    }
  });
});

describe("edge sql: options", () => {
  it("refuses what cannot work, naming it", () => {
    const store = memoryKvStore();
    const bad: Array<[unknown, RegExp]> = [
      [{ sqlite: new Uint8Array(1), databases: {} }, /sql.sqlite must be sqlite.wasm/],
      [{ sqlite, databases: { "bad name": {} } }, /sql database name "bad name"/],
      [{ sqlite, databases: { main: { readOnly: true } } }, /main is read-only but has no store/],
      [{ sqlite, databases: { a: { store }, b: { store } } }, /a and b use the same store/],
      [{ sqlite, databases: {}, memoryBytes: 10 }, /memoryBytes/],
    ];
    for (const [sql, message] of bad) expect(() => new EdgeKernel({ engine, policy: SQL_POLICY, sql: sql as never })).toThrowError(message);
    expect(() => new EdgeKernel({ engine, policy: SQL_POLICY, sql: { sqlite, databases: { main: { store } } }, fs: { mounts: { "/w": { store } } } })).toThrowError(UsageError);
  });
});

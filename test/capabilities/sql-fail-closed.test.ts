/**
 * The gate fails closed when the SQL process does: a process that dies, says nothing, or
 * answers junk (a real process speaking the protocol wrongly) never gets a call decided on
 * wrong facts or answered with a wrong result, and its run's SQL stays stopped.
 */
import Database from "better-sqlite3";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { handleCall, type GateRun } from "../../dist/runtime/gate.js";
import { openLog } from "../../dist/runtime/episodic/index.js";
import { SqlProcessPool } from "../../dist/runtime/hosts/node/sql/sql-process.js";
import { createRunSql } from "../../dist/runtime/hosts/node/sql/sql-run.js";
import { KernelSpace, loadPolicy, DEFAULT_LIMITS, type KernelLog } from "../../dist/runtime/index.js";
import { BASICS, sqlAgent, type Told } from "./sql-agent.js";
import { gone, lockHolders, sqlChildren } from "./sql-processes.js";
import { tempDir } from "./helpers.js";

let dir: { path: string; cleanup: () => void };
let file: string;

beforeEach(() => {
  dir = tempDir("sql-fail-closed");
  file = join(dir.path, "app.db");
  new Database(file).close();
});
afterEach(() => dir.cleanup());

describe("a run's SQL process that dies", () => {
  it("killed from outside mid-statement: the call fails, the run's later calls fail, the run goes on", async () => {
    const kernel = new KernelSpace({ policy: { version: 1, default: "deny", rules: [BASICS, { action: "sql.query", effect: "allow" }] }, log: false, databases: { main: file }, limits: { sqlTimeout: 120_000 } });
    try {
      const runaway = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 400000000) SELECT count(*) FROM c";
      const proc = kernel.spawn(kernel.register(sqlAgent), JSON.stringify({ statements: [runaway, "SELECT 1"] }));
      // The run's SQL process is the one of ours holding a lock on the database (mid-statement).
      let pid: number | undefined;
      for (let i = 0; i < 600 && pid === undefined; i++) {
        const ours = new Set(sqlChildren());
        pid = lockHolders(file).find((p) => ours.has(p));
        if (pid === undefined) await new Promise((r) => setTimeout(r, 50));
      }
      expect(pid).toBeDefined();
      process.kill(pid!, "SIGKILL");
      const result = await proc.wait();
      expect(result.status).toBe("ok");
      const told = JSON.parse(result.output!) as Told[];
      expect(told).toEqual([
        { tag: "io", reason: "the SQL process ended unexpectedly; SQL is stopped for the rest of this run" },
        { tag: "io", reason: "the SQL process ended unexpectedly; SQL is stopped for the rest of this run" },
      ]);
      expect(gone(pid!)).toBe(true);
    } finally {
      await kernel.close();
    }
  }, 120_000);
});

describe("a kernel that dies", () => {
  it("its SQL processes end too, runaway statement and all (no orphan keeps a core)", async () => {
    const parent = spawn(process.execPath, [fileURLToPath(new URL("./sql-orphan-parent.mjs", import.meta.url)), file], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    parent.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    await new Promise((resolve) => parent.on("close", resolve));
    const pid = Number(out.trim());
    expect(pid).toBeGreaterThan(0);
    let ended = false;
    for (let i = 0; i < 150 && !ended; i++) {
      ended = gone(pid);
      if (!ended) await new Promise((r) => setTimeout(r, 20));
    }
    if (!ended) process.kill(pid, "SIGKILL");
    expect(ended).toBe(true);
  }, 60_000);
});

describe("a SQL process that answers junk", () => {
  let pool: SqlProcessPool;
  let log: KernelLog;
  beforeEach(async () => {
    pool = new SqlProcessPool({ warm: 0, entry: new URL("./sql-junk-child.mjs", import.meta.url) });
    log = await openLog(false);
  });
  afterEach(async () => {
    await pool.close();
    await log.close();
  });

  /** A gate run whose sql capability is served by the junk process; the policy allows every select. */
  function gateRun(limits = { ...DEFAULT_LIMITS }): GateRun {
    const sql = createRunSql({ databases: { main: { file } }, limits, pool });
    return {
      runId: "run-junk",
      pid: 1,
      agent: "junk",
      task: "",
      limits,
      policy: loadPolicy({ default: "deny", rules: [{ action: "sql.query", operations: ["select"], effect: "allow" }] }),
      log,
      capabilities: { sql, startedNs: 0n, now: Date.now, checkpoint: async () => 0, authorizeHop: async () => false, close: () => sql.close() },
      hostCalls: 0,
      denials: [],
      terminating: false,
      stop: () => undefined,
      kill: () => undefined,
    };
  }

  const call = (run: GateRun, statement: string) => handleCall(run, { op: "sql.query", args: ["main", statement, []] });

  it("the control: a well-formed answer is decided and carried out", async () => {
    const run = gateRun();
    expect(await call(run, "SELECT 1")).toEqual({ ok: { columns: [], rows: [], changes: 0n } });
    expect(await call(run, "SELECT 2")).toMatchObject({ ok: {} });
    run.capabilities.close();
  });

  it.each([
    "facts of another statement",
    "an unknown operation",
    "no operations",
    "tables that are not strings",
    "a number",
    "another id",
    "not a reply",
    "an error that is not one",
    "die",
  ])("analysis answered with %s: refused before any decision, and SQL stays stopped", async (statement) => {
    const run = gateRun();
    const reply = await call(run, statement);
    expect(reply).toMatchObject({ err: { tag: "io" } });
    expect(await call(run, "SELECT 1")).toMatchObject({ err: { tag: "io" } });
    const events = [];
    for await (const e of log.query({ runId: "run-junk", type: "call" })) events.push(e.data as { decision: { effect: string }; invalid?: string });
    expect(events).toHaveLength(2);
    for (const e of events) expect(e).toMatchObject({ decision: { effect: "deny" }, invalid: expect.any(String) });
    run.capabilities.close();
  });

  it.each(["rows of numbers", "no changes"])("a result answered with %s: the call fails, nothing reaches the agent", async (statement) => {
    const run = gateRun();
    expect(await call(run, statement)).toMatchObject({ err: { tag: "io", val: expect.stringMatching(/not an answer/) } });
    run.capabilities.close();
  });

  it("a process that says nothing: the time limit ends it", async () => {
    const run = gateRun({ ...DEFAULT_LIMITS, sqlTimeout: 500 });
    expect(await call(run, "silence")).toMatchObject({ err: { tag: "limit" } });
    run.capabilities.close();
  });
});

/**
 * `agent-os policy suggest`: a run recorded under the audit profile against a real workspace,
 * database and local HTTP server; the suggested policy loads with the project's loader, allows
 * every call the run made, denies calls outside it, and runs the agent again without a denial.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../dist/runtime/cli/main.js";
import type { CliIo } from "../../dist/runtime/cli/io.js";
import { sqlAnalyzer } from "../../dist/runtime/cli/replay.js";
import { openLogReader } from "../../dist/runtime/hosts/node/log/reader.js";
import { canonicalRequest } from "../../dist/runtime/policy/index.js";
import { KernelSpace, loadPolicy, observeRuns, resolvePolicy, suggestPolicy, type LoggedEvent, type Policy, type RunResult } from "../../dist/runtime/index.js";
import { makeWorld, type World } from "./world.js";

async function worker(origin: string, { fs, http, sql, log }: any) {
  const notes = await fs.readText("/workspace/notes.txt");
  await fs.mkdir("/workspace/out", { recursive: true });
  for (let i = 0; i < 5; i++) await fs.write(`/workspace/out/part-${i}.txt`, String(i));
  await fs.write("/workspace/report.txt", `${notes.length}\n`);
  await http.fetch(`${origin}/v1/items?page=1`);
  await http.fetch(`${origin}/v1/items?page=2`);
  await http.fetch(`${origin}/v1/users/7`, { method: "POST" });
  await sql.query("main", "SELECT name FROM users WHERE id = ?", [1]);
  await sql.query("main", "INSERT INTO summaries (path, words) VALUES (?, ?)", ["/workspace/notes.txt", 3]);
  await log.info("done");
  return "ok";
}

function capture(): CliIo & { out: string; err: string } {
  const io = { out: "", err: "", isTTY: false, stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
  return io;
}

let world: World;
let audited: RunResult;
let standard: RunResult;
let calls: LoggedEvent[];
let analyzer: NonNullable<ReturnType<typeof sqlAnalyzer>>;

function kernelFor(policy: string, logDir: string | false): KernelSpace {
  return new KernelSpace({
    policy,
    log: logDir === false ? false : { dir: logDir },
    mounts: { "/workspace": world.workspace },
    databases: { main: world.dbFile },
    allowPrivate: ["127.0.0.1"],
    pool: { warm: 1 },
  });
}

/** The request the gate made for a recorded call, with SQL facts from the database. */
function requestOf(e: LoggedEvent) {
  const d = e.data as { action: string; resource: string; method?: string; args: unknown[] };
  const sql = d.action === "sql.query" ? analyzer.analyze("main", d.args[1] as string) : undefined;
  return canonicalRequest(d.action, d.resource, { method: d.method, sql });
}

beforeAll(async () => {
  world = await makeWorld("agent-os-suggest-");
  const kernel = kernelFor("audit", world.logDir);
  try {
    audited = await kernel.execute(kernel.register(worker as never), world.origin);
  } finally {
    await kernel.close();
  }
  const other = kernelFor("standard", world.logDir);
  try {
    standard = await other.execute(await other.load("examples/hello/agent.js"), "x");
  } finally {
    await other.close();
  }
  const log = await openLogReader(world.logDir);
  calls = [];
  for await (const e of log.query({ runId: audited.runId, type: "call" })) calls.push(e);
  await log.close();
  analyzer = sqlAnalyzer({ main: { file: world.dbFile, readOnly: true } })!;
}, 60_000);

afterAll(async () => {
  analyzer?.close();
  await world?.remove();
});

describe("policy suggest", () => {
  let yaml: string;
  let policy: Policy;
  /** The observed calls with their recorded SQL facts taken away, as a log written before calls recorded them. */
  let bare: Awaited<ReturnType<typeof observeRuns>>["calls"];
  beforeAll(async () => {
    const log = await openLogReader(world.logDir);
    try {
      const observed = await observeRuns(log, [audited.runId], { analyzeSql: analyzer.analyze });
      expect(observed.runs).toMatchObject([{ runId: audited.runId, agent: "worker", policy: "audit", calls: calls.length, refused: 0 }]);
      yaml = suggestPolicy(observed.calls, { name: "worker-least" }).yaml;
      bare = (await observeRuns(log, [audited.runId])).calls.map(({ sql: _facts, ...call }) => call);
    } finally {
      await log.close();
    }
    policy = loadPolicy(yaml);
  });

  it("recorded the run under audit, every call carried out", () => {
    expect(audited).toMatchObject({ status: "ok", output: "ok", denials: [] });
    expect(calls.length).toBe(14);
  });

  it("writes a policy the project's loader loads, collapsing only above the threshold", () => {
    expect(policy.name).toBe("worker-least");
    expect(policy.defaultEffect).toBe("deny");
    expect(yaml).toContain('resource: ["/workspace/out/*", "/workspace/report.txt"]');
    expect(yaml).toContain('resource: ["/workspace/notes.txt"]');
    expect(yaml).toContain(`resource: ["${world.origin}/v1/items[?]page=1", "${world.origin}/v1/items[?]page=2"]`);
    expect(yaml).toMatch(/methods: \["POST"\]/);
    expect(yaml).toMatch(/operations: \["select"\]\n    tables: \["users"\]/);
    expect(yaml).toMatch(/operations: \["insert"\]\n    tables: \["summaries"\]/);
    expect(yaml).not.toMatch(/random|clock/);
  });

  it("allows every recorded call", () => {
    for (const e of calls) expect([e.seq, policy.decide(requestOf(e)).effect]).toEqual([e.seq, "allow"]);
  });

  it("denies calls outside what the run did", () => {
    const sql = (statement: string) => canonicalRequest("sql.query", "main", { sql: analyzer.analyze("main", statement) });
    const outside = [
      canonicalRequest("fs.read", "/workspace/secret.txt"),
      canonicalRequest("fs.write", "/workspace/notes.txt"),
      canonicalRequest("fs.write", "/workspace/out/sub/deeper.txt"),
      canonicalRequest("fs.remove", "/workspace/report.txt"),
      canonicalRequest("http.fetch", `${world.origin}/v1/items?page=3`, { method: "GET" }),
      canonicalRequest("http.fetch", `${world.origin}/v1/items?page=1`, { method: "DELETE" }),
      canonicalRequest("http.fetch", "https://example.com/v1/items?page=1", { method: "GET" }),
      sql("DELETE FROM users"),
      sql("SELECT * FROM summaries"),
      sql("INSERT INTO users (name) VALUES ('eve')"),
      canonicalRequest("random.bytes", ""),
      canonicalRequest("log.write", "error"),
    ];
    for (const request of outside) expect([request.action, request.resource, policy.decide(request).effect]).toEqual([request.action, request.resource, "deny"]);
    // A new file in the collapsed directory is the one widening, by design.
    expect(policy.decide(canonicalRequest("fs.write", "/workspace/out/part-9.txt")).effect).toBe("allow");
  });

  it("through the command: -o FILE, then the agent runs under it without a denial", async () => {
    const out = join(world.dir, "suggested.yaml");
    const io = capture();
    // No --db: the SQL facts come from the log, recorded with each call.
    expect(await main(["policy", "suggest", audited.runId, "--log", world.logDir, "-o", out], io)).toBe(0);
    expect(io.err).toMatch(/^wrote .*suggested\.yaml: \d+ rules from 14 calls of 1 run/);
    const text = readFileSync(out, "utf8");
    expect(text).toMatch(new RegExp(`^# Suggested by agent-os policy suggest from 1 recorded run:\\n#   ${audited.runId}  agent worker, .*policy audit, 14 calls`));
    expect(resolvePolicy(out).name).toBe("suggested-worker");
    const check = capture();
    expect(await main(["policy", "check", out], check)).toBe(0);

    const kernel = kernelFor(out, false);
    try {
      const again = await kernel.execute(kernel.register(worker as never), world.origin);
      expect(again).toMatchObject({ status: "ok", output: "ok", denials: [] });
    } finally {
      await kernel.close();
    }
  });

  it("--collapse N raises the threshold; SQL tables come from the facts recorded with the calls", async () => {
    const io = capture();
    expect(await main(["policy", "suggest", audited.runId, "--log", world.logDir, "--collapse", "10"], io)).toBe(0);
    expect(io.out).toContain('"/workspace/out/part-0.txt", "/workspace/out/part-1.txt"');
    expect(io.out).toMatch(/operations: \["select"\]\n    tables: \["users"\]/);
    expect(io.out).not.toMatch(/operations guessed/);
  });

  it("for calls recorded without SQL facts and no database, each statement is pinned by its exact text (said in the file)", async () => {
    const text = suggestPolicy(bare, { name: "bare" }).yaml;
    expect(text).toMatch(/# recorded without SQL facts: this statement only/);
    expect(text).toContain('pattern: "^SELECT name FROM users WHERE id = \\\\?$"');
    const pinned = loadPolicy(text);
    const decide = (statement: string) => pinned.decide(canonicalRequest("sql.query", "main", { sql: analyzer.analyze("main", statement) })).effect;
    expect(decide("SELECT name FROM users WHERE id = ?")).toBe("allow");
    expect(decide("select   name from users /* x */ where id = ?")).toBe("allow"); // one canonicalizer: the same statement
    for (const wider of ["DELETE FROM users", "SELECT * FROM users", "SELECT name FROM users", "SELECT name FROM users WHERE id = ? OR 1", "SELECT * FROM summaries"]) expect(decide(wider), wider).toBe("deny");
  });

  it("refuses runs not recorded under audit unless --any-policy; exit 2 for an unknown run or no run", async () => {
    let io = capture();
    expect(await main(["policy", "suggest", standard.runId, "--log", world.logDir], io)).toBe(2);
    expect(io.err).toContain(`${standard.runId} (policy standard) was not recorded under the audit profile`);
    io = capture();
    expect(await main(["policy", "suggest", audited.runId, standard.runId, "--log", world.logDir, "--any-policy"], io)).toBe(0);
    expect(io.out).toContain('action: "log.write"');
    io = capture();
    expect(await main(["policy", "suggest", "no-such-run", "--log", world.logDir], io)).toBe(2);
    expect(io.err).toMatch(/there is no run no-such-run/);
    io = capture();
    expect(await main(["policy", "suggest", "--log", world.logDir], io)).toBe(2);
    expect(io.err).toMatch(/name at least one run id/);
  });
});

/** An agent that needs no table at all, and checkpoints once. */
async function narrow(_task: string, { sql, process: proc }: any) {
  const one = await sql.query("main", "SELECT 1 AS one");
  await proc.checkpoint("before");
  return String(one.rows[0][0]);
}

/** The same, then what the narrow run never did: read a table, checkpoint under another label. */
async function wider(_task: string, { sql, process: proc }: any) {
  const told: string[] = [];
  for (const step of [() => sql.query("main", "SELECT 1 AS one"), () => proc.checkpoint("before"), () => sql.query("main", "SELECT name FROM users"), () => sql.query("main", "SELECT 1 FROM users LIMIT 1"), () => proc.checkpoint("after")]) {
    try {
      await step();
      told.push("ok");
    } catch (error) {
      told.push((error as { name?: string }).name === "PermissionDenied" ? "denied" : `error: ${String(error)}`);
    }
  }
  return told.join(",");
}

describe("policy suggest never allows more than the recorded calls needed", () => {
  it("a run that read no table gets tables: [] and exact checkpoint labels; the policy runs it and denies a wider one", async () => {
    const kernel = kernelFor("audit", world.logDir);
    let recorded: RunResult;
    try {
      recorded = await kernel.execute(kernel.register(narrow as never), "");
    } finally {
      await kernel.close();
    }
    expect(recorded).toMatchObject({ status: "ok", output: "1", denials: [] });
    const log = await openLogReader(world.logDir);
    let yaml: string;
    try {
      yaml = suggestPolicy((await observeRuns(log, [recorded.runId])).calls, { name: "narrow" }).yaml;
    } finally {
      await log.close();
    }
    const file = join(world.dir, "narrow.yaml");
    writeFileSync(file, yaml);
    const strict = kernelFor(file, false);
    try {
      expect(await strict.execute(strict.register(narrow as never), "")).toMatchObject({ status: "ok", output: "1", denials: [] });
      const again = await strict.execute(strict.register(wider as never), "");
      expect(again.output).toBe("ok,ok,denied,denied,denied");
      expect(again.denials.map((d) => d.action)).toEqual(["sql.query", "sql.query", "process.checkpoint"]);
    } finally {
      await strict.close();
    }
    expect(yaml).toMatch(/operations: \["select"\]\n    tables: \[\]/);
    expect(yaml).toMatch(/action: "process.checkpoint"\n    resource: \["before"\]/);
  });

  it("tables: [] loads and allows exactly the statements that touch no table", () => {
    const policy = loadPolicy({ rules: [{ id: "no-table", action: "sql.query", database: "main", tables: [], effect: "allow" }] });
    const decide = (statement: string) => policy.decide(canonicalRequest("sql.query", "main", { sql: analyzer.analyze("main", statement) })).effect;
    expect(decide("SELECT 1")).toBe("allow");
    expect(decide("SELECT abs(-2), 'x' || 'y'")).toBe("allow");
    for (const statement of ["SELECT * FROM users", "SELECT (SELECT count(*) FROM users)", "SELECT * FROM pragma_table_info('users')", "SELECT * FROM sqlite_schema"]) {
      expect(decide(statement), statement).toBe("deny");
    }
  });
});

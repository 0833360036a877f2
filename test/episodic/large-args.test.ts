/**
 * Large arguments are recorded by size and hash: a real agent under `strict` makes 20 refused
 * calls with 8 MiB arguments (every kind of argument: text, bytes, paths, URLs, headers, bodies,
 * statements, SQL parameters, database names, checkpoint labels) through a real kernel with a
 * LevelDB log, and the log directory grows by far less than one argument. The run still replays
 * identically, a replay in which one argument differs diverges at that call, and counterfactual
 * replay and `policy suggest` still work from what is recorded beside the arguments.
 */
import { readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../dist/runtime/cli/main.js";
import type { CliIo } from "../../dist/runtime/cli/io.js";
import { openLogReader } from "../../dist/runtime/hosts/node/log/reader.js";
import { KernelSpace, openLog, redecideRun, type LoggedEvent, type RunResult } from "../../dist/runtime/index.js";
import { editRecord, makeWorld, sha256, type World } from "./world.js";

const MiB = 1024 * 1024;

/** 20 refused calls, each with an argument of 8 MiB made from the seed file's first character; then a refused 8 KB statement and two allowed calls. */
async function bigArgs(origin: string, { fs, http, sql, log, process }: any) {
  const seed = (await fs.readText("/workspace/seed.txt")).trim();
  const big = seed.repeat(8 * 1024 * 1024);
  const bytes = new Uint8Array(8 * 1024 * 1024).fill(seed.charCodeAt(0));
  const headers: Record<string, string> = {};
  for (let i = 0; i < 8192; i++) headers["x-h" + i] = seed.repeat(1024);
  const calls: [string, () => Promise<unknown>][] = [
    ["write text", () => fs.write("/workspace/a.txt", big)],
    ["write bytes", () => fs.write("/workspace/b.bin", bytes)],
    ["append text", () => fs.write("/workspace/a.txt", big, { append: true })],
    ["write under a long path", () => fs.write("/workspace/" + seed.repeat(4000), big)],
    ["read a long path", () => fs.read("/workspace/" + big)],
    ["read text at a long path", () => fs.readText("/workspace/" + big)],
    ["stat a long path", () => fs.stat("/workspace/" + big)],
    ["list a long path", () => fs.list("/workspace/" + big)],
    ["remove a long path", () => fs.remove("/workspace/" + big, { recursive: true })],
    ["mkdir a long path", () => fs.mkdir("/workspace/" + big, { recursive: true })],
    ["fetch a long URL", () => http.fetch(origin + "/" + big)],
    ["post a text body", () => http.fetch(origin + "/upload", { method: "POST", body: big })],
    ["post a bytes body", () => http.fetch(origin + "/upload", { method: "PUT", body: bytes })],
    ["one long header", () => http.fetch(origin + "/h", { headers: { "x-big": big } })],
    ["8192 headers of 1 KiB", () => http.fetch(origin + "/h", { headers })],
    ["a long statement", () => sql.query("main", "DELETE FROM users WHERE name = '" + big + "'")],
    ["a long parameter", () => sql.query("main", "INSERT INTO users (name) VALUES (?)", [big])],
    ["a long bytes parameter", () => sql.query("main", "INSERT INTO users (name) VALUES (?)", [bytes])],
    ["a long database name", () => sql.query(big, "SELECT 1")],
    ["a long checkpoint label", () => process.checkpoint(big)],
  ];
  const outcomes: string[] = [];
  for (const [name, call] of calls) {
    try {
      await call();
      outcomes.push(name + ": carried out");
    } catch (e: any) {
      outcomes.push(name + ": " + (e.name === "PermissionDenied" ? "denied" : e.kind ?? e.message));
    }
  }
  // A statement under 64 KiB is kept whole, refused or not: counterfactual replay reads its facts.
  try {
    await sql.query("main", "INSERT INTO users (name) VALUES ('" + seed.repeat(8000) + "')");
  } catch (e: any) {
    outcomes.push("an 8 KB statement: " + (e.name === "PermissionDenied" ? "denied" : e.kind ?? e.message));
  }
  // Allowed under strict, and recorded by size and hash all the same.
  await log.info(big);
  const length = await sql.query("main", "SELECT length(?) AS n", [big]);
  return JSON.stringify({ outcomes, selected: length.rows[0][0] });
}

/** Everything in a directory, in bytes. */
function sizeOf(dir: string): number {
  return readdirSync(dir).reduce((n, name) => n + statSync(join(dir, name)).size, 0);
}

function capture(): CliIo & { out: string; err: string } {
  const io = { out: "", err: "", isTTY: false, stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
  return io;
}

let world: World;
let run: RunResult;
let grew = 0;
let events: LoggedEvent[] = [];

beforeAll(async () => {
  world = await makeWorld("agent-os-large-args-");
  writeFileSync(join(world.workspace, "seed.txt"), "a\n");
  // strict, with the time to move 20 arguments of 8 MiB on a busy machine: the run's wall time,
  // and each statement's (the analysis of an 8 MiB statement or parameter took over the default
  // 5 s under a loaded CI run)
  const policy = join(world.dir, "strict-long.yaml");
  writeFileSync(policy, "version: 1\nname: strict-long\nextends: [strict]\nlimits:\n  wallTime: 150s\n  sqlTimeout: 60s\n  memory: 768MiB\n");
  const kernel = new KernelSpace({
    policy,
    log: { dir: world.logDir },
    mounts: { "/workspace": world.workspace },
    databases: { main: world.dbFile },
    allowPrivate: ["127.0.0.1"],
    pool: { warm: 1 },
  });
  try {
    await kernel.execute(kernel.register(async function warm() {
      return "warm";
    } as never), "");
    const before = sizeOf(world.logDir);
    run = await kernel.execute(kernel.register(bigArgs as never), world.origin);
    grew = sizeOf(world.logDir) - before;
  } finally {
    await kernel.close();
  }
  const log = await openLog({ dir: world.logDir });
  for await (const e of log.query({ runId: run.runId })) events.push(e);
  await log.close();
}, 180_000);

afterAll(async () => {
  await world?.remove();
});

describe("large arguments are recorded by size and hash", () => {
  it("the agent's 20 calls were all refused, and nothing reached the host", () => {
    expect(run, JSON.stringify({ ...run, output: run.output?.slice(0, 500) })).toMatchObject({ status: "ok" });
    const { outcomes, selected } = JSON.parse(run.output!) as { outcomes: string[]; selected: number };
    expect(outcomes).toHaveLength(21);
    for (const o of outcomes) expect(o).toMatch(/: (denied|invalid|not-found)$/);
    expect(selected).toBe(8 * MiB);
    expect(world.hits()).toBe(0);
    expect(readdirSync(world.workspace)).toEqual(["notes.txt", "seed.txt"]);
  });

  it("the log directory grew by far less than one argument (under 1 MiB for all 23 calls)", () => {
    expect(grew).toBeGreaterThan(0);
    expect(grew, `the log grew by ${grew} bytes`).toBeLessThan(MiB);
  });

  it("each call event is small, and holds each large argument as its size and sha256", () => {
    const calls = events.filter((e) => e.type === "call");
    expect(calls.length).toBe(24);
    for (const c of calls) expect(JSON.stringify(c).length).toBeLessThan(c.data.action === "sql.query" ? 20 * 1024 : 8 * 1024);
    const big = "a".repeat(8 * MiB);
    const writeText = calls.find((c) => c.data.op === "fs.write-text" && c.data.resource === "/workspace/a.txt")!;
    expect(writeText.data.args).toEqual(["/workspace/a.txt", { chars: 8 * MiB, sha256: sha256(big) }, false]);
    expect(writeText.data.decision).toMatchObject({ effect: "deny" });
    const writeBytes = calls.find((c) => c.data.op === "fs.write")!;
    expect(writeBytes.data.args).toEqual(["/workspace/b.bin", { bytes: 8 * MiB, sha256: sha256(big) }, false]);
    const longPath = calls.find((c) => c.data.op === "fs.read")!;
    expect(longPath.data).toMatchObject({ resource: "", invalid: expect.any(String) });
    expect((longPath.data.args as unknown[])[0]).toEqual({ chars: 8 * MiB + 11, sha256: sha256("/workspace/" + big) });
    // A statement is kept whole up to 64 KiB (counterfactual replay reads it); this one is longer.
    const statement = calls.find((c) => c.data.op === "sql.query" && typeof (c.data.args as unknown[])[1] === "object")!;
    expect((statement.data.args as unknown[])[1]).toMatchObject({ chars: expect.any(Number), sha256: expect.any(String) });
    // The 8192 headers: the whole request, once its parts are summarized, is still too large.
    const headers = calls.filter((c) => c.data.op === "http.fetch" && c.data.resource === world.origin + "/h");
    expect(headers).toHaveLength(2);
    expect((headers[1].data.args as unknown[])[0]).toEqual({ json: expect.any(Number), sha256: expect.any(String) });
    // The allowed log line: its message is recorded by size and hash too.
    const logLine = calls.find((c) => c.data.op === "log.write")!;
    expect(logLine.data.decision).toMatchObject({ effect: "allow" });
    expect((logLine.data.args as unknown[])[1]).toEqual({ chars: 8 * MiB, sha256: sha256(big) });
  });

  it("the log verifies", async () => {
    const log = await openLog({ dir: world.logDir });
    expect((await log.verify()).ok).toBe(true);
    await log.close();
  });

  it("replays identically (arguments compared by the same summary)", async () => {
    const replayer = new KernelSpace({ log: false, pool: { warm: 1 } });
    const log = await openLogReader(world.logDir);
    try {
      const report = await replayer.replay({ runId: run.runId, log });
      expect(report.divergence, String(JSON.stringify(report.divergence)).slice(0, 3000)).toBeUndefined();
      expect(report).toMatchObject({ status: "identical", output: run.output });
      expect(report.events).toHaveLength(24);
    } finally {
      await log.close();
      await replayer.close();
    }
  }, 120_000);

  it("a replay whose 8 MiB argument differs (same size, other content) diverges at that call", async () => {
    // The seed the agent read is recorded as the read's result: change it, and every argument made from it changes.
    const read = events.find((e) => e.type === "result" && e.data.ok === "a\n")!;
    await editRecord(world.logDir, read.seq, (body) => body.replace('"ok":"a\\n"', '"ok":"b\\n"'));
    const replayer = new KernelSpace({ log: false, pool: { warm: 1 } });
    const log = await openLogReader(world.logDir);
    try {
      const report = await replayer.replay({ runId: run.runId, log });
      expect(report.status).toBe("diverged");
      const first = events.find((e) => e.type === "call" && e.data.op === "fs.write-text")!;
      expect(report.divergence).toMatchObject({
        seq: first.seq,
        expected: { op: "fs.write-text", args: ["/workspace/a.txt", { chars: 8 * MiB, sha256: sha256("a".repeat(8 * MiB)) }, false] },
        actual: { op: "fs.write-text", args: ["/workspace/a.txt", { chars: 8 * MiB, sha256: sha256("b".repeat(8 * MiB)) }, false] },
      });
    } finally {
      await log.close();
      await replayer.close();
      await editRecord(world.logDir, read.seq, (body) => body.replace('"ok":"b\\n"', '"ok":"a\\n"'));
    }
  }, 120_000);

  it("counterfactual replay decides the recorded calls again from their resources and SQL facts", async () => {
    const log = await openLogReader(world.logDir);
    try {
      const report = await redecideRun(log, run.runId, "standard");
      const changed = report.changes.map((c) => `${c.action} ${c.resource.slice(0, 40)} ${c.before.effect}->${c.after.effect}`);
      expect(changed).toContain("fs.write /workspace/a.txt deny->allow");
      expect(changed).toContain("fs.write /workspace/b.bin deny->allow");
      // The INSERTs (statements kept whole: their SQL facts are used) are allowed under standard.
      const inserts = report.changes.filter((c) => c.action === "sql.query" && c.after.effect === "allow");
      expect(inserts).toHaveLength(3);
      for (const c of inserts) expect(c.withoutSqlFacts).toBeUndefined();
    } finally {
      await log.close();
    }
  });
});

describe("policy suggest works from runs with large arguments", () => {
  async function writer(_task: string, { fs, log }: any) {
    const big = "w".repeat(8 * 1024 * 1024);
    await fs.write("/workspace/out.txt", big);
    await log.info(big);
    return "done";
  }

  it("a run under audit that wrote 8 MiB: the suggestion allows exactly that write", async () => {
    const kernel = new KernelSpace({ policy: "audit", log: { dir: world.logDir }, mounts: { "/workspace": world.workspace }, pool: { warm: 1 } });
    let result: RunResult;
    try {
      result = await kernel.execute(kernel.register(writer as never), "");
    } finally {
      await kernel.close();
    }
    expect(result.status).toBe("ok");
    const io = capture();
    expect(await main(["policy", "suggest", result.runId, "--log", world.logDir], io)).toBe(0);
    expect(io.out).toContain("/workspace/out.txt");
    expect(io.out).toMatch(/action: "fs\.write"/);
  }, 60_000);
});

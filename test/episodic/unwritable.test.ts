/**
 * Fail closed when the log cannot be written, with a real LevelDB whose write really fails: the
 * log lives on a small tmpfs that is filled up (see disk-full.ts) after the run's spawn event is
 * on disk, so that the batch holding the agent's call (or the verification votes before it)
 * fails with ENOSPC. The call is not carried out: the host is checked afterwards (the file not
 * written, the directory not made, the file not removed, the server not reached, the table
 * unchanged), and the agent was told `denied`.
 */
import Database from "better-sqlite3";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelSpace, openLog, type LoggedEvent, type RunResult } from "../../dist/runtime/index.js";
import { approve, startModelServer, type ModelServer } from "../verify/model-server.js";
import { makeFullDisk, type FullDisk } from "./disk-full.js";
import { makeWorld, type World } from "./world.js";

// Every decision records its rule's reason: 12 KiB of it makes each call event larger than what
// is left on the filled disk (a page and the write-ahead log's last page), whatever the call.
const LONG_REASON = "the operator's note on this rule, recorded with every decision it makes. ".repeat(170);

let world: World;
let disk: FullDisk;
let runs = 0;

beforeAll(async () => {
  world = await makeWorld("agent-os-unwritable-");
  disk = makeFullDisk("agent-os-full-");
});

afterAll(async () => {
  disk?.release();
  await world?.remove();
});

function policy(extraRules: Record<string, unknown>[] = []): Record<string, unknown> {
  return {
    version: 1,
    name: "unwritable-log",
    default: "deny",
    rules: [
      { id: "basics", action: ["log.write", "clock.now", "random.bytes", "process.*"], effect: "allow" },
      { id: "workspace", action: "fs.*", resource: "/workspace/**", effect: "allow", reason: LONG_REASON },
      { id: "local-api", action: "http.fetch", resource: `${world.origin}/**`, effect: "allow", reason: LONG_REASON },
      { id: "sql", action: "sql.query", effect: "allow", reason: LONG_REASON },
      ...extraRules,
    ],
  };
}

/**
 * Runs `agent` on a fresh log in the tmpfs, after filling the disk to `margin` bytes once a warm-up
 * run is on disk; then empties the disk and gives the run's result and its events as the log
 * holds them (reopened: what LevelDB recovers).
 */
async function runOnFullDisk(
  agent: (task: string, sdk: never) => unknown,
  task: string,
  options: { policy?: Record<string, unknown>; verification?: Record<string, unknown>; fill?: false } = {},
): Promise<{ result: RunResult; events: LoggedEvent[]; verified: boolean }> {
  const logDir = join(disk.logDir, `run-${++runs}`);
  const kernel = new KernelSpace({
    policy: options.policy ?? policy(),
    log: { dir: logDir },
    mounts: { "/workspace": world.workspace },
    databases: { main: world.dbFile },
    allowPrivate: ["127.0.0.1"],
    pool: { warm: 1 },
    ...(options.verification ? { verification: options.verification } : {}),
  });
  let result: RunResult;
  try {
    // (a large task: the write-ahead log is then larger than any file the calls could touch,
    // which matters where the fallback limits the size of every file the process writes)
    expect((await kernel.execute(kernel.register(async function warm() {
      return "warm";
    } as never), "w".repeat(256 * 1024))).output).toBe("warm");
    if (options.fill !== false) disk.fill(4096, logDir);
    result = await kernel.execute(kernel.register(agent as never), task);
  } finally {
    await kernel.close();
    disk.empty();
  }
  const log = await openLog({ dir: logDir });
  const events: LoggedEvent[] = [];
  try {
    for await (const e of log.query({ runId: result.runId })) events.push(e);
    return { result, events, verified: (await log.verify()).ok };
  } finally {
    await log.close();
    rmSync(logDir, { recursive: true, force: true });
  }
}

/** Makes one call (named by the task), then a second one; reports what the kernel said to each. */
async function oneCall(task: string, { fs, http, sql }: any) {
  const { call, origin } = JSON.parse(task);
  const attempt = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      return "carried out";
    } catch (e: any) {
      return e.message;
    }
  };
  const calls: Record<string, () => Promise<unknown>> = {
    "write text": () => fs.write("/workspace/new.txt", "written while the log could not be"),
    "write bytes": () => fs.write("/workspace/new.bin", new Uint8Array([1, 2, 3])),
    "append to a file": () => fs.write("/workspace/notes.txt", "appended\n", { append: true }),
    mkdir: () => fs.mkdir("/workspace/made", { recursive: true }),
    "remove a file": () => fs.remove("/workspace/keep.txt"),
    "http post": () => http.fetch(origin + "/upload", { method: "POST", body: "payload" }),
    "sql insert": () => sql.query("main", "INSERT INTO users (name) VALUES ('eve')"),
  };
  const first = await attempt(calls[call]);
  const second = await attempt(() => fs.write("/workspace/second.txt", "the call after"));
  return JSON.stringify([first, second]);
}

function users(): number {
  const db = new Database(world.dbFile, { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM users").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

const NOT_WRITTEN = "denied: the episodic log cannot be written";

describe("a log that cannot be written: the call is not carried out", () => {
  it("(the same run on a disk with room carries both calls out and logs them)", async () => {
    const { result, events } = await runOnFullDisk(oneCall, JSON.stringify({ call: "write text", origin: world.origin }), { fill: false });
    expect(JSON.parse(result.output!)).toEqual(["carried out", "carried out"]);
    expect(events.map((e) => e.type)).toEqual(["spawn", "call", "result", "call", "result", "exit"]);
    expect(readFileSync(join(world.workspace, "new.txt"), "utf8")).toBe("written while the log could not be");
    rmSync(join(world.workspace, "new.txt"));
    rmSync(join(world.workspace, "second.txt"));
  }, 60_000);

  for (const [call, unchanged] of [
    ["write text", () => expect(existsSync(join(world.workspace, "new.txt"))).toBe(false)],
    ["write bytes", () => expect(existsSync(join(world.workspace, "new.bin"))).toBe(false)],
    ["append to a file", () => expect(readFileSync(join(world.workspace, "notes.txt"), "utf8")).not.toContain("appended")],
    ["mkdir", () => expect(existsSync(join(world.workspace, "made"))).toBe(false)],
    ["remove a file", () => expect(readFileSync(join(world.workspace, "keep.txt"), "utf8")).toBe("keep me\n")],
    ["http post", () => expect(world.hits()).toBe(0)],
    ["sql insert", () => expect(users()).toBe(2)],
  ] as const) {
    it(`${call}: denied, the host unchanged, and nothing after it carried out either`, async () => {
      writeFileSync(join(world.workspace, "keep.txt"), "keep me\n");
      const { result, events, verified } = await runOnFullDisk(oneCall, JSON.stringify({ call, origin: world.origin }));
      expect(result, JSON.stringify(result)).toMatchObject({ status: "ok" });
      expect(JSON.parse(result.output!)).toEqual([NOT_WRITTEN, NOT_WRITTEN]);
      unchanged();
      expect(existsSync(join(world.workspace, "second.txt"))).toBe(false);
      expect(readdirSync(world.workspace).sort()).toEqual(["keep.txt", "notes.txt"]);
      // What reached the disk is the spawn event alone, and it verifies.
      expect(events.map((e) => e.type)).toEqual(["spawn"]);
      expect(verified).toBe(true);
    }, 60_000);
  }
});

describe("votes that cannot be logged deny the call", () => {
  let servers: ModelServer[] = [];

  beforeAll(async () => {
    servers = await Promise.all([startModelServer(), startModelServer(), startModelServer()]);
    // Approving, with the longest reason the verifier keeps: six votes that do not fit on the disk.
    for (const s of servers) for (const m of ["judge-1", "judge-2"]) s.script(m, approve("fits the task. ".repeat(66)));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it("every model approves, the votes' batch fails: the call is denied and not carried out", async () => {
    const verifyRule = { id: "reviewed-write", action: "fs.write", resource: "/workspace/reviewed/**", effect: "verify", reason: "writes here need the reviewers' consent" };
    const models = servers.flatMap((s) => ["judge-1", "judge-2"].map((model) => ({ provider: "openai", model, baseUrl: `${s.url}/v1` })));
    mkdirSync(join(world.workspace, "reviewed"));
    const { result, events } = await runOnFullDisk(
      async function reviewed(_task: string, { fs }: any) {
        try {
          await fs.write("/workspace/reviewed/out.txt", "approved by every model");
          return "carried out";
        } catch (e: any) {
          return e.message;
        }
      },
      "",
      { policy: { ...policy([verifyRule]) }, verification: { models, threshold: 1, timeout: "10s" } },
    );
    // The models were asked, and approved.
    expect(servers.map((s) => s.seen.length)).toEqual([2, 2, 2]);
    expect(result.output).toBe(NOT_WRITTEN);
    expect(readdirSync(join(world.workspace, "reviewed"))).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(["spawn"]);
  }, 60_000);
});

/**
 * The per-run log quota (`limits.logBytes`): a flooding agent under a `strict` policy (log lines,
 * checkpoints and refused writes, as fast as it can) is ended with reason `limit` once its
 * events reach the quota, through a real kernel and a real LevelDB log. The call that crossed
 * the line and the exit are logged whole, the log stays near the quota, it verifies, and the run
 * replays identically.
 */
import { readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openLogReader } from "../../dist/runtime/hosts/node/log/reader.js";
import { eventBody } from "../../dist/runtime/episodic/index.js";
import { KernelSpace, openLog, type LoggedEvent, type RunResult } from "../../dist/runtime/index.js";
import { tempDir } from "./helpers.js";

const QUOTA = 1024 * 1024;

async function flood(_task: string, { fs, log, process }: any) {
  const chunk = "f".repeat(60 * 1024);
  for (let i = 0; ; i++) {
    await log.info(chunk);
    await process.checkpoint(`cp-${i}-` + chunk.slice(0, 60_000));
    try {
      await fs.write("/workspace/x.txt", chunk);
    } catch {
      // refused under strict, and recorded all the same
    }
  }
}

/** Everything in a directory, in bytes. */
function sizeOf(dir: string): number {
  return readdirSync(dir).reduce((n, name) => n + statSync(join(dir, name)).size, 0);
}

/** The bytes of a run's events as stored (hash + canonical body, UTF-8). */
function storedBytes(events: LoggedEvent[]): number {
  return events.reduce((n, e) => n + 64 + Buffer.byteLength(eventBody(e)), 0);
}

let tmp: { dir: string; remove: () => Promise<void> };
let logDir: string;
let result: RunResult;
let events: LoggedEvent[] = [];
let grew = 0;

beforeAll(async () => {
  tmp = await tempDir("agent-os-quota-");
  logDir = join(tmp.dir, "log");
  const workspace = join(tmp.dir, "workspace");
  const policy = join(tmp.dir, "strict-quota.yaml");
  writeFileSync(policy, "version: 1\nname: strict-quota\nextends: [strict]\nlimits:\n  logBytes: 1MiB\n  wallTime: 60s\n");
  await import("node:fs").then((fs) => fs.mkdirSync(workspace));
  const kernel = new KernelSpace({ policy, log: { dir: logDir }, mounts: { "/workspace": workspace }, pool: { warm: 1 } });
  try {
    await kernel.execute(kernel.register(async function warm() {
      return "warm";
    } as never), "");
    const before = sizeOf(logDir);
    result = await kernel.execute(kernel.register(flood as never), "");
    grew = sizeOf(logDir) - before;
  } finally {
    await kernel.close();
  }
  const log = await openLog({ dir: logDir });
  for await (const e of log.query({ runId: result.runId })) events.push(e);
  await log.close();
}, 120_000);

afterAll(async () => {
  await tmp?.remove();
});

describe("the per-run log quota", () => {
  it("ends a flooding agent with reason limit and a clear error", () => {
    expect(result).toMatchObject({ status: "killed", reason: "limit", error: `log quota of ${QUOTA} bytes reached (limits.logBytes)` });
    expect(result.usage.hostCalls).toBeLessThan(100);
  });

  it("logs the run whole up to the quota, the call that crossed it, and the exit", () => {
    const bytes = storedBytes(events);
    const exit = events[events.length - 1];
    expect(exit).toMatchObject({ type: "exit", data: { status: "killed", reason: "limit", error: `log quota of ${QUOTA} bytes reached (limits.logBytes)` } });
    const beforeExit = storedBytes(events.slice(0, -1));
    expect(beforeExit).toBeGreaterThanOrEqual(QUOTA);
    // Crossed by one call at most: the last one (its call event, a checkpoint's event, its result).
    const lastCall = events.findLastIndex((e) => e.type === "call");
    expect(storedBytes(events.slice(0, lastCall))).toBeLessThan(QUOTA);
    expect(events.slice(lastCall + 1, -1).every((e) => e.type !== "call")).toBe(true);
    expect(bytes).toBeLessThan(QUOTA + 256 * 1024);
  });

  it("keeps the log directory near the quota", () => {
    expect(grew, `the log grew by ${grew} bytes`).toBeGreaterThan(QUOTA);
    expect(grew, `the log grew by ${grew} bytes`).toBeLessThan(QUOTA + 512 * 1024);
  });

  it("leaves a log that verifies", async () => {
    const log = await openLog({ dir: logDir });
    const report = await log.verify();
    await log.close();
    expect(report.ok).toBe(true);
  });

  it("replays identically, ending the same way", async () => {
    const replayer = new KernelSpace({ log: false, pool: { warm: 1 } });
    const log = await openLogReader(logDir);
    try {
      const report = await replayer.replay({ runId: result.runId, log });
      expect(report.divergence, String(JSON.stringify(report.divergence)).slice(0, 2000)).toBeUndefined();
      expect(report).toMatchObject({ status: "identical", replayed: { status: "killed", reason: "limit" } });
    } finally {
      await log.close();
      await replayer.close();
    }
  }, 60_000);

  it("holds with an in-memory log too, and per run: a neighbour of the flood is not charged for it", async () => {
    const kernel = new KernelSpace({ policy: "strict", log: false, pool: { warm: 2 }, limits: { logBytes: 256 * 1024 } });
    try {
      const flooding = kernel.spawn(kernel.register(flood as never), "");
      const quiet = kernel.spawn(
        kernel.register(async function quiet(_task: string, { log }: any) {
          for (let i = 0; i < 20; i++) await log.info("line " + i);
          return "quiet";
        } as never),
        "",
      );
      const [f, q] = await Promise.all([flooding.wait(), quiet.wait()]);
      expect(f).toMatchObject({ status: "killed", reason: "limit", error: "log quota of 262144 bytes reached (limits.logBytes)" });
      expect(q).toMatchObject({ status: "ok", output: "quiet" });
    } finally {
      await kernel.close();
    }
  }, 60_000);
});

describe("runBytes", () => {
  it("counts a live run's records as stored, from its spawn to its exit", async () => {
    const log = await openLog(false);
    const e = (type: LoggedEvent["type"], runId: string, data: Record<string, unknown> = {}) => ({ type, runId, pid: 1, agent: "a", data });
    expect(log.runBytes("r1")).toBe(0);
    await log.append(e("call", "r1", { before: "the spawn: not counted" }));
    const spawn = await log.append(e("spawn", "r1"));
    const call = await log.append(e("call", "r1", { resource: "x".repeat(1000) }));
    await log.stage(e("result", "r1", { ok: "é".repeat(100) })).written;
    await log.append(e("call", "r2", { other: "run" }));
    await log.append(e("checkpoint", "r1"));
    const r1 = (await collect(log, "r1")).filter((x) => x.seq >= spawn.seq);
    expect(r1.map((x) => x.type)).toEqual(["spawn", "call", "result", "checkpoint"]);
    expect(log.runBytes("r1")).toBe(storedBytes(r1));
    expect(storedBytes([call])).toBeGreaterThan(1000);
    expect(log.runBytes("r2")).toBe(0);
    await log.append(e("exit", "r1"));
    expect(log.runBytes("r1")).toBe(0);
    await log.close();
  });
});

async function collect(log: Awaited<ReturnType<typeof openLog>>, runId: string): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  for await (const x of log.query({ runId })) out.push(x);
  return out;
}

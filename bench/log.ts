/**
 * The episodic log's benchmarks: durable appends per second through the kernel's log beside
 * raw `level` batched puts of the same events with `sync: true`, and verification speed
 * beside a raw scan of the same records.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Level } from "level";
import { openLog } from "../runtime/episodic/index.js";
import type { NewEvent } from "../runtime/types.js";
import { median, type BenchRow, type BenchSuite } from "./harness.js";

const EVENTS = 100_000;
const SEQUENTIAL = 500;
const ROUNDS = 3;

/** A call event of about 300 bytes, as the gate writes them. */
function event(i: number): NewEvent {
  return {
    type: "call",
    runId: "run-" + (i % 16),
    pid: i % 16,
    agent: "writer",
    data: {
      action: "fs.write",
      resource: `/workspace/out/file-${i}.txt`,
      args: { path: `/workspace/out/file-${i}.txt`, bytes: 1024 },
      decision: { effect: "allow", rule: "workspace-write", reason: "writes inside the workspace", matched: ["workspace-write"] },
    },
  };
}

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "agent-os-bench-log-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const perSecond = (n: number, ms: number) => n / (ms / 1000);

/** Appends EVENTS events without awaiting each, then all; returns events/s and verify events/s. */
async function kernelLog(events: NewEvent[]): Promise<{ append: number; verify: number }> {
  return withDir(async (dir) => {
    const log = await openLog({ dir });
    const t0 = performance.now();
    await Promise.all(events.map((e) => log.append(e)));
    const append = perSecond(events.length, performance.now() - t0);
    await log.close();
    const reopened = await openLog({ dir });
    const t1 = performance.now();
    const report = await reopened.verify();
    const verify = perSecond(events.length, performance.now() - t1);
    if (!report.ok || report.count !== events.length) throw new Error(`the bench log did not verify: ${JSON.stringify(report)}`);
    await reopened.close();
    return { append, verify };
  });
}

/** The same events as JSON, put with raw batches of 4096 with sync: true; then a raw scan. */
async function rawLevel(events: NewEvent[]): Promise<{ append: number; scan: number }> {
  return withDir(async (dir) => {
    let db = new Level<string, string>(dir);
    await db.open();
    const t0 = performance.now();
    for (let start = 0; start < events.length; start += 4096) {
      // A chained batch: the fastest way level offers.
      const batch = db.batch();
      const end = Math.min(events.length, start + 4096);
      for (let i = start; i < end; i++) batch.put("e!" + String(i + 1).padStart(16, "0"), JSON.stringify(events[i]));
      await batch.write({ sync: true });
    }
    const append = perSecond(events.length, performance.now() - t0);
    await db.close();
    db = new Level<string, string>(dir);
    await db.open();
    const t1 = performance.now();
    let n = 0;
    const it = db.iterator({ gte: "e!", lt: 'e"' });
    for (let chunk = await it.nextv(1000); chunk.length > 0; chunk = await it.nextv(1000)) n += chunk.length;
    await it.close();
    const scan = perSecond(n, performance.now() - t1);
    await db.close();
    return { append, scan };
  });
}

/** One append at a time, each awaited (a single agent making calls one after another). */
async function sequential(): Promise<{ ours: number; raw: number }> {
  const ours = await withDir(async (dir) => {
    const log = await openLog({ dir });
    const t0 = performance.now();
    for (let i = 0; i < SEQUENTIAL; i++) await log.append(event(i));
    const rate = perSecond(SEQUENTIAL, performance.now() - t0);
    await log.close();
    return rate;
  });
  const raw = await withDir(async (dir) => {
    const db = new Level<string, string>(dir);
    await db.open();
    const t0 = performance.now();
    for (let i = 0; i < SEQUENTIAL; i++) await db.put("e!" + String(i + 1).padStart(16, "0"), JSON.stringify(event(i)), { sync: true });
    const rate = perSecond(SEQUENTIAL, performance.now() - t0);
    await db.close();
    return rate;
  });
  return { ours, raw };
}

export const logBench: BenchSuite = {
  title: "Episodic log (LevelDB, sync writes)",
  async run(): Promise<BenchRow[]> {
    const events = Array.from({ length: EVENTS }, (_, i) => event(i));
    const ours = { append: [] as number[], verify: [] as number[] };
    const raw = { append: [] as number[], scan: [] as number[] };
    // Interleaved rounds, medians: a shared machine's noise hits both sides alike.
    for (let r = 0; r < ROUNDS; r++) {
      const k = await kernelLog(events);
      ours.append.push(k.append);
      ours.verify.push(k.verify);
      const b = await rawLevel(events);
      raw.append.push(b.append);
      raw.scan.push(b.scan);
    }
    const seq = await sequential();
    const append = median(ours.append);
    const rawAppend = median(raw.append);
    const verify = median(ours.verify);
    return [
      {
        name: `durable appends, ${EVENTS.toLocaleString("en-US")} in flight (group commit)`,
        value: append,
        unit: "events/s",
        better: "higher",
        baseline: { name: "raw level batches of 4096, sync", value: rawAppend },
        target: { text: "≥ 50,000/s and within 1.5× of raw", met: append >= 50_000 && append * 1.5 >= rawAppend },
      },
      {
        name: "durable appends, one at a time (each awaited)",
        value: seq.ours,
        unit: "events/s",
        better: "higher",
        baseline: { name: "raw level put, sync", value: seq.raw },
      },
      {
        name: "verify (recompute the chain)",
        value: verify,
        unit: "events/s",
        better: "higher",
        baseline: { name: "raw level scan", value: median(raw.scan) },
        target: { text: "> 200,000/s", met: verify > 200_000 },
      },
    ];
  },
};

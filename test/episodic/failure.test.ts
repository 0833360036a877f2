import { describe, expect, it } from "vitest";
import { createChainLog } from "../../dist/runtime/episodic/log.js";
import { createMemoryBackend } from "../../dist/runtime/episodic/memory.js";
import type { Batch, LogBackend } from "../../dist/runtime/episodic/backend.js";
import { LogError } from "../../dist/runtime/errors.js";
import { callEvent } from "./helpers.js";

/** A backend whose writes fail from the nth on, and that records the batch sizes it was given. */
function flakyBackend(failFrom: number): LogBackend & { batches: number[]; trace: string[] } {
  const inner = createMemoryBackend();
  const batches: number[] = [];
  const trace: string[] = [];
  return Object.assign(Object.create(inner) as LogBackend, {
    batches,
    trace,
    prepare(batch: Batch) {
      const size = batch.records.length;
      trace.push(`prepare ${size}`);
      const write = inner.prepare(batch);
      return {
        async commit() {
          batches.push(size);
          trace.push(`commit ${size}`);
          await new Promise((r) => setTimeout(r, 5));
          trace.push(`written ${size}`);
          if (batches.length >= failFrom) throw new Error("disk full");
          return write.commit();
        },
        discard: () => write.discard(),
      };
    },
  });
}

describe("group commit", () => {
  it("writes one batch at a time; the next is everything queued meanwhile", async () => {
    const backend = flakyBackend(Infinity);
    const log = await createChainLog(backend);
    const first = log.append(callEvent(0));
    await Promise.resolve();
    const rest = Array.from({ length: 99 }, (_, i) => log.append(callEvent(i + 1)));
    await Promise.all([first, ...rest]);
    expect(backend.batches).toEqual([1, 99]);
    await log.close();
  });

  it("splits a long queue into batches of at most maxBatch, in order", async () => {
    const backend = flakyBackend(Infinity);
    const log = await createChainLog(backend, { maxBatch: 40 });
    const events = await Promise.all(Array.from({ length: 100 }, (_, i) => log.append(callEvent(i))));
    expect(backend.batches).toEqual([40, 40, 20]);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect((await log.verify()).ok).toBe(true);
    await log.close();
  });

  it("prepares the next batch while one is written when a full batch is waiting, and commits them in order", async () => {
    const backend = flakyBackend(Infinity);
    const log = await createChainLog(backend, { maxBatch: 40 });
    await Promise.all(Array.from({ length: 100 }, (_, i) => log.append(callEvent(i))));
    // The last 20 are not a full batch: they wait, so that what queues meanwhile can join them.
    expect(backend.trace).toEqual(["prepare 40", "commit 40", "prepare 40", "written 40", "commit 40", "written 40", "prepare 20", "commit 20", "written 20"]);
    expect((await log.verify()).ok).toBe(true);
    await log.close();
  });

  it("rejects every append of a failed batch and every one queued behind it, then refuses more (fail closed)", async () => {
    const backend = flakyBackend(2);
    const log = await createChainLog(backend);
    const ok = await log.append(callEvent(0));
    const failed = log.append(callEvent(1));
    await Promise.resolve();
    const queued = log.append(callEvent(2));
    const results = await Promise.allSettled([failed, queued]);
    for (const r of results) {
      expect(r.status).toBe("rejected");
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(LogError);
      expect(String((r as PromiseRejectedResult).reason.message)).toMatch(/cannot write to the log at memory: disk full/);
    }
    await expect(log.append(callEvent(3))).rejects.toThrow(/refuses appends after a failed write/);
    await expect(log.putBlob(new Uint8Array([1]))).rejects.toThrow(LogError);
    const report = await log.verify();
    expect(report).toEqual({ ok: true, count: 1, head: ok.hash });
    await log.close();
  });
});

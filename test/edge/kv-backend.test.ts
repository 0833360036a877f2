/**
 * The log on a key-value store (runtime/edge/kv-backend.ts), over the memory store that holds
 * what a Durable Object's storage would and refuses what it would refuse: the same records,
 * hashes and answers as the memory backend, a chain that goes on after a reopen, one put per
 * batch, failures that close the log, and tampering that verify names.
 */
import { describe, expect, it } from "vitest";
import { createChainLog, type KernelLog } from "../../dist/runtime/episodic/log.js";
import { createMemoryBackend } from "../../dist/runtime/episodic/memory.js";
import { createKvBackend, type KvStore } from "../../dist/runtime/edge/kv-backend.js";
import { memoryKvStore, type MemoryKvStore } from "../../dist/runtime/edge/stores/index.js";
import { LogError } from "../../dist/runtime/errors.js";
import type { EventQuery, LoggedEvent, NewEvent } from "../../dist/runtime/types.js";
import { callEvent } from "../episodic/helpers.js";
import { editStored, holding, keysUnder, largestValue, sameBytes } from "./kv-stored.js";

const KiB = 1024;

async function collect(events: AsyncIterable<LoggedEvent>): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

/** A clock that ticks once a call, so that two logs fed the same events make the same hashes. */
function ticking(): () => number {
  let t = 1_000;
  return () => (t += 7);
}

function open(store: KvStore, now = ticking()): Promise<KernelLog> {
  return createChainLog(createKvBackend(store), { now });
}

/** An event whose data carries `bytes` characters, and some that are not ASCII. */
function bigEvent(i: number, bytes: number): NewEvent {
  return callEvent(i, { data: { action: "http.fetch", note: "é✓".repeat(8) + "x".repeat(bytes), i } });
}

/** Writes 20 events in 4 batches of 5 and a blob, closes, lets `tamper` change the store, and verifies. */
async function tamperAndVerify(tamper: (store: MemoryKvStore) => void) {
  const store = memoryKvStore();
  let log = await open(store);
  for (let b = 0; b < 4; b++) await log.appendMany(Array.from({ length: 5 }, (_, i) => callEvent(b * 5 + i)));
  await log.putBlob(new TextEncoder().encode("a blob no event refers to"));
  expect((await log.verify()).ok).toBe(true);
  await log.close();
  tamper(store);
  log = await open(store);
  const report = await log.verify();
  await log.close();
  return report;
}

describe("the log on a key-value store", () => {
  it("stores, queries and verifies events and blobs as the memory backend does, with the same hashes", async () => {
    const kv = await open(memoryKvStore());
    const memory = await createChainLog(createMemoryBackend(), { now: ticking() });
    const big = new Uint8Array(300 * KiB).map((_, i) => (i * 31) % 251);
    for (const log of [kv, memory]) {
      const staged = Array.from({ length: 300 }, (_, i) => log.stage(callEvent(i)));
      await Promise.all([...staged.map((s) => s.written), log.putBlob(new TextEncoder().encode("source")), log.putBlob(big)]);
      await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(i % 10 ? callEvent(300 + i) : bigEvent(300 + i, 40 * KiB))));
      await log.appendMany([callEvent(400, { runId: "late", type: "spawn" }), callEvent(401, { runId: "late", type: "exit" })]);
    }
    const all = await collect(kv.query());
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 352 }, (_, i) => i + 1));
    expect(all).toEqual(await collect(memory.query()));
    const filters: EventQuery[] = [
      { runId: "run-1" },
      { runId: "late", order: "newest" },
      { runId: "nobody" },
      { order: "newest", limit: 7 },
      { fromSeq: 120, toSeq: 140, order: "newest" },
      { fromSeq: 129, toSeq: 129 },
      { agent: "writer", type: "call", limit: 30 },
      { since: all[200].time, until: all[260].time },
    ];
    for (const filter of filters) expect(await collect(kv.query(filter)), JSON.stringify(filter)).toEqual(await collect(memory.query(filter)));
    for (const seq of [1, 128, 129, 300, 352]) expect(await kv.get(seq)).toEqual(await memory.get(seq));
    expect(await kv.get(353)).toBeUndefined();
    const { sha256Hex } = await import("../../dist/runtime/portable/sha256.js");
    expect(sameBytes(await kv.getBlob(sha256Hex(big)), big)).toBe(true);
    expect(await kv.getBlob(sha256Hex("source"))).toEqual(new TextEncoder().encode("source"));
    expect(kv.head()).toEqual(memory.head());
    expect(await kv.verify()).toEqual(await memory.verify());
    expect(await kv.verify()).toMatchObject({ ok: true, count: 352 });
    await kv.close();
    await memory.close();
  });

  it("continues the chain after a reopen on the same store, and finds runs across opens", async () => {
    const store = memoryKvStore();
    const now = ticking();
    let log = await open(store, now);
    await log.appendMany([0, 1, 2, 3].map((i) => callEvent(i)));
    await log.close();
    log = await open(store, now);
    expect(log.head().seq).toBe(4);
    const fifth = await log.append(callEvent(4));
    expect(fifth).toMatchObject({ seq: 5, prev: (await log.get(4))!.hash });
    await log.append(callEvent(5, { runId: "new-run" }));
    await log.close();
    log = await open(store, now);
    await log.append(callEvent(0, { runId: "run-0" }));
    expect((await collect(log.query({ runId: "run-0", order: "newest" }))).map((e) => e.seq)).toEqual([7, 4, 1]);
    expect((await collect(log.query({ runId: "new-run" }))).map((e) => e.seq)).toEqual([6]);
    expect(await log.verify()).toMatchObject({ ok: true, count: 7 });
    await log.close();
    // (a run's entry per handle that wrote it: the run starts at the lowest)
    expect(keysUnder(store, "r!").map((k) => Number(k.slice(-16)))).toEqual(expect.arrayContaining([1, 2, 3, 6, 7]));
  });

  it("commits a batch of 4096 events (far more than 128 keys' worth) in one put, no value over 128 KiB", async () => {
    const store = memoryKvStore();
    const log = await open(store);
    await log.append(callEvent(0));
    const before = store.puts.length;
    await log.appendMany(Array.from({ length: 4096 }, (_, i) => bigEvent(i + 1, 600)));
    expect(store.puts.length).toBe(before + 1);
    const put = store.puts[store.puts.length - 1];
    expect(put.length).toBeLessThanOrEqual(128);
    expect(put[put.length - 1]).toBe("h");
    expect(put.filter((k) => k.startsWith("s!")).length).toBe(4096 / 128);
    expect(largestValue(store)).toBeLessThanOrEqual(128 * KiB);
    expect(await log.verify()).toMatchObject({ ok: true, count: 4097 });
    await log.close();
  });

  it("stores a blob over the value limit in parts, and an event over it too", async () => {
    const store = memoryKvStore();
    const log = await open(store);
    const blob = new Uint8Array(1024 * KiB).map((_, i) => i % 256);
    const hash = await log.putBlob(blob);
    const event = await log.append(bigEvent(0, 300 * KiB));
    // (parts of 127 KiB: 128 KiB less room for the host's encoding)
    expect(keysUnder(store, "p!").length).toBe(9 + 3);
    expect(largestValue(store)).toBeLessThanOrEqual(128 * KiB);
    await log.close();
    const again = await open(store);
    expect(sameBytes(await again.getBlob(hash), blob)).toBe(true);
    expect(await again.get(1)).toEqual(event);
    expect(await again.verify()).toMatchObject({ ok: true, count: 1 });
    await again.close();
  });

  it("rejects every append of a failed put and refuses more (fail closed); a log opened again resumes", async () => {
    const store = memoryKvStore();
    const log = await open(store);
    const ok = await log.append(callEvent(0));
    store.failNextPuts(1);
    const failed = log.append(callEvent(1));
    await Promise.resolve();
    const queued = log.append(callEvent(2));
    for (const r of await Promise.allSettled([failed, queued])) {
      expect(r.status).toBe("rejected");
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(LogError);
      expect(String((r as PromiseRejectedResult).reason.message)).toMatch(/cannot write to the log at memory: the memory store failed this put/);
    }
    await expect(log.append(callEvent(3))).rejects.toThrow(/refuses appends after a failed write/);
    await expect(log.putBlob(new Uint8Array([1]))).rejects.toThrow(LogError);
    expect(await log.verify()).toEqual({ ok: true, count: 1, head: ok.hash });
    await log.close();
    const again = await open(store);
    expect(await again.append(callEvent(4))).toMatchObject({ seq: 2, prev: ok.hash });
    expect(await again.verify()).toMatchObject({ ok: true, count: 2 });
    await again.close();
  });

  it("writes a batch over the store's keys in several puts, each a whole log: a failure between them leaves the ones before", async () => {
    const store = memoryKvStore({ keysPerPut: 8, valueBytes: 8 * KiB });
    let failAt = -1;
    let puts = 0;
    const flaky: KvStore = { ...store, put: (entries) => (++puts === failAt ? Promise.reject(new Error("lost power")) : store.put(entries)) };
    let log = await open(flaky);
    await log.appendMany(Array.from({ length: 60 }, (_, i) => bigEvent(i, 1500)));
    const written = store.puts.length;
    expect(written).toBeGreaterThan(2);
    for (const put of store.puts) expect(put[put.length - 1]).toBe("h");
    expect(await log.verify()).toMatchObject({ ok: true, count: 60 });
    failAt = puts + 2;
    await expect(log.appendMany(Array.from({ length: 60 }, (_, i) => bigEvent(60 + i, 1500)))).rejects.toThrow(/lost power/);
    await log.close();
    log = await open(flaky);
    const kept = log.head().seq;
    expect(kept).toBeGreaterThan(60);
    expect(kept).toBeLessThan(120);
    expect(await log.verify()).toMatchObject({ ok: true, count: kept });
    expect(await log.append(callEvent(0))).toMatchObject({ seq: kept + 1 });
    expect(await log.verify()).toMatchObject({ ok: true, count: kept + 1 });
    await log.close();
  });

  it("lays its keys out as documented", async () => {
    const store = memoryKvStore();
    const log = await open(store);
    await log.appendMany(Array.from({ length: 130 }, (_, i) => callEvent(i)));
    const hash = await log.putBlob(new Uint8Array([1, 2, 3]));
    await log.close();
    const pad = (n: number) => String(n).padStart(16, "0");
    expect(keysUnder(store, "s!")).toEqual(["s!" + pad(128) + pad(1), "s!" + pad(130) + pad(129)]);
    expect(keysUnder(store, "b!")).toEqual(["b!" + hash + "!" + pad(130)]);
    expect(keysUnder(store, "r!")).toHaveLength(3);
    expect(JSON.parse(store.data.get("h") as string)).toMatchObject({ seq: 130 });
    expect(holding(store, 129).records).toHaveLength(2);
  });
});

describe("verify over a key-value store names what was tampered with", () => {
  it("a changed record inside its segment", async () => {
    const report = await tamperAndVerify((s) => editStored(s, 7, (v) => v.replace("/workspace/file-6.txt", "/workspace/file-99.txt")));
    expect(report).toMatchObject({ ok: false, firstBad: 7, count: 6 });
    if (!report.ok) expect(report.problem).toMatch(/event 7 was changed/);
  });

  it("a segment taken away (a gap), and the last one (the tail cut off)", async () => {
    let report = await tamperAndVerify((s) => s.data.delete(holding(s, 11).key));
    expect(report).toMatchObject({ ok: false, firstBad: 11, count: 10 });
    if (!report.ok) expect(report.problem).toMatch(/event 11 is missing/);
    report = await tamperAndVerify((s) => s.data.delete(holding(s, 20).key));
    expect(report).toMatchObject({ ok: false, firstBad: 16, count: 15 });
  });

  it("one record taken out of its segment", async () => {
    const report = await tamperAndVerify((s) => {
      const { key, first, records } = holding(s, 12);
      records.splice(12 - first, 1);
      s.data.set(key, new TextEncoder().encode(records.join("\n")));
    });
    expect(report).toMatchObject({ ok: false, firstBad: 12, count: 11 });
    if (!report.ok) expect(report.problem).toMatch(/event 12 holds event 13/);
  });

  it("a damaged head record", async () => {
    const report = await tamperAndVerify((s) => s.data.set("h", "{not json"));
    expect(report).toMatchObject({ ok: false, firstBad: 20 });
    if (!report.ok) expect(report.problem).toMatch(/is not the event the log's head records/);
  });

  it("a changed blob", async () => {
    const report = await tamperAndVerify((s) => {
      const key = keysUnder(s, "b!")[0];
      s.data.set(key, new TextEncoder().encode("another blob"));
    });
    expect(report.ok).toBe(false);
    if (!report.ok) expect(report.problem).toMatch(/does not match its hash \(the blob was changed\)/);
  });
});

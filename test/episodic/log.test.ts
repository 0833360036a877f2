import { describe, expect, it } from "vitest";
import { decodeValue, openLog, type KernelLog } from "../../dist/runtime/episodic/index.js";
import type { LoggedEvent } from "../../dist/runtime/types.js";
import { callEvent, tempDir } from "./helpers.js";

async function collect(it: AsyncIterable<LoggedEvent>): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

interface Factory {
  name: string;
  open(now?: () => number): Promise<{ log: KernelLog; done: () => Promise<void> }>;
}

const factories: Factory[] = [
  {
    name: "memory",
    async open(now) {
      const log = await openLog({ dir: false, now });
      return { log, done: () => log.close() };
    },
  },
  {
    name: "level",
    async open(now) {
      const tmp = await tempDir();
      const log = await openLog({ dir: tmp.dir + "/nested/log", now });
      return { log, done: async () => (await log.close(), await tmp.remove()) };
    },
  },
];

describe.each(factories)("the $name log", (factory) => {
  it("gives concurrent appends sequence numbers and links in call order", async () => {
    const { log, done } = await factory.open();
    const pending = Array.from({ length: 500 }, (_, i) => log.append(callEvent(i)));
    const events = await Promise.all(pending);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    for (let i = 1; i < events.length; i++) expect(events[i].prev).toBe(events[i - 1].hash);
    expect(log.head()).toEqual({ seq: 500, hash: events[499].hash });
    expect(await collect(log.query())).toEqual(events);
    expect(await log.verify()).toEqual({ ok: true, count: 500, head: events[499].hash });
    await done();
  });

  it("appendMany([]) resolves once everything sealed is written, also on an idle log (a wait for the durable head)", async () => {
    const { log, done } = await factory.open();
    const settled = (p: Promise<unknown>) => Promise.race([p.then(() => "resolved"), new Promise((resolve) => setTimeout(() => resolve("still waiting after 10 s"), 10_000))]);
    expect(await settled(log.appendMany([]))).toBe("resolved");
    await log.append(callEvent(0));
    expect(await settled(log.appendMany([]))).toBe("resolved");
    log.stage(callEvent(1));
    expect(await settled(log.appendMany([]))).toBe("resolved");
    expect(log.head().seq).toBe(2);
    expect((await log.get(2))?.seq).toBe(2);
    await done();
  });

  it("stores data faithfully: what append returns is what get and query return, and decodes back", async () => {
    const { log, done } = await factory.open();
    const data = { ok: { n: 2n ** 70n, bytes: new Uint8Array([1, 2, 3]) }, callSeq: 1 };
    const e = await log.append({ type: "result", runId: "r", pid: 1, agent: "a", data });
    expect(await log.get(e.seq)).toEqual(e);
    expect(decodeValue(e.data)).toEqual(data);
    expect(await log.get(99)).toBeUndefined();
    await done();
  });

  it("refuses malformed events without taking a sequence number", async () => {
    const { log, done } = await factory.open();
    await expect(log.append({ ...callEvent(0), type: "bogus" as never })).rejects.toThrow(/unknown event type/);
    await expect(log.append({ ...callEvent(0), data: { f: () => 1 } })).rejects.toThrow(/value\.f: a function/);
    await expect(log.appendMany([callEvent(0), { ...callEvent(1), pid: 1.5 }])).rejects.toThrow(/pid/);
    expect(log.head().seq).toBe(0);
    const [a, b] = await log.appendMany([callEvent(0), callEvent(1)]);
    expect([a.seq, b.seq, b.prev]).toEqual([1, 2, a.hash]);
    await done();
  });

  it("filters by run, agent, type, effect, action glob (results by their call), sequence and time", async () => {
    let clock = 1000;
    const { log, done } = await factory.open(() => clock);
    const call = await log.append(callEvent(0, { runId: "A" }, "deny", "fs.write"));
    clock = 2000;
    await log.append({ type: "result", runId: "A", pid: 10, agent: "reader", data: { call: call.seq, err: { tag: "denied", val: {} } } });
    await log.append(callEvent(1, { runId: "B" }, "allow", "http.fetch"));
    clock = 3000;
    await log.append(callEvent(2, { runId: "A!x" }, "allow", "fs.read"));
    await log.append({ type: "exit", runId: "A", pid: 10, agent: "reader", data: { status: "ok" } });
    const seqs = async (q: Parameters<KernelLog["query"]>[0]) => (await collect(log.query(q))).map((e) => e.seq);
    expect(await seqs({ runId: "A" })).toEqual([1, 2, 5]);
    expect(await seqs({ runId: "A", order: "newest", limit: 2 })).toEqual([5, 2]);
    expect(await seqs({ agent: "writer" })).toEqual([3]);
    expect(await seqs({ type: "call" })).toEqual([1, 3, 4]);
    expect(await seqs({ effect: "deny" })).toEqual([1]);
    expect(await seqs({ action: "fs.*" })).toEqual([1, 2, 4]);
    expect(await seqs({ action: "http.fetch" })).toEqual([3]);
    expect(await seqs({ since: 2000 })).toEqual([2, 3, 4, 5]);
    expect(await seqs({ since: 1500, until: 2500, order: "newest" })).toEqual([3, 2]);
    expect(await seqs({ until: 999 })).toEqual([]);
    expect(await seqs({ fromSeq: 2, toSeq: 3 })).toEqual([2, 3]);
    expect(await seqs({ limit: 0 })).toEqual([]);
    await expect(collect(log.query({ effect: "maybe" as never }))).rejects.toThrow(/unknown effect/);
    await done();
  });

  it("never lets event times go backwards, whatever the clock does", async () => {
    const times = [5000, 4000, 6000];
    const { log, done } = await factory.open(() => times.shift() ?? 0);
    const events = await log.appendMany([callEvent(0), callEvent(1), callEvent(2)]);
    expect(events.map((e) => e.time)).toEqual([5000, 5000, 6000]);
    await done();
  });

  it("stores blobs by content hash and gives them back", async () => {
    const { log, done } = await factory.open();
    const bytes = new TextEncoder().encode("a large response body ".repeat(1000));
    const hash = await log.putBlob(bytes);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await log.putBlob(bytes)).toBe(hash);
    expect(await log.getBlob(hash)).toEqual(bytes);
    expect(await log.getBlob("0".repeat(64))).toBeUndefined();
    await expect(log.getBlob("../etc")).rejects.toThrow(/not a blob hash/);
    expect(log.head().seq).toBe(0);
    expect((await log.verify()).ok).toBe(true);
    await done();
  });

  it("waits for queued appends on close, then refuses", async () => {
    const { log, done } = await factory.open();
    const pending = log.append(callEvent(0));
    const closed = log.close();
    await expect(pending).resolves.toMatchObject({ seq: 1 });
    await closed;
    await expect(log.append(callEvent(1))).rejects.toThrow(/is closed/);
    await done();
  });

  it("says whether it is durable", async () => {
    const { log, done } = await factory.open();
    expect(log.durable).toBe(factory.name === "level");
    await done();
  });
});

describe("the level log across opens", () => {
  it("resumes the sequence and the chain, and has the same hashes as the memory log", async () => {
    const tmp = await tempDir();
    let clock = 1;
    const now = () => clock++;
    let log = await openLog({ dir: tmp.dir, now });
    await Promise.all([0, 1, 2].map((i) => log.append(callEvent(i))));
    await log.close();
    log = await openLog({ dir: tmp.dir, now });
    expect(log.head().seq).toBe(3);
    const fourth = await log.append(callEvent(3));
    expect(fourth.seq).toBe(4);
    expect(fourth.prev).toBe((await log.get(3))?.hash);
    const all = await collect(log.query());
    await log.close();
    log = await openLog({ dir: tmp.dir, now });
    await log.append(callEvent(0, { runId: "run-0" }));
    expect((await collect(log.query({ runId: "run-0", order: "newest" }))).map((e) => e.seq)).toEqual([5, 4, 1]);
    await log.close();

    clock = 1;
    const memory = await openLog({ dir: false, now });
    const again = await memory.appendMany([0, 1, 2, 3].map((i) => callEvent(i)));
    expect(again.map((e) => e.hash)).toEqual(all.map((e) => e.hash));
    await memory.close();
    await tmp.remove();
  });
});

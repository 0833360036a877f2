/**
 * `verify` checks the log's blobs: runs recorded by a real kernel into a LevelDB log, whose
 * stored agent sources are then changed, swapped or deleted through a second handle, as a
 * tamperer with access to the files would. Verify (the library's and the CLI's) must fail and
 * name the spawn event that refers to the blob; an untouched log must still verify.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../dist/runtime/cli/main.js";
import type { CliIo } from "../../dist/runtime/cli/io.js";
import { KernelSpace, openLog, type LoggedEvent, type RunResult } from "../../dist/runtime/index.js";
import { tempDir } from "./helpers.js";
import { withDb, type Db } from "./stored.js";

let tmp: { dir: string; remove: () => Promise<void> };

beforeEach(async () => {
  tmp = await tempDir("agent-os-blobs-");
});
afterEach(async () => {
  await tmp.remove();
});

async function first(_task: string, { log }: any) {
  await log.info("the first agent");
  return "first";
}

async function second(_task: string, { log }: any) {
  await log.info("the second agent, whose source is another blob");
  return "second";
}

/** Runs both agents (the first twice) through a real kernel into the log at tmp.dir; gives their spawn events. */
async function record(): Promise<{ runs: RunResult[]; spawns: LoggedEvent[] }> {
  const kernel = new KernelSpace({ policy: "standard", log: { dir: tmp.dir }, pool: { warm: 1 } });
  const runs: RunResult[] = [];
  try {
    const a = kernel.register(first as never);
    runs.push(await kernel.execute(a, ""), await kernel.execute(kernel.register(second as never), ""), await kernel.execute(a, ""));
  } finally {
    await kernel.close();
  }
  expect(runs.map((r) => r.output)).toEqual(["first", "second", "first"]);
  const log = await openLog({ dir: tmp.dir });
  const spawns: LoggedEvent[] = [];
  for await (const e of log.query({ type: "spawn" })) spawns.push(e);
  expect((await log.verify()).ok).toBe(true);
  await log.close();
  return { runs, spawns };
}

/** The keys a blob is stored under (one per kernel that stored it). */
async function blobKeys(db: Db, hash: string): Promise<string[]> {
  return (await db.keys().all()).filter((k) => k.endsWith("~" + hash) || k === "b!" + hash);
}

async function verifyDir() {
  const log = await openLog({ dir: tmp.dir });
  try {
    return await log.verify();
  } finally {
    await log.close();
  }
}

function capture(): CliIo & { out: string; err: string } {
  const io = { out: "", err: "", isTTY: false, stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
  return io;
}

describe("verify checks every blob against the hash the chain records for it", () => {
  it("records which spawns' code the log holds, and an untouched log verifies (library and CLI)", async () => {
    const { spawns } = await record();
    expect(spawns).toHaveLength(3);
    for (const s of spawns) expect(s.data).toMatchObject({ codeStored: true, engine: "quickjs" });
    const report = await verifyDir();
    expect(report.ok).toBe(true);
    const io = capture();
    expect(await main(["verify", "--log", tmp.dir], io)).toBe(0);
    expect(io.out).toMatch(/^ok: \d+ events/);
  });

  for (const [name, change] of [
    ["one byte of the source changed", (s: Buffer) => Buffer.from(s.toString("utf8").replace("the first agent", "the first agenT"))],
    ["a byte appended", (s: Buffer) => Buffer.concat([s, Buffer.from(" ")])],
    ["the source emptied", () => Buffer.alloc(0)],
    ["other code put in its place", () => Buffer.from("export default async () => 'pwned'")],
  ] as const) {
    it(`a changed blob (${name}) fails verify at the spawn event that refers to it`, async () => {
      const { spawns } = await record();
      const hash = spawns[0].data.codeHash as string;
      await withDb(tmp.dir, async (db) => {
        const keys = await blobKeys(db, hash);
        expect(keys).toHaveLength(1);
        const bytes = (await db.get(keys[0], { valueEncoding: "buffer" })) as unknown as Buffer;
        await db.put(keys[0], change(bytes) as never, { valueEncoding: "buffer" });
      });
      const report = await verifyDir();
      expect(report).toMatchObject({ ok: false, firstBad: spawns[0].seq, count: spawns[0].seq - 1 });
      if (!report.ok) {
        expect(report.problem).toContain(`event ${spawns[0].seq} (the spawn of run "${spawns[0].runId}") refers to the blob ${hash}`);
        expect(report.problem).toMatch(/the blob was changed/);
      }
      const io = capture();
      expect(await main(["verify", "--log", tmp.dir], io)).toBe(1);
      expect(io.out).toMatch(new RegExp(`^TAMPERED at event ${spawns[0].seq}: .*blob ${hash}`));
    });
  }

  it("two blobs swapped: verify names the first spawn whose code is not its own", async () => {
    const { spawns } = await record();
    const [a, b] = [spawns[0].data.codeHash as string, spawns[1].data.codeHash as string];
    expect(a).not.toBe(b);
    await withDb(tmp.dir, async (db) => {
      const [ka] = await blobKeys(db, a);
      const [kb] = await blobKeys(db, b);
      const [va, vb] = (await db.getMany([ka, kb], { valueEncoding: "buffer" })) as unknown as Buffer[];
      await db.batch([
        { type: "put", key: ka, value: vb as never, valueEncoding: "buffer" } as never,
        { type: "put", key: kb, value: va as never, valueEncoding: "buffer" } as never,
      ]);
    });
    const report = await verifyDir();
    expect(report).toMatchObject({ ok: false, firstBad: spawns[0].seq });
    if (!report.ok) expect(report.problem).toContain(`refers to the blob ${a}`);
  });

  it("a deleted blob: verify names the spawn event that says the log holds it", async () => {
    const { spawns } = await record();
    const hash = spawns[1].data.codeHash as string;
    await withDb(tmp.dir, async (db) => {
      const keys = await blobKeys(db, hash);
      expect(keys).toHaveLength(1);
      await db.del(keys[0]);
    });
    const report = await verifyDir();
    expect(report).toMatchObject({ ok: false, firstBad: spawns[1].seq });
    if (!report.ok) expect(report.problem).toContain(`event ${spawns[1].seq} (the spawn of run "${spawns[1].runId}") records that the log holds the agent's code as the blob ${hash}`);
    const io = capture();
    expect(await main(["verify", "--log", tmp.dir, "--json"], io)).toBe(1);
    expect(JSON.parse(io.out)).toMatchObject({ ok: false, firstBad: spawns[1].seq });
  });

  it("blobs under the key of logs written before segments (b!<hash>) are checked too", async () => {
    const { spawns } = await record();
    const hash = spawns[1].data.codeHash as string;
    let source: Buffer | undefined;
    // An older log: the same blob under b!<hash>, nothing in the event keyspace.
    await withDb(tmp.dir, async (db) => {
      const [key] = await blobKeys(db, hash);
      source = (await db.get(key, { valueEncoding: "buffer" })) as unknown as Buffer;
      await db.batch([{ type: "del", key } as never, { type: "put", key: "b!" + hash, value: source as never, valueEncoding: "buffer" } as never]);
    });
    expect((await verifyDir()).ok).toBe(true);
    await withDb(tmp.dir, (db) => db.put("b!" + hash, Buffer.from(source!.toString("utf8").replace("second", "Second")) as never, { valueEncoding: "buffer" }));
    const report = await verifyDir();
    expect(report).toMatchObject({ ok: false, firstBad: spawns[1].seq });
    if (!report.ok) expect(report.problem).toMatch(/the copy stored under the key of logs written before segments does not match/);
  });

  it("every copy is checked: a blob stored by two kernels, one copy changed", async () => {
    await record();
    // A second kernel on the same log stores the sources again (its own copy, after its own batch).
    const { spawns } = await record();
    const hash = spawns[0].data.codeHash as string;
    await withDb(tmp.dir, async (db) => {
      const keys = await blobKeys(db, hash);
      expect(keys).toHaveLength(2);
      await db.put(keys[1], "changed" as never);
    });
    const report = await verifyDir();
    expect(report).toMatchObject({ ok: false, firstBad: spawns[0].seq });
  });

  it("a blob no event refers to is not required, but a changed one is reported at the event it was stored with", async () => {
    let log = await openLog({ dir: tmp.dir });
    await log.append({ type: "checkpoint", runId: "r", pid: 1, agent: "host", data: { label: "before" } });
    const hash = await log.putBlob(new TextEncoder().encode("a host's own blob"));
    const after = await log.append({ type: "checkpoint", runId: "r", pid: 1, agent: "host", data: { label: "after" } });
    await log.close();
    expect((await verifyDir()).ok).toBe(true);
    let stored = 0;
    await withDb(tmp.dir, async (db) => {
      const [key] = await blobKeys(db, hash);
      stored = Number(key.slice(2, 18));
      await db.put(key, "a host's own blob, changed" as never);
    });
    expect(stored).toBeLessThan(after.seq);
    const report = await verifyDir();
    expect(report).toMatchObject({ ok: false, firstBad: Math.max(1, stored) });
    if (!report.ok) expect(report.problem).toContain(`the blob ${hash} (the copy stored with event ${stored}, which no event refers to) does not match its hash`);
    log = await openLog({ dir: tmp.dir });
    await log.close();
  });

  it("a spawn that does not say the log holds its code (a component, an older log) needs no blob", async () => {
    const log = await openLog({ dir: tmp.dir });
    const codeHash = "ab".repeat(32);
    await log.append({ type: "spawn", runId: "c1", pid: 1, agent: "component", data: { engine: "component", codeHash } });
    expect((await log.verify()).ok).toBe(true);
    const promised = await log.append({ type: "spawn", runId: "c2", pid: 2, agent: "module", data: { engine: "quickjs", codeHash, codeStored: true } });
    const report = await log.verify();
    expect(report).toMatchObject({ ok: false, firstBad: promised.seq });
    await log.close();
  });

  it("the in-memory log checks its blobs as well", async () => {
    const log = await openLog(false);
    const hash = await log.putBlob(new TextEncoder().encode("source"));
    await log.append({ type: "spawn", runId: "m1", pid: 1, agent: "a", data: { engine: "quickjs", codeHash: hash, codeStored: true } });
    expect((await log.verify()).ok).toBe(true);
    const missing = await log.append({ type: "spawn", runId: "m2", pid: 2, agent: "b", data: { engine: "quickjs", codeHash: "cd".repeat(32), codeStored: true } });
    expect(await log.verify()).toMatchObject({ ok: false, firstBad: missing.seq });
    await log.close();
  });
});

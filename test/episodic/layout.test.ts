/**
 * The LevelDB log's layout: everything an append writes lies in the event keyspace, in
 * sequence order (so that LevelDB never has to merge and rewrite its tables), the run index
 * file beside the database is derived data that a damaged or lost copy cannot mislead, and a
 * log written in the layout before (a head key and run index keys) still opens, verifies,
 * answers queries by run and takes appends.
 */
import { createHash } from "node:crypto";
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eventBody, openLog } from "../../dist/runtime/episodic/index.js";
import { blobKey, headKey, INDEX_FILE, runMarkKey, SEGMENT_EVENTS, segmentKey } from "../../dist/runtime/hosts/node/log/level.js";
import type { LoggedEvent } from "../../dist/runtime/types.js";
import { callEvent, tempDir } from "./helpers.js";
import { singleKey, withDb, type Db } from "./stored.js";

let tmp: { dir: string; remove: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

const keysOf = (dir: string): Promise<string[]> => withDb(dir, (db) => db.keys().all());

/** A blob as logs written before stored it (`b!<hash>`). */
const LEGACY_BLOB = { text: "old agent source", hash: createHash("sha256").update("old agent source").digest("hex") };

/**
 * Turns a log into the layout before segments and markers: one key per event, `m!head` (at
 * the head, or at `headSeq`), `r!<run>!<seq>` for the runs' first events, no index file.
 */
async function toLegacyLayout(dir: string, events: LoggedEvent[], headSeq = events.length): Promise<void> {
  await withDb(dir, async (db: Db) => {
    const keys = (await db.keys({ gte: "e!", lt: 'e"' }).all());
    const byRun = new Map<string, number>();
    for (const e of events) if (!byRun.has(e.runId)) byRun.set(e.runId, e.seq);
    const head = events[headSeq - 1];
    await db.batch([
      ...keys.map((key) => ({ type: "del" as const, key })),
      ...events.map((e) => ({ type: "put" as const, key: singleKey(e.seq), value: e.hash + eventBody(e) })),
      { type: "put", key: "m!head", value: JSON.stringify({ seq: head.seq, hash: head.hash, time: head.time }) },
      ...[...byRun].map(([runId, seq]) => ({ type: "put" as const, key: `r!${runId}!${String(seq).padStart(16, "0")}`, value: "" })),
      { type: "put", key: "b!" + LEGACY_BLOB.hash, value: LEGACY_BLOB.text },
    ]);
  });
  await rm(path.join(dir, INDEX_FILE));
}

async function runSeqs(dir: string, runId: string): Promise<number[]> {
  const log = await openLog({ dir });
  try {
    const seqs: number[] = [];
    for await (const e of log.query({ runId })) seqs.push(e.seq);
    return seqs;
  } finally {
    await log.close();
  }
}

/** Three batches of events of three runs ("run-0", "run-1", "run-2", interleaved), closed. */
async function writeBatches(dir: string): Promise<LoggedEvent[]> {
  const log = await openLog({ dir });
  const events: LoggedEvent[] = [];
  for (let batch = 0; batch < 3; batch++) {
    events.push(...(await Promise.all(Array.from({ length: 10 }, (_, i) => log.append(callEvent(batch * 10 + i))))));
  }
  await log.close();
  return events;
}

describe("the LevelDB log's layout", () => {
  it("writes only the event keyspace: a segment per batch, a head marker per batch, a run marker per run", async () => {
    const events = await writeBatches(tmp.dir);
    const keys = await keysOf(tmp.dir);
    const expected = [
      ...[1, 11, 21].map((first) => segmentKey(first, first + 9)),
      ...[10, 20, 30].map(headKey),
      ...[1, 2, 3].map(runMarkKey),
    ].sort();
    expect(keys).toEqual(expected);
    // The markers are not events: queries, get and verify see the 30 events only.
    const log = await openLog({ dir: tmp.dir });
    expect(await log.verify()).toEqual({ ok: true, count: 30, head: events[29].hash });
    const all: number[] = [];
    for await (const e of log.query({ order: "newest" })) all.push(e.seq);
    expect(all).toEqual(events.map((e) => e.seq).reverse());
    await log.close();
  });

  it("a run continued after a reopen keeps its first event (no second marker)", async () => {
    await writeBatches(tmp.dir);
    const log = await openLog({ dir: tmp.dir });
    const later = await log.append(callEvent(0));
    await log.close();
    expect(later.runId).toBe("run-0");
    expect((await keysOf(tmp.dir)).filter((k) => k.endsWith("r"))).toEqual([1, 2, 3].map(runMarkKey));
    const seqs = await runSeqs(tmp.dir, "run-0");
    expect(seqs[0]).toBe(1);
    expect(seqs.at(-1)).toBe(later.seq);
  });

  const expectRunsFound = async (events: LoggedEvent[]) => {
    for (const runId of ["run-0", "run-1", "run-2"]) {
      expect(await runSeqs(tmp.dir, runId)).toEqual(events.filter((e) => e.runId === runId).map((e) => e.seq));
    }
  };

  it("rebuilds a lost index file from the markers", async () => {
    const events = await writeBatches(tmp.dir);
    await rm(path.join(tmp.dir, INDEX_FILE));
    await expectRunsFound(events);
    // ...and writes it again.
    expect(await readFile(path.join(tmp.dir, INDEX_FILE), "utf8")).toMatch(/\[1,"run-0"\]/);
  });

  it("is not misled by a damaged or edited index file", async () => {
    const events = await writeBatches(tmp.dir);
    const file = path.join(tmp.dir, INDEX_FILE);
    const text = await readFile(file, "utf8");
    expect(text).toContain('[2,"run-1"]');
    // run-1 said to start at event 20 (it starts at 2), a cut line, and garbage.
    await writeFile(file, text.replace('[2,"run-1"]', '[20,"run-1"]') + '[31,"ru' + "\nnot json\n");
    await expectRunsFound(events);
  });

  it("rebuilds an index file that claims a run the log does not mark, so that the run still gets its marker", async () => {
    await writeBatches(tmp.dir);
    const file = path.join(tmp.dir, INDEX_FILE);
    await writeFile(file, (await readFile(file, "utf8")) + '[5,"run-new"]\n');
    const log = await openLog({ dir: tmp.dir });
    const first = await log.append(callEvent(99, { runId: "run-new" }));
    expect(await log.verify()).toMatchObject({ ok: true, count: 31 });
    await log.close();
    expect(await keysOf(tmp.dir)).toContain(runMarkKey(first.seq));
    expect(await runSeqs(tmp.dir, "run-new")).toEqual([31]);
    expect(await readFile(file, "utf8")).not.toContain('[5,"run-new"]');
  });

  it("catches up with runs the file missed (a crash after the batch, before the file write)", async () => {
    const events = await writeBatches(tmp.dir);
    const file = path.join(tmp.dir, INDEX_FILE);
    // What the file held before the batch that started run-2 was written.
    await writeFile(file, '[1,"run-0"]\n[2,"run-1"]\n');
    await expectRunsFound(events);
  });

  it("still reads, verifies and extends a log written with a key per event, a head key and run index keys", async () => {
    const events = await writeBatches(tmp.dir);
    await toLegacyLayout(tmp.dir, events);
    expect((await keysOf(tmp.dir)).filter((k) => k.startsWith("e!"))).toEqual(events.map((e) => singleKey(e.seq)));
    const last = events[29];

    let log = await openLog({ dir: tmp.dir });
    expect(await log.verify()).toEqual({ ok: true, count: 30, head: last.hash });
    expect(await log.get(17)).toEqual(events[16]);
    expect(Buffer.from((await log.getBlob(LEGACY_BLOB.hash))!).toString()).toBe(LEGACY_BLOB.text);
    const more = await log.append(callEvent(0)); // run-0 again: its start stays event 1
    await log.close();
    expect(more.seq).toBe(31);
    const keys = await keysOf(tmp.dir);
    expect(keys).not.toContain("m!head");
    expect(keys).toContain(segmentKey(31, 31));
    expect(keys).toContain(headKey(31));
    expect(await runSeqs(tmp.dir, "run-0")).toEqual([...events.filter((e) => e.runId === "run-0").map((e) => e.seq), 31]);
    log = await openLog({ dir: tmp.dir });
    expect(await log.verify()).toEqual({ ok: true, count: 31, head: more.hash });
    const newest: number[] = [];
    for await (const e of log.query({ order: "newest", limit: 3 })) newest.push(e.seq);
    expect(newest).toEqual([31, 30, 29]);
    await log.close();
  });

  it("a legacy head names a cut tail", async () => {
    const events = await writeBatches(tmp.dir);
    await toLegacyLayout(tmp.dir, events);
    await withDb(tmp.dir, (db) => db.del(singleKey(30)));
    const log = await openLog({ dir: tmp.dir });
    expect(await log.verify()).toMatchObject({ ok: false, firstBad: 30, count: 29 });
    await log.close();
  });

  it("reads any event out of segments, forwards and backwards, across segment bounds", async () => {
    const log = await openLog({ dir: tmp.dir });
    // 150 events in one batch: segments of SEGMENT_EVENTS events.
    const events = await Promise.all(Array.from({ length: 150 }, (_, i) => log.append(callEvent(i))));
    await log.close();
    const segments = (await keysOf(tmp.dir)).filter((k) => k.length === 34);
    expect(segments).toEqual([segmentKey(1, SEGMENT_EVENTS), segmentKey(SEGMENT_EVENTS + 1, 2 * SEGMENT_EVENTS), segmentKey(2 * SEGMENT_EVENTS + 1, 150)]);
    const again = await openLog({ dir: tmp.dir });
    for (const seq of [1, SEGMENT_EVENTS, SEGMENT_EVENTS + 1, 100, 150]) expect(await again.get(seq)).toEqual(events[seq - 1]);
    expect(await again.get(151)).toBeUndefined();
    const window: number[] = [];
    for await (const e of again.query({ fromSeq: 60, toSeq: 70, order: "newest" })) window.push(e.seq);
    expect(window).toEqual(Array.from({ length: 11 }, (_, i) => 70 - i));
    expect(await again.verify()).toEqual({ ok: true, count: 150, head: events[149].hash });
    await again.close();
  });

  it("stores a batch that outgrows the writer's arena, and a record larger than a segment, and reads them back", async () => {
    const log = await openLog({ dir: tmp.dir });
    const big = "é".repeat(70_000); // over 64 KiB of UTF-8: a segment of its own
    const pending = Array.from({ length: 3000 }, (_, i) =>
      log.append(i === 1500 ? callEvent(i, { data: { note: big } }) : callEvent(i, { data: { note: "ü-" + "x".repeat(600) + i } })),
    );
    const events = await Promise.all(pending);
    await log.close();
    const segments = (await keysOf(tmp.dir)).filter((k) => k.length === 34);
    expect(segments).toContain(segmentKey(1501, 1501));
    expect(segments.length).toBeGreaterThan(3000 / SEGMENT_EVENTS);
    const again = await openLog({ dir: tmp.dir });
    expect(await again.verify()).toEqual({ ok: true, count: 3000, head: events[2999].hash });
    for (const seq of [1, 1500, 1501, 1502, 2222, 3000]) expect(await again.get(seq)).toEqual(events[seq - 1]);
    await again.close();
  });

  it("answers every read as the in-memory log does, over random batches, sizes and reopens", async () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = (n: number) => Math.floor(random() * n);
    // The log reads its clock once per event it seals: two clocks ticking alike give both logs the same times.
    const base = Date.parse("2026-01-01T00:00:00Z");
    let memoryTicks = 0;
    let levelTicks = 0;
    const memory = await openLog({ dir: false, now: () => base + 3 * memoryTicks++ });
    const levelNow = () => base + 3 * levelTicks++;
    let level = await openLog({ dir: tmp.dir, now: levelNow });
    let n = 0;
    const blobs: string[] = [];
    for (let round = 0; round < 12; round++) {
      const size = 1 + pick(round % 3 === 0 ? 300 : 20);
      const batch = Array.from({ length: size }, () => {
        const i = n++;
        const note = pick(40) === 0 ? "ß".repeat(40_000) : "x".repeat(pick(2000));
        return callEvent(i, { runId: "run-" + pick(5), data: { i, note } });
      });
      const blob = pick(3) === 0 ? new TextEncoder().encode("blob " + round + " " + "y".repeat(pick(5000))) : undefined;
      const [expected, stored] = await Promise.all([
        Promise.all(batch.map((e) => memory.append(e))),
        Promise.all(batch.map((e) => level.append(e))),
        blob && Promise.all([memory.putBlob(blob), level.putBlob(blob)]).then(([m, l]) => blobs.push(m, l)),
      ]);
      expect(stored.map((e) => e.hash)).toEqual(expected.map((e) => e.hash));
      if (pick(3) === 0) {
        await level.close();
        level = await openLog({ dir: tmp.dir, now: levelNow });
      }
    }
    const all = async (log: typeof memory, q: Parameters<typeof memory.query>[0]) => {
      const out: string[] = [];
      for await (const e of log.query(q)) out.push(`${e.seq}:${e.hash}`);
      return out;
    };
    for (let k = 0; k < 40; k++) {
      const fromSeq = 1 + pick(n);
      const q = { fromSeq, toSeq: fromSeq + pick(200), order: pick(2) ? ("newest" as const) : ("oldest" as const), runId: pick(2) ? "run-" + pick(5) : undefined };
      expect(await all(level, q)).toEqual(await all(memory, q));
      const seq = 1 + pick(n + 2);
      expect(await level.get(seq)).toEqual(await memory.get(seq));
    }
    expect(await level.verify()).toEqual(await memory.verify());
    expect(blobs.length).toBeGreaterThan(0);
    for (const hash of blobs) expect(await level.getBlob(hash)).toEqual(await memory.getBlob(hash));
    await level.close();
    await memory.close();
  });

  it("a damaged head marker still names a cut tail, and alone is reported too; the chain goes on from the records", async () => {
    const events = await writeBatches(tmp.dir);
    await withDb(tmp.dir, (db) => db.put(headKey(30), "not a head"));
    let log = await openLog({ dir: tmp.dir });
    expect(await log.verify()).toMatchObject({ ok: false, firstBad: 30, count: 30, problem: expect.stringMatching(/not the event the log's head records/) });
    const next = await log.append(callEvent(30));
    expect(next).toMatchObject({ seq: 31, prev: events[29].hash });
    expect(await log.verify()).toEqual({ ok: true, count: 31, head: next.hash });
    await log.close();
    // The newest marker damaged and the tail cut off with it.
    await withDb(tmp.dir, async (db) => {
      await db.put(headKey(31), "{}");
      await db.del(segmentKey(31, 31));
    });
    log = await openLog({ dir: tmp.dir });
    expect(await log.verify()).toMatchObject({ ok: false, firstBad: 31, count: 30 });
    await log.close();
  });

  describe("verify checks the run index against the chain", () => {
    // writeBatches: event i + 1 is of run-(i % 3), so run-0 begins at 1, run-1 at 2, run-2 at 3.
    const tamperRuns = async (tamper: (db: Db) => Promise<void>) => {
      await writeBatches(tmp.dir);
      await withDb(tmp.dir, tamper);
      const log = await openLog({ dir: tmp.dir });
      try {
        return await log.verify();
      } finally {
        await log.close();
      }
    };

    it("a run mark moved to a later event of the run (which hides the events before it)", async () => {
      const report = await tamperRuns(async (db) => {
        await db.del(runMarkKey(1));
        await db.put(runMarkKey(4), "run-0");
      });
      expect(report).toMatchObject({ ok: false, firstBad: 1, count: 0 });
      if (!report.ok) expect(report.problem).toMatch(/event 1 begins run "run-0", but the log's run index marks event 4/);
      // ...and it did hide them: a query by run starts at the mark.
      expect(await runSeqs(tmp.dir, "run-0")).not.toContain(1);
    });

    it("a run mark taken away", async () => {
      const report = await tamperRuns((db) => db.del(runMarkKey(2)));
      expect(report).toMatchObject({ ok: false, firstBad: 2, count: 1 });
      if (!report.ok) expect(report.problem).toMatch(/event 2 begins run "run-1", which the log's run index does not mark/);
    });

    it("a run mark naming another run", async () => {
      const report = await tamperRuns((db) => db.put(runMarkKey(3), "run-9"));
      expect(report).toMatchObject({ ok: false, firstBad: 3, count: 2 });
    });
  });

  it("stores a blob after its batch's other keys (or, alone, after the head), and finds it again, index file or not", async () => {
    const text = (n: number) => new TextEncoder().encode(`agent source ${n}`);
    let log = await openLog({ dir: tmp.dir });
    const [a] = await Promise.all([log.putBlob(text(1)), ...Array.from({ length: 5 }, (_, i) => log.append(callEvent(i)))]);
    const b = await log.putBlob(text(2)); // a batch of its own, after event 5
    await log.append(callEvent(5));
    await log.close();
    const keys = await keysOf(tmp.dir);
    expect(keys).toEqual([segmentKey(1, 5), headKey(5), blobKey(5, a), blobKey(5, b), runMarkKey(1), runMarkKey(2), runMarkKey(3), segmentKey(6, 6), headKey(6)].sort());
    expect(keys.filter((k) => !k.startsWith("e!"))).toEqual([]);
    // Every key of the first batch, and the lone blob, sort before every key of the next batch.
    expect(blobKey(5, "f".repeat(64)) < segmentKey(6, 6)).toBe(true);
    for (const lose of [false, true]) {
      if (lose) await rm(path.join(tmp.dir, INDEX_FILE));
      log = await openLog({ dir: tmp.dir });
      expect(Buffer.from((await log.getBlob(a))!).toString()).toBe("agent source 1");
      expect(Buffer.from((await log.getBlob(b))!).toString()).toBe("agent source 2");
      expect(await log.getBlob("0".repeat(64))).toBeUndefined();
      expect(await log.verify()).toMatchObject({ ok: true, count: 6 });
      await log.close();
    }
    // An index file that names the wrong place: the blob is still found.
    await writeFile(path.join(tmp.dir, INDEX_FILE), JSON.stringify(["blob", a, 3]) + "\n");
    log = await openLog({ dir: tmp.dir });
    expect(Buffer.from((await log.getBlob(a))!).toString()).toBe("agent source 1");
    await log.close();
  });
});

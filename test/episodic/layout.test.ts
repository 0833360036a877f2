/**
 * The LevelDB log's layout: everything an append writes lies in the event keyspace, in
 * sequence order (so that LevelDB never has to merge and rewrite its tables), the run index
 * file beside the database is derived data that a damaged or lost copy cannot mislead, and a
 * log written in the layout before (a head key and run index keys) still opens, verifies,
 * answers queries by run and takes appends.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { ClassicLevel } from "classic-level";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openLog } from "../../dist/runtime/episodic/index.js";
import { eventKey, headKey, RUN_INDEX_FILE, runMarkKey } from "../../dist/runtime/episodic/level.js";
import type { LoggedEvent } from "../../dist/runtime/types.js";
import { callEvent, tempDir } from "./helpers.js";

let tmp: { dir: string; remove: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

async function keysOf(dir: string): Promise<string[]> {
  const db = new ClassicLevel<string, string>(dir);
  await db.open();
  try {
    return await db.keys().all();
  } finally {
    await db.close();
  }
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
  it("writes only the event keyspace: the events, a head marker per batch, a run marker per run", async () => {
    const events = await writeBatches(tmp.dir);
    const keys = await keysOf(tmp.dir);
    const expected = [
      ...events.map((e) => eventKey(e.seq)),
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

  it("rebuilds a lost run index file from the markers", async () => {
    const events = await writeBatches(tmp.dir);
    await rm(path.join(tmp.dir, RUN_INDEX_FILE));
    await expectRunsFound(events);
    // ...and writes it again.
    expect(await readFile(path.join(tmp.dir, RUN_INDEX_FILE), "utf8")).toMatch(/\[1,"run-0"\]/);
  });

  it("is not misled by a damaged or edited run index file", async () => {
    const events = await writeBatches(tmp.dir);
    const file = path.join(tmp.dir, RUN_INDEX_FILE);
    const text = await readFile(file, "utf8");
    expect(text).toContain('[2,"run-1"]');
    // run-1 said to start at event 20 (it starts at 2), a cut line, and garbage.
    await writeFile(file, text.replace('[2,"run-1"]', '[20,"run-1"]') + '[31,"ru' + "\nnot json\n");
    await expectRunsFound(events);
  });

  it("catches up with runs the file missed (a crash after the batch, before the file write)", async () => {
    const events = await writeBatches(tmp.dir);
    const file = path.join(tmp.dir, RUN_INDEX_FILE);
    // What the file held before the batch that started run-2 was written.
    await writeFile(file, '[1,"run-0"]\n[2,"run-1"]\n');
    await expectRunsFound(events);
  });

  it("still reads, verifies and extends a log written with a head key and run index keys", async () => {
    const events = await writeBatches(tmp.dir);
    // Turn it into the layout before markers: no markers, no index file, `m!head` and `r!<run>!<seq>`.
    const db = new ClassicLevel<string, string>(tmp.dir);
    await db.open();
    const markers = (await db.keys().all()).filter((k) => k.length === 19);
    const last = events[29];
    await db.batch([
      ...markers.map((key) => ({ type: "del" as const, key })),
      { type: "put", key: "m!head", value: JSON.stringify({ seq: 30, hash: last.hash, time: last.time }) },
      ...["run-0", "run-1", "run-2"].map((runId, i) => ({ type: "put" as const, key: `r!${runId}!${String(i + 1).padStart(16, "0")}`, value: "" })),
    ]);
    await db.close();
    await rm(path.join(tmp.dir, RUN_INDEX_FILE));

    let log = await openLog({ dir: tmp.dir });
    expect(await log.verify()).toEqual({ ok: true, count: 30, head: last.hash });
    const more = await log.append(callEvent(0)); // run-0 again: its start stays event 1
    await log.close();
    expect(more.seq).toBe(31);
    const keys = await keysOf(tmp.dir);
    expect(keys).not.toContain("m!head");
    expect(keys).toContain(headKey(31));
    expect(await runSeqs(tmp.dir, "run-0")).toEqual([...events.filter((e) => e.runId === "run-0").map((e) => e.seq), 31]);
    log = await openLog({ dir: tmp.dir });
    expect(await log.verify()).toEqual({ ok: true, count: 31, head: more.hash });
    await log.close();
  });

  it("a legacy head names a cut tail", async () => {
    const events = await writeBatches(tmp.dir);
    const db = new ClassicLevel<string, string>(tmp.dir);
    await db.open();
    const markers = (await db.keys().all()).filter((k) => k.length === 19 && k.endsWith("h"));
    const last = events[29];
    await db.batch([
      ...markers.map((key) => ({ type: "del" as const, key })),
      { type: "put", key: "m!head", value: JSON.stringify({ seq: 30, hash: last.hash, time: last.time }) },
      { type: "del", key: eventKey(30) },
    ]);
    await db.close();
    const log = await openLog({ dir: tmp.dir });
    expect(await log.verify()).toMatchObject({ ok: false, firstBad: 30, count: 29 });
    await log.close();
  });
});

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openLog } from "../../dist/runtime/episodic/index.js";
import { callEvent, tempDir } from "./helpers.js";
import { editStored, holding, removeStored, segmentKey, withDb, type Db } from "./stored.js";

let tmp: { dir: string; remove: () => Promise<void> };

/**
 * Writes 50 events in 5 batches of 10 (stored as the segments 1-10, 11-20, ... 41-50), closes
 * the log, lets `tamper` change the files through a second handle, and verifies.
 */
async function tamperAndVerify(tamper: (db: Db) => Promise<void>) {
  let log = await openLog({ dir: tmp.dir });
  for (let b = 0; b < 5; b++) await Promise.all(Array.from({ length: 10 }, (_, i) => log.append(callEvent(b * 10 + i))));
  expect((await log.verify()).ok).toBe(true);
  await log.close();
  await withDb(tmp.dir, async (db) => {
    expect((await holding(db, 23)).key).toBe(segmentKey(21, 30));
    await tamper(db);
  });
  log = await openLog({ dir: tmp.dir });
  const report = await log.verify();
  await log.close();
  return report;
}

beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

describe("verify names the first tampered event", () => {
  it("a changed value (one character of one event's data, inside its segment)", async () => {
    const report = await tamperAndVerify((db) => editStored(db, 17, (v) => v.replace("/workspace/file-16.txt", "/workspace/file-99.txt")));
    expect(report).toMatchObject({ ok: false, firstBad: 17, count: 16 });
    if (!report.ok) expect(report.problem).toMatch(/event 17 was changed/);
  });

  it("a value changed and rehashed: the next event no longer links", async () => {
    const { chainHash } = await import("../../dist/runtime/episodic/encoding.js");
    const report = await tamperAndVerify((db) =>
      editStored(db, 30, (v) => {
        const body = v.slice(64).replace('"bytes":29', '"bytes":0');
        const prev = (JSON.parse(body) as { prev: string }).prev;
        return chainHash(prev, body) + body;
      }),
    );
    expect(report).toMatchObject({ ok: false, firstBad: 31 });
    if (!report.ok) expect(report.problem).toMatch(/does not follow event 30/);
  });

  it("a damaged value that is not records", async () => {
    const report = await tamperAndVerify((db) => db.put(segmentKey(1, 10), "x".repeat(80)));
    expect(report).toMatchObject({ ok: false, firstBad: 1, count: 0 });
  });

  it("a deleted key (a segment gone: a gap in the sequence)", async () => {
    const report = await tamperAndVerify((db) => db.del(segmentKey(21, 30)));
    expect(report).toMatchObject({ ok: false, firstBad: 21, count: 20 });
    if (!report.ok) expect(report.problem).toMatch(/event 21 is missing/);
  });

  it("one event taken out of its segment", async () => {
    const report = await tamperAndVerify((db) => removeStored(db, 23));
    expect(report).toMatchObject({ ok: false, firstBad: 23, count: 22 });
    if (!report.ok) expect(report.problem).toMatch(/event 23 holds event 24/);
  });

  it("the last key deleted (the tail cut off)", async () => {
    const report = await tamperAndVerify((db) => db.del(segmentKey(41, 50)));
    expect(report).toMatchObject({ ok: false, firstBad: 41, count: 40 });
  });

  it("two values swapped", async () => {
    const report = await tamperAndVerify(async (db) => {
      const [a, b] = (await db.getMany([segmentKey(11, 20), segmentKey(31, 40)])) as string[];
      await db.batch([
        { type: "put", key: segmentKey(11, 20), value: b },
        { type: "put", key: segmentKey(31, 40), value: a },
      ]);
    });
    expect(report).toMatchObject({ ok: false, firstBad: 11, count: 10 });
    if (!report.ok) expect(report.problem).toMatch(/holds event 31/);
  });

  it("an untouched log verifies, with the count and the head hash", async () => {
    const report = await tamperAndVerify(async () => {});
    const log = await openLog({ dir: tmp.dir });
    expect(report).toEqual({ ok: true, count: 50, head: log.head().hash });
    await log.close();
  });

  it("a changed blob is refused when read", async () => {
    let log = await openLog({ dir: tmp.dir });
    const hash = await log.putBlob(new Uint8Array([1, 2, 3]));
    await log.close();
    await withDb(tmp.dir, async (db) => {
      const [key] = (await db.keys().all()).filter((k) => k.endsWith("~" + hash));
      await db.put(key, "\u0001\u0002\u0004");
    });
    log = await openLog({ dir: tmp.dir });
    await expect(log.getBlob(hash)).rejects.toThrow(/was altered/);
    await log.close();
  });
});

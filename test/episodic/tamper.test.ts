import { ClassicLevel } from "classic-level";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openLog } from "../../dist/runtime/episodic/index.js";
import { callEvent, tempDir } from "./helpers.js";

const key = (seq: number) => "e!" + String(seq).padStart(16, "0");
let tmp: { dir: string; remove: () => Promise<void> };

/** Writes 50 events, closes the log, lets `tamper` change the files through a second handle, and verifies. */
async function tamperAndVerify(tamper: (db: ClassicLevel<string, string>) => Promise<void>) {
  let log = await openLog({ dir: tmp.dir });
  await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(callEvent(i))));
  expect((await log.verify()).ok).toBe(true);
  await log.close();
  const db = new ClassicLevel<string, string>(tmp.dir);
  await db.open();
  await tamper(db);
  await db.close();
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
  it("a changed value (one character of the data)", async () => {
    const report = await tamperAndVerify(async (db) => {
      const v = (await db.get(key(17))) as string;
      await db.put(key(17), v.replace("/workspace/file-16.txt", "/workspace/file-99.txt"));
    });
    expect(report).toMatchObject({ ok: false, firstBad: 17, count: 16 });
    if (!report.ok) expect(report.problem).toMatch(/event 17 was changed/);
  });

  it("a value changed and rehashed: the next event no longer links", async () => {
    const { chainHash } = await import("../../dist/runtime/episodic/encoding.js");
    const report = await tamperAndVerify(async (db) => {
      const v = (await db.get(key(30))) as string;
      const body = v.slice(64).replace('"bytes":29', '"bytes":0');
      const prev = (JSON.parse(body) as { prev: string }).prev;
      await db.put(key(30), chainHash(prev, body) + body);
    });
    expect(report).toMatchObject({ ok: false, firstBad: 31 });
    if (!report.ok) expect(report.problem).toMatch(/does not follow event 30/);
  });

  it("a damaged record that is not JSON", async () => {
    const report = await tamperAndVerify((db) => db.put(key(1), "x".repeat(80)));
    expect(report).toMatchObject({ ok: false, firstBad: 1, count: 0 });
  });

  it("a deleted key (a gap in the sequence)", async () => {
    const report = await tamperAndVerify((db) => db.del(key(23)));
    expect(report).toMatchObject({ ok: false, firstBad: 23, count: 22 });
    if (!report.ok) expect(report.problem).toMatch(/event 23 is missing/);
  });

  it("the last key deleted (the tail cut off)", async () => {
    const report = await tamperAndVerify((db) => db.del(key(50)));
    expect(report).toMatchObject({ ok: false, firstBad: 50, count: 49 });
  });

  it("two values swapped", async () => {
    const report = await tamperAndVerify(async (db) => {
      const [a, b] = (await db.getMany([key(12), key(40)])) as string[];
      await db.batch([
        { type: "put", key: key(12), value: b },
        { type: "put", key: key(40), value: a },
      ]);
    });
    expect(report).toMatchObject({ ok: false, firstBad: 12, count: 11 });
    if (!report.ok) expect(report.problem).toMatch(/holds event 40/);
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
    const db = new ClassicLevel<string, Uint8Array>(tmp.dir, { valueEncoding: "view" });
    await db.put("b!" + hash, new Uint8Array([1, 2, 4]));
    await db.close();
    log = await openLog({ dir: tmp.dir });
    await expect(log.getBlob(hash)).rejects.toThrow(/was altered/);
    await log.close();
  });
});

/**
 * A tamperer who knows the format: rewrites a closed LevelDB log so that it verifies on its own
 * (every event chained again from the first, the segments and the head marker rewritten, run
 * marks past the new end taken away, the derived index file removed). Only anchors published
 * before can tell.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import { chainHash, eventBody, GENESIS } from "../../dist/runtime/episodic/encoding.js";
import { headKey, INDEX_FILE, SEGMENT_EVENTS, segmentKey } from "../../dist/runtime/hosts/node/log/level.js";
import type { LoggedEvent } from "../../dist/runtime/types.js";

/** Rewrites the log at `dir` with `change(events)` (the same sequence numbers, or fewer events), consistently re-chained. */
export async function rewriteLog(dir: string, change: (events: LoggedEvent[]) => LoggedEvent[]): Promise<void> {
  const db = new ClassicLevel<string, string>(dir);
  await db.open();
  try {
    const events: LoggedEvent[] = [];
    const stale: string[] = [];
    const runMarks: string[] = [];
    for await (const [key, value] of db.iterator({ gte: "e!", lt: 'e"' })) {
      if (key.length === 34) {
        stale.push(key);
        for (const record of value.split("\n")) events.push({ ...(JSON.parse(record.slice(64)) as LoggedEvent), hash: record.slice(0, 64) });
      } else if (key.length === 19 && key.endsWith("h")) stale.push(key);
      else if (key.length === 19 && key.endsWith("r")) runMarks.push(key);
    }
    const changed = change(events.map((e) => structuredClone(e)));
    let prev = GENESIS;
    const records: string[] = [];
    for (const [i, e] of changed.entries()) {
      if (e.seq !== i + 1) throw new Error(`rewriteLog: event ${i + 1} has seq ${e.seq}`);
      e.prev = prev;
      const body = eventBody(e);
      e.hash = chainHash(prev, body);
      records.push(e.hash + body);
      prev = e.hash;
    }
    const batch = db.batch();
    for (const key of stale) batch.del(key);
    for (const key of runMarks) if (Number(key.slice(2, 18)) > changed.length) batch.del(key);
    for (let first = 1; first <= changed.length; first += SEGMENT_EVENTS) {
      const last = Math.min(changed.length, first + SEGMENT_EVENTS - 1);
      batch.put(segmentKey(first, last), records.slice(first - 1, last).join("\n"));
    }
    const head = changed[changed.length - 1];
    batch.put(headKey(head.seq), JSON.stringify({ seq: head.seq, hash: head.hash, time: head.time }));
    await batch.write();
  } finally {
    await db.close();
  }
  await rm(join(dir, INDEX_FILE), { force: true });
}

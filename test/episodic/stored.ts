/**
 * Reaching into a closed log's LevelDB files through a second handle, as a tamperer would:
 * events are stored in segments (`e!<first><last>` -> records joined by newlines), or one per
 * key (`e!<seq>`) in logs written before segments.
 */
import { ClassicLevel } from "classic-level";
import { eventKey, segmentKey } from "../../dist/runtime/hosts/node/log/level.js";

export type Db = ClassicLevel<string, string>;

/** The key of a single stored event (the layout before segments). */
export const singleKey = eventKey;

export { segmentKey };

/** The stored value holding event `seq`: its key, the first event in it, and its records. */
export async function holding(db: Db, seq: number): Promise<{ key: string; first: number; records: string[] }> {
  for await (const [key, value] of db.iterator({ gte: "e!", lt: 'e"' })) {
    if (key === singleKey(seq)) return { key, first: seq, records: [value] };
    if (key.length !== 34) continue;
    const first = Number(key.slice(2, 18));
    const last = Number(key.slice(18));
    if (first <= seq && seq <= last) return { key, first, records: value.split("\n") };
  }
  throw new Error(`no stored value holds event ${seq}`);
}

/** Rewrites the stored record (hash + body) of event `seq` in place. */
export async function editStored(db: Db, seq: number, edit: (record: string) => string): Promise<void> {
  const { key, first, records } = await holding(db, seq);
  const before = records[seq - first];
  records[seq - first] = edit(before);
  if (records[seq - first] === before) throw new Error(`the edit changed nothing in event ${seq}`);
  await db.put(key, records.join("\n"));
}

/** Takes the record of event `seq` out of the value that holds it (the events after it move up one place). */
export async function removeStored(db: Db, seq: number): Promise<void> {
  const { key, first, records } = await holding(db, seq);
  records.splice(seq - first, 1);
  await db.put(key, records.join("\n"));
}

/** Opens the log directory through a second handle, runs `fn`, and closes it. */
export async function withDb<T>(dir: string, fn: (db: Db) => Promise<T>): Promise<T> {
  const db: Db = new ClassicLevel<string, string>(dir);
  await db.open();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

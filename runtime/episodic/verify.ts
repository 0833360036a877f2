/**
 * Verification: recompute the hash chain over every stored event, streaming, and name the
 * first event that does not match.
 */
import type { VerifyReport } from "../types.js";
import type { BlobPlace, LogBackend } from "./backend.js";
import { allocBytes, writeLatin1, writeUtf8 } from "../portable/bytes.js";
import { GENESIS, sha256Hex } from "./encoding.js";
import { BlobReferences, checkBlobs } from "./verify-blobs.js";

/**
 * Walks the chain from the first event. An event is bad when it is missing (a gap in the
 * sequence numbers, or the head written with the last batch is beyond the last event), stored
 * under another sequence number (two values swapped), does not link to its predecessor's
 * hash, or its content does not match its hash (changed). Each record is hashed over its stored
 * text, without re-encoding or (when it is sound) parsing.
 *
 * Then, where the backend marks runs (LevelDB), the marks are checked against the chain: each
 * names the first event of its run, and every run has one (but a run begun in the layout
 * before segments, which had no marks). A query by run, and replay, start at the mark: one
 * moved or taken away would hide events from them.
 *
 * And every stored blob is checked against its hash, and every blob a spawn event says the log
 * holds for being there (see verify-blobs.ts): a changed or missing blob is reported at the
 * event that refers to it.
 *
 * @example const report = await verifyChain(backend); if (!report.ok) console.log(report.firstBad);
 */
export async function verifyChain(backend: LogBackend): Promise<VerifyReport> {
  let expected = 1;
  let prev = GENESIS;
  const hasher = new LinkHasher();
  /** Each run's first event, by the run id's JSON text; and the runs whose first event is stored alone. */
  const firstOf = new Map<string, number>();
  const firstAlone = new Set<string>();
  const marks: Array<[seq: number, runId: string]> = [];
  const onRunMark = (seq: number, runId: string) => void marks.push([seq, runId]);
  const blobs: BlobPlace[] = [];
  const onBlob = (place: BlobPlace) => void blobs.push(place);
  const refs = new BlobReferences();
  for await (const chunk of backend.range({ from: 1, to: Number.MAX_SAFE_INTEGER, reverse: false, onRunMark, onBlob })) {
    for (let i = 0; i < chunk.length; i++) {
      const record = chunk[i];
      const seq = record[0];
      const value = record[1];
      if (seq !== expected) return bad(expected - 1, expected, `event ${expected} is missing`);
      const run = linkedRun(seq, value, prev, hasher);
      if (run === undefined) return bad(expected - 1, seq, diagnose(seq, value.slice(HEX), prev));
      if (!firstOf.has(run)) {
        firstOf.set(run, seq);
        if (record[2]) firstAlone.add(run);
      }
      refs.note(seq, value);
      prev = value.slice(0, HEX);
      expected++;
    }
  }
  const count = expected - 1;
  const head = await backend.readHead();
  if (head && head.seq > count) return bad(count, count + 1, `event ${count + 1} is missing (the log's head is event ${head.seq})`);
  if (head && head.seq === count && head.hash !== prev) return bad(count, count, `event ${count} is not the event the log's head records`);
  const wrongMark = backend.marksRuns ? checkRunMarks(marks, firstOf, firstAlone) : undefined;
  const wrongBlob = await checkBlobs(backend, blobs, refs, count);
  const wrong = wrongMark && wrongBlob ? (wrongBlob.seq < wrongMark.seq ? wrongBlob : wrongMark) : wrongMark ?? wrongBlob;
  if (wrong) return bad(wrong.seq - 1, wrong.seq, wrong.problem);
  return { ok: true, count, head: prev };
}

/** The first (lowest) event whose run mark is wrong or missing, and what is wrong; undefined when all are right. */
function checkRunMarks(
  marks: Array<[seq: number, runId: string]>,
  firstOf: Map<string, number>,
  firstAlone: Set<string>,
): { seq: number; problem: string } | undefined {
  let wrong: { seq: number; problem: string } | undefined;
  const note = (seq: number, problem: string) => {
    if (wrong === undefined || seq < wrong.seq) wrong = { seq, problem };
  };
  const marked = new Set<string>();
  for (const [seq, runId] of marks) {
    const run = JSON.stringify(runId);
    const first = firstOf.get(run);
    marked.add(run);
    // (a run begun before segments is marked where this layout took it up, after its first event)
    if (first === seq || (first !== undefined && first < seq && firstAlone.has(run))) continue;
    if (first !== undefined && first < seq) note(first, `event ${first} begins run ${run}, but the log's run index marks event ${seq} (the run index was changed)`);
    else note(seq, `the log's run index marks event ${seq} as the first of run ${run}, which it is not (the run index was changed)`);
  }
  for (const [run, first] of firstOf) {
    if (!marked.has(run) && !firstAlone.has(run)) note(first, `event ${first} begins run ${run}, which the log's run index does not mark (the run index was changed)`);
  }
  return wrong;
}

const HEX = 64;

function bad(count: number, firstBad: number, problem: string): VerifyReport {
  return { ok: false, count, firstBad, problem };
}

/**
 * Whether a stored record (hash + body) is the event `seq` that follows `prev`: its hash is
 * recomputed over `prev + "\n" + body`, and its body names `seq` and `prev`. Gives the JSON
 * text of the event's run id when it is, undefined when it is not.
 *
 * It does not parse: it reads `seq`, `runId` and `prev` at their places near the end of the
 * canonical text (the keys after `data` are sorted, `prev` is 64 hex digits, and the values
 * after it are a JSON string, numbers and a type name, inside which `"seq":` and `","runId":`
 * cannot occur unescaped). A record that fails is parsed by `diagnose`, to say what is wrong
 * with it.
 */
function linkedRun(seq: number, value: string, prev: string, hasher: LinkHasher): string | undefined {
  if (!hasher.matches(prev, value)) return undefined;
  const s = value.lastIndexOf(',"seq":');
  const r = value.lastIndexOf(RUN_ID, s);
  const p = r - HEX - PREV.length;
  const sound = s > HEX && p > HEX && numberAt(value, s + 7) === seq && value.startsWith(PREV, p) && value.startsWith(prev, p + PREV.length);
  return sound ? value.slice(r + RUN_ID.length, s) : undefined;
}

const PREV = ',"prev":"';
const RUN_ID = '","runId":';

/**
 * chainHash(prev, body) of a stored record `hash + body`, without making the string
 * `prev + "\n" + body`: the record is written as UTF-8 into a reused buffer one byte in, and
 * `prev + "\n"` (`prev` is 64 hex digits: the genesis or a hash the walk has checked) then
 * overwrites the stored hash in front of the body.
 */
class LinkHasher {
  private buffer = allocBytes(1 << 16);

  /** Whether the record starts with the hash recomputed over `prev + "\n" + body`. */
  matches(prev: string, record: string): boolean {
    const room = 1 + record.length * 3;
    if (room > this.buffer.length) this.buffer = allocBytes(room);
    const buffer = this.buffer;
    const n = writeUtf8(buffer, record, 1);
    if (n < HEX) return false;
    writeLatin1(buffer, prev, 0);
    buffer[HEX] = 10;
    // (A record whose first 64 characters are not all ASCII cannot start with the hex digits.)
    return record.startsWith(sha256Hex(buffer.subarray(0, n + 1)));
  }
}

/** The decimal integer written at `at` and ended by a comma; -1 when there is none. */
function numberAt(text: string, at: number): number {
  let n = 0;
  let i = at;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 44) break;
    if (c < 48 || c > 57 || i - at > 15) return -1;
    n = n * 10 + (c - 48);
  }
  return i > at && i < text.length && !(text.charCodeAt(at) === 48 && i - at > 1) ? n : -1;
}

function diagnose(seq: number, body: string, prev: string): string {
  let parsed: { seq?: unknown; prev?: unknown };
  try {
    parsed = JSON.parse(body) as { seq?: unknown; prev?: unknown };
  } catch {
    return `event ${seq} cannot be read (its record is damaged)`;
  }
  if (parsed === null || typeof parsed !== "object") return `event ${seq} cannot be read (its record is damaged)`;
  if (parsed.seq !== seq) return `event ${seq} holds event ${String(parsed.seq)} (events out of place)`;
  if (parsed.prev !== prev) return `event ${seq} does not follow event ${seq - 1} (the chain is broken)`;
  return `event ${seq} was changed (its hash does not match)`;
}

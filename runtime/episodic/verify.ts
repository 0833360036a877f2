/**
 * Verification: recompute the hash chain over every stored event, streaming, and name the
 * first event that does not match.
 */
import type { VerifyReport } from "../types.js";
import { type LogBackend } from "./backend.js";
import { GENESIS, sha256Hex } from "./encoding.js";

/**
 * Walks the chain from the first event. An event is bad when it is missing (a gap in the
 * sequence numbers, or the head written with the last batch is beyond the last event), stored
 * under another sequence number (two values swapped), does not link to its predecessor's
 * hash, or its content does not match its hash (changed). Each record is hashed over its stored
 * text, without re-encoding or (when it is sound) parsing.
 *
 * @example const report = await verifyChain(backend); if (!report.ok) console.log(report.firstBad);
 */
export async function verifyChain(backend: LogBackend): Promise<VerifyReport> {
  let expected = 1;
  let prev = GENESIS;
  const hasher = new LinkHasher();
  for await (const chunk of backend.range({ from: 1, to: Number.MAX_SAFE_INTEGER, reverse: false })) {
    for (let i = 0; i < chunk.length; i++) {
      const record = chunk[i];
      const seq = record[0];
      const value = record[1];
      if (seq !== expected) return bad(expected - 1, expected, `event ${expected} is missing`);
      if (!linksTo(seq, value, prev, hasher)) return bad(expected - 1, seq, diagnose(seq, value.slice(HEX), prev));
      prev = value.slice(0, HEX);
      expected++;
    }
  }
  const count = expected - 1;
  const head = await backend.readHead();
  if (head && head.seq > count) return bad(count, count + 1, `event ${count + 1} is missing (the log's head is event ${head.seq})`);
  if (head && head.seq === count && head.hash !== prev) return bad(count, count, `event ${count} is not the event the log's head records`);
  return { ok: true, count, head: prev };
}

const HEX = 64;

function bad(count: number, firstBad: number, problem: string): VerifyReport {
  return { ok: false, count, firstBad, problem };
}

/**
 * Whether a stored record (hash + body) is the event `seq` that follows `prev`: its hash is
 * recomputed over `prev + "\n" + body`, and its body names `seq` and `prev`.
 *
 * It does not parse: it reads `seq` and `prev` at their places near the end of the canonical
 * text (the keys after `data` are sorted and their values are a hash, numbers and strings,
 * inside which `"seq":` cannot occur unescaped). A record that fails is parsed by `diagnose`,
 * to say what is wrong with it.
 */
function linksTo(seq: number, value: string, prev: string, hasher: LinkHasher): boolean {
  if (!hasher.matches(prev, value)) return false;
  const s = value.lastIndexOf(',"seq":');
  const p = value.lastIndexOf(',"prev":"', s);
  return s > HEX && p > HEX && numberAt(value, s + 7) === seq && value.startsWith(prev, p + 9) && value.charCodeAt(p + 9 + prev.length) === 34;
}

/**
 * chainHash(prev, body) of a stored record `hash + body`, without making the string
 * `prev + "\n" + body`: the record is written as UTF-8 into a reused buffer one byte in, and
 * `prev + "\n"` (`prev` is 64 hex digits: the genesis or a hash the walk has checked) then
 * overwrites the stored hash in front of the body.
 */
class LinkHasher {
  private buffer = Buffer.allocUnsafe(1 << 16);

  /** Whether the record starts with the hash recomputed over `prev + "\n" + body`. */
  matches(prev: string, record: string): boolean {
    const room = 1 + record.length * 3;
    if (room > this.buffer.length) this.buffer = Buffer.allocUnsafe(room);
    const buffer = this.buffer;
    const n = buffer.write(record, 1, "utf8");
    if (n < HEX) return false;
    buffer.write(prev, 0, "latin1");
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

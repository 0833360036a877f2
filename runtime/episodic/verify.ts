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
    for (const [seq, value] of chunk) {
      const count = expected - 1;
      if (seq !== expected) return bad(count, expected, `event ${expected} is missing`);
      const problem = checkRecord(seq, value, prev, hasher);
      if (problem) return bad(count, seq, problem);
      prev = value.slice(0, 64);
      expected++;
    }
  }
  const count = expected - 1;
  const head = await backend.readHead();
  if (head && head.seq > count) return bad(count, count + 1, `event ${count + 1} is missing (the log's head is event ${head.seq})`);
  if (head && head.seq === count && head.hash !== prev) return bad(count, count, `event ${count} is not the event the log's head records`);
  return { ok: true, count, head: prev };
}

function bad(count: number, firstBad: number, problem: string): VerifyReport {
  return { ok: false, count, firstBad, problem };
}

/**
 * Why a stored record is not the event `seq` that follows `prev`, or undefined when it is.
 *
 * The fast path does not parse: it hashes the stored body and reads `seq` and `prev` at their
 * places near the end of the canonical text (the keys after `data` are sorted and their values
 * are a hash, numbers and strings, inside which `"seq":` cannot occur unescaped). Only a record
 * that fails is parsed, to say what is wrong with it.
 */
function checkRecord(seq: number, value: string, prev: string, hasher: LinkHasher): string | undefined {
  const body = value.slice(64);
  if (value.startsWith(hasher.hash(prev, body))) {
    const s = body.lastIndexOf(',"seq":');
    const p = body.lastIndexOf(',"prev":"', s);
    if (s > 0 && p > 0 && numberAt(body, s + 7) === seq && body.startsWith(prev, p + 9) && body.charCodeAt(p + 9 + prev.length) === 34) {
      return undefined;
    }
  }
  return diagnose(seq, body, prev);
}

/**
 * chainHash(prev, body) without making the string `prev + "\n" + body`: both are written as
 * UTF-8 into a reused buffer and hashed there (`prev` is a hash the walk has checked: 64 hex
 * digits).
 */
class LinkHasher {
  private buffer = Buffer.allocUnsafe(1 << 16);

  hash(prev: string, body: string): string {
    const room = prev.length + 1 + body.length * 3;
    if (room > this.buffer.length) this.buffer = Buffer.allocUnsafe(room);
    const buffer = this.buffer;
    let n = buffer.write(prev, 0, "utf8");
    buffer[n++] = 10;
    n += buffer.write(body, n, "utf8");
    return sha256Hex(buffer.subarray(0, n));
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

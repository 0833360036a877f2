/**
 * A call's arguments as the log records them.
 *
 * The log records a call's arguments so that a person can see what the agent asked for, and so
 * that replay can tell whether the replayed agent asks for the same. Neither needs the content
 * of a large argument: replay answers a call from its recorded result and compares arguments by
 * the same summary, and what the policy decided on (resource, method, the statement's SQL facts)
 * is recorded beside them. Recorded whole, they let an agent write 8 MiB of log per refused call.
 * So an argument larger than a limit is recorded by its size and sha256:
 *
 * - a string: `{ chars: <length in UTF-16 code units>, sha256: <hex, of its UTF-8> }`;
 * - bytes: `{ bytes: <length>, sha256: <hex> }` (logs written before recorded `{ bytes }` alone);
 * - a list or record (an HTTP request, SQL parameters) still larger once its large strings and
 *   bytes are summarized: `{ json: <length>, sha256: <hex> }` of its canonical JSON (as the log
 *   encodes it), the whole argument.
 *
 * The limit: 4096 (strings and bytes) and 64 KiB (a whole argument) for a call that is carried
 * out; 1024 for any argument of a call that is refused or invalid (the kernel never used them).
 * A SQL statement is kept up to 64 KiB whatever the decision, because counterfactual replay and
 * `policy suggest` read it (the policy matches patterns against at most that much), and so is the
 * message of an allowed log.write (the call event is the only record of it). The request of an
 * llm.chat that is carried out is kept up to MODEL_REQUEST_ARG (1 MiB) in all: the log is the
 * record of every prompt (its answer is in the result event, whole). A tools.call's arguments are
 * kept up to 64 KiB when refused and 1 MiB when carried out, since `args` rules decide on them.
 */
import { GuestError } from "../errors.js";
import type { OpName } from "../kernel/ops.js";
import { MAX_PATTERN_SUBJECT } from "../policy/match.js";
import { canonicalJson, encodeValue, sha256Hex, type JsonValue } from "./encoding.js";

/** A string or bytes of a call carried out, longer than this, is recorded by size and hash. */
export const LARGE_ARG = 4096;
/** Any argument of a refused or invalid call larger than this is recorded by size and hash. */
export const REFUSED_ARG = 1024;
/** A SQL statement, an allowed log message, and any whole argument of a call carried out are kept up to this. */
export const KEPT_ARG = MAX_PATTERN_SUBJECT;

/**
 * Refuses (as `invalid`) a request whose resource is longer than KEPT_ARG. The log records the
 * resource whole, since it is what the policy decided on; paths are much shorter anyway, and a
 * URL, a database name or a checkpoint label of that length serves no agent (HTTP servers refuse
 * request lines of a few KiB).
 *
 * @example checkResourceSize({ action: "http.fetch", resource: "https://h/" + "a".repeat(70000), agent: "a", pid: 1 }) // throws
 * @throws GuestError `invalid`.
 */
export function checkResourceSize(request: { resource: string }): void {
  if (request.resource.length > KEPT_ARG) throw tooLong();
}

/**
 * The same check on the argument a request's resource is made from (a path, a URL, a database
 * name, a label), before the request is built: the gate then refuses it before SQL analysis
 * (which quotes an unknown database's name), as replay, which does not analyze, does too.
 *
 * @example checkResourceArgs("sql.query", ["x".repeat(70000), "SELECT 1", []]) // throws
 * @throws GuestError `invalid`.
 */
export function checkResourceArgs(op: OpName, args: readonly unknown[]): void {
  const first = op === "http.fetch" ? (args[0] as { url?: unknown } | null | undefined)?.url : args[0];
  if (typeof first === "string" && first.length > KEPT_ARG) throw tooLong();
}

function tooLong(): GuestError {
  return new GuestError({ tag: "invalid", val: `a resource (path, URL, database or label) is at most ${KEPT_ARG} characters` });
}

/**
 * A reason to record, at most REFUSED_ARG characters (an error about an argument may quote it).
 *
 * @example clipReason("x".repeat(5000)).length // 1025
 */
export function clipReason(text: string): string {
  return text.length > REFUSED_ARG ? text.slice(0, REFUSED_ARG) + "…" : text;
}

/** The limits one argument is recorded under: for its strings and bytes, and for the whole. */
interface ArgLimits {
  leaf: number;
  whole: number;
}

const CARRIED_OUT: ArgLimits = { leaf: LARGE_ARG, whole: KEPT_ARG };
const REFUSED: ArgLimits = { leaf: REFUSED_ARG, whole: REFUSED_ARG };
const KEPT: ArgLimits = { leaf: KEPT_ARG, whole: KEPT_ARG };
/** A model call's request (messages, tools) is kept up to this, whole. */
export const MODEL_REQUEST_ARG = 1024 * 1024;
const MODEL_REQUEST: ArgLimits = { leaf: MODEL_REQUEST_ARG, whole: MODEL_REQUEST_ARG };

function limitsOf(op: OpName, index: number, refused: boolean): ArgLimits {
  if (op === "sql.query" && index === 1) return KEPT;
  if (op === "log.write" && index === 1 && !refused) return KEPT;
  if (op === "llm.chat" && !refused) return MODEL_REQUEST;
  // A tool call's arguments (JSON text): counterfactual replay and `policy suggest` read them.
  if (op === "tools.call" && index === 1) return refused ? KEPT : MODEL_REQUEST;
  return refused ? REFUSED : CARRIED_OUT;
}

/**
 * The arguments of a call as the gate records them: the same array when nothing in it is large.
 * `refused`: the call is not carried out (denied, stopped, killed) or is invalid.
 *
 * @example recordArgs("fs.write-text", ["/w/a", "x".repeat(5000), false], false) // ["/w/a", { chars: 5000, sha256: "…" }, false]
 */
export function recordArgs(op: OpName, args: readonly unknown[], refused: boolean): unknown[] {
  let out: unknown[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const recorded = recordArg(arg, limitsOf(op, i, refused));
    if (recorded !== arg) (out ??= args.slice())[i] = recorded;
  }
  return out ?? (args as unknown[]);
}

function recordArg(arg: unknown, limits: ArgLimits): unknown {
  const leaves = summarizeLeaves(arg, limits.leaf, 0);
  if (typeof leaves !== "object" || leaves === null || isSummary(leaves) || sizeOf(leaves, limits.whole, 0) <= limits.whole) return leaves;
  return wholeSummary(arg);
}

/** Strings and bytes longer than `limit` inside a value, replaced by their summaries (copied on write). */
function summarizeLeaves(v: unknown, limit: number, depth: number): unknown {
  if (typeof v === "string") return v.length > limit ? stringSummary(v) : v;
  if (typeof v !== "object" || v === null || depth > MAX_DEPTH) return v;
  if (v instanceof Uint8Array) return v.length > limit ? bytesSummary(v) : v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const s = summarizeLeaves(v[i], limit, depth + 1);
      if (s !== v[i]) (out ??= v.slice())[i] = s;
    }
    return out ?? v;
  }
  if (!isPlain(v)) return v;
  let out: Record<string, unknown> | undefined;
  for (const [k, x] of Object.entries(v)) {
    const s = summarizeLeaves(x, limit, depth + 1);
    if (s !== x) (out ??= { ...v })[k] = s;
  }
  return out ?? v;
}

// Arguments are WIT values (records, lists, variants): a few levels deep at most.
const MAX_DEPTH = 16;

/** About the size of a value's canonical JSON, counted until it passes `limit`. */
function sizeOf(v: unknown, limit: number, depth: number): number {
  if (typeof v === "string") return v.length + 2;
  if (typeof v !== "object" || v === null) return 8;
  if (v instanceof Uint8Array) return Math.ceil(v.length / 3) * 4 + 12;
  if (depth > MAX_DEPTH) return limit + 1;
  let n = 2;
  for (const [k, x] of Object.entries(v)) {
    n += k.length + 4 + sizeOf(x, limit, depth + 1);
    if (n > limit) return n;
  }
  return n;
}

function isPlain(v: object): v is Record<string, unknown> {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A string by its length and the sha256 of its UTF-8. */
export function stringSummary(s: string): { chars: number; sha256: string } {
  return { chars: s.length, sha256: sha256Hex(s) };
}

/** Bytes by their length and sha256. */
export function bytesSummary(b: Uint8Array): { bytes: number; sha256: string } {
  return { bytes: b.length, sha256: sha256Hex(b) };
}

/** A whole argument by the length and sha256 of its canonical JSON (undefined: a value the log cannot encode, as itself). */
function wholeSummary(v: unknown): unknown {
  let json: string;
  try {
    json = canonicalJson(encodeValue(v));
  } catch {
    return v; // (the call event then fails to encode, as it did before: the gate refuses the call)
  }
  return { json: json.length, sha256: sha256Hex(json) };
}

type SummaryKind = "chars" | "bytes" | "bytes-size" | "json";

/** Which summary a recorded value is, if it is one. */
function summaryKind(v: unknown): SummaryKind | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1) return keys[0] === "bytes" && typeof o.bytes === "number" ? "bytes-size" : undefined;
  if (keys.length !== 2 || typeof o.sha256 !== "string") return undefined;
  if (typeof o.chars === "number") return "chars";
  if (typeof o.bytes === "number") return "bytes";
  return typeof o.json === "number" ? "json" : undefined;
}

function isSummary(v: unknown): boolean {
  return summaryKind(v) !== undefined;
}

/**
 * A replayed call's arguments in the form the log recorded the original call's: each value the
 * recording summarized is summarized the same way, the rest is left as it is, so that equal
 * arguments give equal records (also for logs written before, which summarized less).
 *
 * @example canonicalJson(encodeValue(asRecorded(args, recorded.data.args))) === canonicalJson(recorded.data.args)
 */
export function asRecorded(actual: unknown, recorded: JsonValue | undefined, depth = 0): unknown {
  const kind = summaryKind(recorded);
  if (kind === "chars") return typeof actual === "string" ? stringSummary(actual) : actual;
  if (kind === "bytes") return actual instanceof Uint8Array ? bytesSummary(actual) : actual;
  if (kind === "bytes-size") return actual instanceof Uint8Array ? { bytes: actual.length } : actual;
  if (kind === "json") return typeof actual === "object" && actual !== null && !(actual instanceof Uint8Array) ? wholeSummary(actual) : actual;
  if (typeof actual !== "object" || actual === null || actual instanceof Uint8Array || depth > MAX_DEPTH) return actual;
  if (Array.isArray(actual)) {
    if (!Array.isArray(recorded)) return actual;
    return actual.map((x, i) => asRecorded(x, recorded[i], depth + 1));
  }
  if (typeof recorded !== "object" || recorded === null || Array.isArray(recorded) || !isPlain(actual)) return actual;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(actual)) out[k] = asRecorded(x, Object.hasOwn(recorded, k) ? recorded[k] : undefined, depth + 1);
  return out;
}

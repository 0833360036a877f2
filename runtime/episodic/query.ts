/**
 * Reading the log by filter, streaming: records are read in chunks from the backend and
 * parsed one at a time, so a query over a large log holds one chunk in memory.
 */
import picomatch from "picomatch";
import { LogError } from "../errors.js";
import { EFFECTS, type EventQuery, type LoggedEvent } from "../types.js";
import { parseRecord, type LogBackend } from "./backend.js";

const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/**
 * Streams the events that match every given filter.
 *
 * @example for await (const e of queryEvents(backend, { runId: "r1", order: "newest", limit: 10 })) print(e);
 * @throws LogError for a malformed filter (unknown effect or order, negative limit).
 */
export async function* queryEvents(backend: LogBackend, filter: EventQuery): AsyncGenerator<LoggedEvent> {
  checkFilter(filter);
  const reverse = filter.order === "newest";
  const limit = filter.limit ?? Infinity;
  if (limit === 0) return;
  let from = Math.max(1, filter.fromSeq ?? 1);
  let to = Math.min(MAX_SEQ, filter.toSeq ?? MAX_SEQ);
  if (filter.since !== undefined || filter.until !== undefined) {
    [from, to] = await narrowByTime(backend, from, to, filter.since, filter.until);
  }
  if (filter.runId !== undefined) {
    // A run's events all come after its first one: scan from there (the matcher keeps the run's own).
    const start = await backend.runStart(filter.runId);
    if (start === undefined) return;
    from = Math.max(from, start);
  }
  if (from > to) return;
  const matches = matcher(backend, filter);
  const source = backend.range({ from, to, reverse });
  let count = 0;
  for await (const chunk of source) {
    for (const [, value] of chunk) {
      const event = parseRecord(value);
      if (!(await matches(event))) continue;
      yield event;
      if (++count >= limit) return;
    }
  }
}

function checkFilter(f: EventQuery): void {
  if (f.order !== undefined && f.order !== "oldest" && f.order !== "newest") {
    throw new LogError(`order must be "oldest" or "newest", not ${JSON.stringify(f.order)}`);
  }
  if (f.effect !== undefined && !(EFFECTS as readonly string[]).includes(f.effect)) {
    throw new LogError(`unknown effect ${JSON.stringify(f.effect)}; expected one of ${EFFECTS.join(", ")}`);
  }
  if (f.limit !== undefined && !(Number.isInteger(f.limit) && f.limit >= 0)) {
    throw new LogError("limit must be a non-negative integer");
  }
}

type Matcher = (e: LoggedEvent) => Promise<boolean> | boolean;

function matcher(backend: LogBackend, f: EventQuery): Matcher {
  const isAction = f.action === undefined ? undefined : picomatch(f.action, { dot: true });
  const actionOf = callActions(backend);
  return async (e) => {
    if (f.runId !== undefined && e.runId !== f.runId) return false;
    if (f.agent !== undefined && e.agent !== f.agent) return false;
    if (f.type !== undefined && e.type !== f.type) return false;
    if (f.since !== undefined && e.time < f.since) return false;
    if (f.until !== undefined && e.time > f.until) return false;
    if (f.effect !== undefined && (e.type !== "call" || decisionOf(e)?.effect !== f.effect)) return false;
    if (isAction) {
      const action = e.type === "call" ? e.data.action : e.type === "result" ? await actionOf(e) : undefined;
      if (typeof action !== "string" || !isAction(action)) return false;
    }
    return true;
  };
}

/** The decision recorded in a call event, if it has a well-formed one. */
export function decisionOf(e: LoggedEvent): { effect?: unknown; rule?: unknown; reason?: unknown } | undefined {
  const d = e.data.decision;
  return d !== null && typeof d === "object" ? (d as { effect?: unknown }) : undefined;
}

/** The action of a result event: its own `data.action`, or that of the call it answers. */
function callActions(backend: LogBackend): (e: LoggedEvent) => Promise<unknown> {
  const cache = new Map<number, unknown>();
  return async (e) => {
    if (typeof e.data.action === "string") return e.data.action;
    // The gate writes `call`; `callSeq` is the older spelling.
    const callSeq = e.data.call ?? e.data.callSeq;
    if (typeof callSeq !== "number") return undefined;
    if (!cache.has(callSeq)) {
      if (cache.size > 10_000) cache.clear();
      const value = await backend.get(callSeq);
      cache.set(callSeq, value === undefined ? undefined : safeParse(value)?.data.action);
    }
    return cache.get(callSeq);
  };
}

function safeParse(value: string): LoggedEvent | undefined {
  try {
    return parseRecord(value);
  } catch {
    return undefined;
  }
}

/**
 * Event times never decrease (the log enforces it), so a time range is a range of sequence
 * numbers, found by binary search. A gap or unreadable record falls back to the whole range
 * (each event is still checked against the times).
 */
async function narrowByTime(backend: LogBackend, from: number, to: number, since?: number, until?: number): Promise<[number, number]> {
  const last = await backend.last();
  if (!last) return [1, 0];
  to = Math.min(to, last[0]);
  const timeAt = async (seq: number): Promise<number | undefined> => {
    const value = await backend.get(seq);
    return value === undefined ? undefined : safeParse(value)?.time;
  };
  // The first seq in [lo, hi + 1) whose time passes the test (times ascending).
  const search = async (lo: number, hi: number, passes: (t: number) => boolean): Promise<number | undefined> => {
    let a = lo;
    let b = hi + 1;
    while (a < b) {
      const mid = Math.floor((a + b) / 2);
      const t = await timeAt(mid);
      if (t === undefined) return undefined;
      if (passes(t)) b = mid;
      else a = mid + 1;
    }
    return a;
  };
  let lo = from;
  let hi = to;
  if (since !== undefined) lo = (await search(from, to, (t) => t >= since)) ?? from;
  if (until !== undefined) {
    const after = await search(from, to, (t) => t > until);
    hi = after === undefined ? to : after - 1;
  }
  return [lo, hi];
}

/**
 * The cluster's history as one: `verifyCluster` checks every node's log against its own hash
 * chain and against the heads the node signed and published (its anchors), so that a log
 * rewritten after the fact, even re-chained consistently, or cut short, is caught; and
 * `readClusterTimeline` merges every node's events by time.
 *
 * A log read through its node (not by path) is checked as the node sends it: every event's
 * link and hash, and the anchors; what only its storage holds (run marks, blobs, the head
 * marker) is checked by path only.
 */
import type { VerifyReport, LoggedEvent } from "../types.js";
import { chainHash, eventBody, GENESIS } from "../episodic/encoding.js";
import { anchorSignatureOk, type Anchor } from "./anchors.js";
import { messageOf, type ClusterConnection } from "./connect.js";
import { clusterNodes, openNodeLog, readAnchors, type NodeEventFilter, type NodeLog, type NodeLogOptions, type StoredAnchor } from "./node-logs.js";
import type { NodeRecord } from "./records.js";

export type { NodeLogOptions } from "./node-logs.js";

/** What verify found for one node. */
export interface NodeVerifyReport {
  node: string;
  ok: boolean;
  /** The events its log holds. */
  events: number;
  /** The anchors it published (all, including any whose signature does not verify). */
  anchors: number;
  /** Anchors whose signature does not verify with the node's key (forged or damaged). */
  forged?: number;
  /** How the log was read (null: it could not be). */
  via: "path" | "node" | null;
  /** The first event that is not as it was written. */
  firstBad?: number;
  problem?: string;
}

/** What verify found for the cluster: ok only when every node is. */
export interface ClusterVerifyReport {
  ok: boolean;
  nodes: NodeVerifyReport[];
}

/**
 * Verifies every node the cluster knows (a record, anchors, or a directory in `nodeLogs`).
 *
 * @example const report = await verifyCluster(conn, { nodeLogs: { n1: "/srv/n1/log" } }); if (!report.ok) console.log(report.nodes.filter((n) => !n.ok));
 * @throws ClusterError when the cluster's streams cannot be read; UsageError for a bad node name in nodeLogs.
 */
export async function verifyCluster(conn: ClusterConnection, options: NodeLogOptions = {}): Promise<ClusterVerifyReport> {
  const { names, records } = await clusterNodes(conn, options);
  const nodes: NodeVerifyReport[] = [];
  for (const node of names) nodes.push(await verifyNode(conn, node, records.get(node), options));
  return { ok: nodes.every((n) => n.ok), nodes };
}

async function verifyNode(conn: ClusterConnection, node: string, record: NodeRecord | undefined, options: NodeLogOptions): Promise<NodeVerifyReport> {
  const stored = await readAnchors(conn, node);
  const { valid, forged, firstForged } = checkSignatures(node, stored, record);
  const base = { node, anchors: stored.length, ...(forged > 0 ? { forged } : {}) };
  const problems: string[] = [];
  if (!record && stored.length > 0) problems.push(`no node record holds its public key: its ${stored.length} anchor(s) cannot be checked`);
  else if (forged > 0) problems.push(`${forged} anchor(s) whose signature does not verify with the node's key (the first: stream message ${firstForged!.streamSeq}${claimOf(firstForged!)})`);
  let log: NodeLog;
  try {
    log = await openNodeLog(conn, node, record, options);
  } catch (error) {
    return { ...base, ok: false, events: 0, via: null, problem: [`its log cannot be read: ${messageOf(error)}`, ...problems].join("; ") };
  }
  try {
    const wanted = new Set(valid.map((a) => a.seq));
    const { report, events, hashes } = log.local ? await checkLocal(log.local, wanted) : await checkStream(log.events(), wanted);
    const chainBad = report.ok ? undefined : { firstBad: report.firstBad, problem: `${report.problem} (${report.count} events verified before it)` };
    const anchorBad = judgeAnchors(valid, hashes, events);
    const bad = [chainBad, anchorBad].filter((b) => b !== undefined).sort((a, b) => a.firstBad - b.firstBad)[0];
    if (bad) problems.unshift(bad.problem);
    return { ...base, ok: problems.length === 0, events, via: log.via, ...(bad ? { firstBad: bad.firstBad } : {}), ...(problems.length ? { problem: problems.join("; ") } : {}) };
  } catch (error) {
    return { ...base, ok: false, events: 0, via: log.via, problem: [`reading its log failed: ${messageOf(error)}`, ...problems].join("; ") };
  } finally {
    await log.close();
  }
}

function claimOf(a: StoredAnchor): string {
  const v = a.value as Partial<Anchor> | undefined;
  return v && Number.isSafeInteger(v.seq) ? `, claiming event ${v.seq}` : "";
}

/** Splits the anchors into those signed by the node's key (for this node) and the rest. */
function checkSignatures(node: string, stored: StoredAnchor[], record: NodeRecord | undefined): { valid: Anchor[]; forged: number; firstForged?: StoredAnchor } {
  const valid: Anchor[] = [];
  let forged = 0;
  let firstForged: StoredAnchor | undefined;
  if (!record) return { valid, forged };
  for (const a of stored) {
    if (anchorSignatureOk(a.value, record.publicKey) && a.value.node === node) valid.push(a.value);
    else {
      forged++;
      firstForged ??= a;
    }
  }
  return { valid, forged, firstForged };
}

/** By path: the log's own verify, its number of events, and the hashes at the anchored events. */
async function checkLocal(log: NonNullable<NodeLog["local"]>, wanted: Set<number>): Promise<Checked> {
  const report = await log.verify();
  const events = log.head().seq;
  const hashes = new Map<number, string>();
  for (const seq of wanted) {
    if (seq < 1 || seq > events) continue;
    const e = await log.get(seq).catch(() => undefined);
    hashes.set(seq, e?.hash ?? "(unreadable)");
  }
  return { report, events, hashes };
}

interface Checked {
  report: VerifyReport;
  events: number;
  hashes: Map<number, string>;
}

/**
 * Through the node: recomputes the chain over the events as they come (each in place, linked to
 * the one before, its hash over its content), keeping the hashes at the anchored events.
 */
async function checkStream(events: AsyncIterable<LoggedEvent>, wanted: Set<number>): Promise<Checked> {
  const hashes = new Map<number, string>();
  let prev = GENESIS;
  let count = 0;
  let bad: { firstBad: number; problem: string } | undefined;
  let last = 0;
  for await (const e of events) {
    last = Number.isSafeInteger(e.seq) ? e.seq : last + 1;
    if (wanted.has(last)) hashes.set(last, String(e.hash));
    if (bad) continue;
    const expected = count + 1;
    if (e.seq !== expected) bad = { firstBad: expected, problem: `event ${expected} is missing (the node sent event ${String(e.seq)})` };
    else if (e.prev !== prev) bad = { firstBad: expected, problem: `event ${expected} does not follow event ${expected - 1}` };
    else if (!hashOk(e)) bad = { firstBad: expected, problem: `event ${expected} was changed (its hash does not match its content)` };
    else {
      prev = e.hash;
      count = expected;
    }
  }
  const report: VerifyReport = bad ? { ok: false, count, ...bad } : { ok: true, count, head: prev };
  return { report, events: last, hashes };
}

function hashOk(e: LoggedEvent): boolean {
  try {
    return chainHash(e.prev, eventBody(e)) === e.hash;
  } catch {
    return false;
  }
}

/**
 * The first anchor the log no longer holds: an anchored event whose hash is another (the log
 * was rewritten), or one past its end (the log was cut); undefined when every anchor matches.
 */
function judgeAnchors(anchors: Anchor[], hashes: Map<number, string>, events: number): { firstBad: number; problem: string } | undefined {
  const sorted = [...anchors].sort((a, b) => a.seq - b.seq || a.at - b.at);
  const holds = (a: Anchor) => (a.seq === 0 ? a.hash === GENESIS : hashes.get(a.seq) === a.hash);
  const first = sorted.find((a) => !holds(a));
  if (!first) return undefined;
  const lastGood = sorted.filter((a) => a.seq < first.seq && holds(a)).pop();
  const since = lastGood ? `after event ${lastGood.seq}, the last anchored event that still matches` : "before any anchored event that still matches";
  const when = new Date(first.at).toISOString();
  if (first.seq > events) {
    return { firstBad: events + 1, problem: `the log ends at event ${events}, but the node anchored event ${first.seq} at ${when}: events from ${events + 1} on were cut off (${since})` };
  }
  const found = hashes.get(first.seq) ?? "(none)";
  return {
    firstBad: first.seq,
    problem: `event ${first.seq} is not the event the node anchored at ${when} (hash ${found.slice(0, 12)}…, anchored ${first.hash.slice(0, 12)}…): the log was rewritten at or before it, ${since}`,
  };
}

/** A logged event with the node whose log holds it. */
export type NodeEvent = LoggedEvent & { node: string };

/** Options of {@link readClusterTimeline}: where the logs are, filters, and what to do with a log that cannot be read. */
export interface TimelineOptions extends NodeLogOptions {
  /** Filters every node's events (run id, agent, action, effect, type, since, until). */
  filter?: NodeEventFilter;
  /** Told about each node whose log cannot be read (default: the timeline throws). */
  onUnreadable?: (node: string, error: Error) => void;
}

/**
 * Every node's events merged by time (ties by node name, then sequence number), read lazily.
 *
 * @example for await (const e of readClusterTimeline(conn, { filter: { runId } })) console.log(e.node, e.seq, e.type);
 * @throws ClusterError or LogError for a log that cannot be read (unless onUnreadable is given).
 */
export async function* readClusterTimeline(conn: ClusterConnection, options: TimelineOptions = {}): AsyncGenerator<NodeEvent> {
  const { names, records } = await clusterNodes(conn, options);
  const cursors: { node: string; it: AsyncIterator<LoggedEvent>; head: LoggedEvent | undefined; log: NodeLog }[] = [];
  try {
    for (const node of names) {
      let log: NodeLog;
      try {
        log = await openNodeLog(conn, node, records.get(node), options);
      } catch (error) {
        if (!options.onUnreadable) throw error;
        options.onUnreadable(node, error instanceof Error ? error : new Error(String(error)));
        continue;
      }
      const it = log.events(options.filter ?? {})[Symbol.asyncIterator]();
      cursors.push({ node, it, log, head: (await it.next()).value as LoggedEvent | undefined });
    }
    for (;;) {
      let pick: (typeof cursors)[number] | undefined;
      for (const c of cursors) if (c.head && (!pick || before(c.head, c.node, pick.head!, pick.node))) pick = c;
      if (!pick) return;
      yield { ...pick.head!, node: pick.node };
      const next = await pick.it.next();
      pick.head = next.done ? undefined : next.value;
    }
  } finally {
    for (const c of cursors) {
      await c.it.return?.().catch(() => undefined);
      await c.log.close();
    }
  }
}

function before(a: LoggedEvent, aNode: string, b: LoggedEvent, bNode: string): boolean {
  if (a.time !== b.time) return a.time < b.time;
  if (aNode !== bNode) return aNode < bNode;
  return a.seq < b.seq;
}

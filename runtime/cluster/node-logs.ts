/**
 * Reaching every node's log from one place, for `verify --cluster` and `log --nats`: which
 * nodes the cluster knows (a record in the nodes bucket, or anchors in the anchor stream),
 * their anchors, and each log, read by its path when this machine can reach it, else through
 * the node itself (its events service, a page at a time).
 */
import type { KernelLog } from "../episodic/kernel-log.js";
import { ClusterError, UsageError } from "../errors.js";
import { logExists, openLogReader } from "../hosts/node/log/reader.js";
import type { EventQuery, LoggedEvent } from "../types.js";
import { EVENTS_PAGE_MAX, type EventsReply, type EventsRequest } from "./anchors.js";
import { json, messageOf, type ClusterConnection } from "./connect.js";
import { checkNodeName } from "./names.js";
import { getJson, type NodeRecord } from "./records.js";

/**
 * How to reach the nodes' logs. Defaults: the log directories the nodes recorded; by path when
 * the directory exists on this machine, else through the node; 5000 ms per request.
 */
export interface NodeLogOptions {
  /** Node name -> log directory, overriding (or standing in for) the one its record holds. */
  nodeLogs?: Record<string, string>;
  /** Only by path, or only through the node (default: by path when it exists here). */
  through?: "path" | "node";
  /** How long a node has to answer one request for events (default 5000 ms). */
  timeoutMs?: number;
}

/** The filters a timeline may apply (the order is always oldest first). */
export type NodeEventFilter = Omit<EventQuery, "fromSeq" | "toSeq" | "order" | "limit">;

/** One node's log, opened for reading. */
export interface NodeLog {
  readonly node: string;
  readonly via: "path" | "node";
  /** The directory (by path), or the subject (through the node). */
  readonly where: string;
  /** The log itself, when read by path. */
  readonly local?: KernelLog;
  /** The events matching `filter`, in sequence order. */
  events(filter?: NodeEventFilter): AsyncIterable<LoggedEvent>;
  close(): Promise<void>;
}

/** An anchor as the stream holds it: its stream sequence number and its (unchecked) content. */
export interface StoredAnchor {
  streamSeq: number;
  value: unknown;
}

/**
 * Every node record in the nodes bucket, by name.
 * @example const records = await nodeRecords(conn); records.get("n1")?.publicKey
 */
export async function nodeRecords(conn: ClusterConnection): Promise<Map<string, NodeRecord>> {
  const out = new Map<string, NodeRecord>();
  // The keys first: awaiting inside the keys iterator's loop loses keys (it ends early).
  const keys: string[] = [];
  for await (const key of await conn.nodes.keys()) keys.push(key);
  for (const key of keys) {
    const record = await getJson<NodeRecord>(conn.nodes, key);
    if (record) out.set(key, record.value);
  }
  return out;
}

/**
 * The names of the nodes that have anchors in the anchor stream, with how many each.
 * @example (await anchoredNodes(conn)).get("n1") // 14
 */
export async function anchoredNodes(conn: ClusterConnection): Promise<Map<string, number>> {
  const prefix = `${conn.names.prefix}.anchors.`;
  const info = await conn.jsm.streams.info(conn.names.anchorStream, { subjects_filter: `${prefix}*` });
  const out = new Map<string, number>();
  for (const [subject, count] of Object.entries(info.state.subjects ?? {})) out.set(subject.slice(prefix.length), count);
  return out;
}

/**
 * Every anchor a node published, oldest first (read with an ordered consumer on its subject).
 * @example for (const a of await readAnchors(conn, "n1")) console.log(a.streamSeq, a.value);
 */
export async function readAnchors(conn: ClusterConnection, node: string): Promise<StoredAnchor[]> {
  const subject = conn.names.anchorSubject(node);
  let lastSeq: number;
  try {
    lastSeq = (await conn.jsm.streams.getMessage(conn.names.anchorStream, { last_by_subj: subject })).seq;
  } catch (error) {
    if (/no message found|not found|404/i.test(messageOf(error))) return [];
    throw new ClusterError(`reading the anchors of node ${node}: ${messageOf(error)}`, { cause: error });
  }
  const consumer = await conn.js.consumers.get(conn.names.anchorStream, { filterSubjects: subject });
  const anchors: StoredAnchor[] = [];
  const messages = await consumer.consume();
  try {
    for await (const m of messages) {
      let value: unknown;
      try {
        value = json.decode<unknown>(m.data);
      } catch {
        value = undefined; // (reported as an anchor that is not one)
      }
      anchors.push({ streamSeq: m.seq, value });
      if (m.seq >= lastSeq) break;
    }
  } finally {
    messages.stop();
    await consumer.delete().catch(() => undefined);
  }
  return anchors;
}

/**
 * Opens a node's log: by path (openLogReader, which also reads a log a running node holds),
 * or through the node. Close it when done.
 * @example const log = await openNodeLog(conn, "n1", record, {}); for await (const e of log.events()) ...; await log.close();
 * @throws ClusterError or LogError saying why the log cannot be reached.
 */
export async function openNodeLog(conn: ClusterConnection, node: string, record: NodeRecord | undefined, options: NodeLogOptions = {}): Promise<NodeLog> {
  const dir = options.nodeLogs?.[node] ?? record?.logDir ?? undefined;
  if (options.through !== "node" && dir !== undefined && (await logExists(dir))) {
    const local = await openLogReader(dir);
    return { node, via: "path", where: dir, local, events: (filter = {}) => local.query({ ...filter, order: "oldest" }), close: () => local.close() };
  }
  if (options.through === "path" || options.nodeLogs?.[node] !== undefined) {
    throw new ClusterError(dir === undefined ? `node ${node} recorded no log directory (give --node-log ${node}=DIR)` : `there is no log at ${dir}`);
  }
  const timeoutMs = options.timeoutMs ?? 5000;
  // A first page says whether the node answers, before anything is printed.
  await requestEvents(conn, node, { limit: 1 }, timeoutMs).catch((error: unknown) => {
    const here = dir === undefined ? "it recorded no log directory" : `its log ${dir} is not on this machine`;
    throw new ClusterError(`${here}, and the node does not answer (${messageOf(error)})`, { cause: error });
  });
  return { node, via: "node", where: conn.names.nodeSubject(node, "events"), events: (filter = {}) => remoteEvents(conn, node, filter, timeoutMs), close: async () => undefined };
}

/** A node's events through its events service, page after page. */
async function* remoteEvents(conn: ClusterConnection, node: string, filter: NodeEventFilter, timeoutMs: number): AsyncGenerator<LoggedEvent> {
  let from: number | null = 1;
  while (from !== null) {
    const reply = await requestEvents(conn, node, { ...filter, from, limit: EVENTS_PAGE_MAX }, timeoutMs);
    const at: number = from;
    yield* reply.events;
    if (reply.next !== null && reply.next <= at) throw new ClusterError(`node ${node} answered a page that goes backwards (from ${at} to ${reply.next})`);
    from = reply.next;
  }
}

type EventsPage = Extract<EventsReply, { events: LoggedEvent[] }>;

async function requestEvents(conn: ClusterConnection, node: string, request: EventsRequest, timeoutMs: number): Promise<EventsPage> {
  let reply: EventsReply;
  try {
    const msg = await conn.nc.request(conn.names.nodeSubject(node, "events"), json.encode(request), { timeout: timeoutMs });
    reply = json.decode<EventsReply>(msg.data);
  } catch (error) {
    throw new ClusterError(`node ${node}: reading its events failed: ${/503|no responders/i.test(messageOf(error)) ? "no node answers (is it running?)" : messageOf(error)}`, { cause: error });
  }
  if ("error" in reply) throw new ClusterError(`node ${node}: ${String(reply.error)}`);
  if (!Array.isArray(reply.events) || !(reply.next === null || Number.isSafeInteger(reply.next))) throw new ClusterError(`node ${node}: its reply is not a page of events`);
  return reply;
}

/**
 * The nodes to look at: those with a record, those with anchors, and those named in `nodeLogs`,
 * sorted by name.
 * @throws UsageError for a name in nodeLogs that cannot be a node's.
 */
export async function clusterNodes(conn: ClusterConnection, options: NodeLogOptions = {}): Promise<{ names: string[]; records: Map<string, NodeRecord>; anchored: Map<string, number> }> {
  const [records, anchored] = await Promise.all([nodeRecords(conn), anchoredNodes(conn)]);
  for (const name of Object.keys(options.nodeLogs ?? {})) {
    try {
      checkNodeName(name);
    } catch (error) {
      throw new UsageError(`--node-log: ${messageOf(error)}`, { cause: error });
    }
  }
  const names = [...new Set([...records.keys(), ...anchored.keys(), ...Object.keys(options.nodeLogs ?? {})])].sort();
  return { names, records, anchored };
}

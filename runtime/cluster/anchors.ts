/**
 * Anchoring a node's log in the cluster: every node signs its chain head (sequence number and
 * hash) with its own Ed25519 key and publishes it to the anchor stream, on a timer and at every
 * run's end. A log rewritten afterwards, however consistently re-chained, no longer holds the
 * anchored hashes; a log cut short ends before its last anchor. The node also answers requests
 * for its events, so that a verifier on another machine can read its whole log.
 *
 * The anchor message, on `<prefix>.anchors.<node>`, is JSON
 * `{ node, incarnation, seq, hash, at, sig }`: `sig` is the Ed25519 signature (base64) over
 * {@link anchorBytes} of the other fields.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import type { Subscription } from "nats";
import { ClusterError, LogError, UsageError } from "../errors.js";
import type { KernelLog } from "../episodic/kernel-log.js";
import type { EventQuery, LoggedEvent } from "../types.js";
import { json, messageOf, type ClusterConnection } from "./connect.js";

/** A node's signing key: the private key, and the public key as SPKI DER in base64 (as NodeRecord.publicKey holds it). */
export interface NodeKey {
  privateKey: KeyObject;
  publicKey: string;
}

/** A signed chain head. */
export interface Anchor {
  node: string;
  /** The node's incarnation (a restart is a new one) that published it. */
  incarnation: string;
  /** The head's sequence number (0: the log was empty) and hash. */
  seq: number;
  hash: string;
  /** When it was signed (ms since the epoch). */
  at: number;
  /** Ed25519 signature (base64) over anchorBytes of the fields above. */
  sig: string;
}

/**
 * The node's Ed25519 key, kept as PKCS#8 PEM in `file`: read when the file exists, else made
 * and written there (mode 0600, the directory created as needed).
 *
 * @example const key = loadOrCreateNodeKey("/var/lib/agent-os/log.node-key.pem"); key.publicKey // base64 SPKI
 * @throws UsageError naming the file when it cannot be read or written, or is not an Ed25519 private key.
 */
export function loadOrCreateNodeKey(file: string): NodeKey {
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new UsageError(`node key ${file}: cannot read it (${messageOf(error)})`, { cause: error });
    pem = createKeyFile(file);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: "pem" });
  } catch (error) {
    throw new UsageError(`node key ${file}: not a PEM private key (${messageOf(error)}); move it away to have a new key made`, { cause: error });
  }
  if (privateKey.asymmetricKeyType !== "ed25519") {
    throw new UsageError(`node key ${file}: an ${privateKey.asymmetricKeyType ?? "unknown"} key, where an Ed25519 key is expected`);
  }
  const publicKey = createPublicKey(privateKey).export({ type: "spki", format: "der" }).toString("base64");
  return { privateKey, publicKey };
}

/** Makes a key and writes it to `file` (0600); a file made meanwhile by another process wins. */
function createKeyFile(file: string): string {
  const pem = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, pem, { mode: 0o600, flag: "wx" });
    chmodSync(file, 0o600); // (the umask may have narrowed the mode, never widened it; this makes it exact)
    return pem;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return readFileSync(file, "utf8");
    throw new UsageError(`node key ${file}: cannot write it (${messageOf(error)})`, { cause: error });
  }
}

const HASH = /^[0-9a-f]{64}$/;

/**
 * The bytes an anchor's signature covers: a version line, then the fields as a JSON array in a
 * fixed order (no key order or whitespace to disagree on).
 *
 * @example anchorBytes({ node: "n1", incarnation: "i", seq: 3, hash: "ab…", at: 1 }) // 'agent-os anchor v1\n["n1","i",3,"ab…",1]'
 * @throws TypeError for fields of the wrong type (an anchor that is not one).
 */
export function anchorBytes(a: Omit<Anchor, "sig">): Buffer {
  const sound =
    typeof a.node === "string" && typeof a.incarnation === "string" && Number.isSafeInteger(a.seq) && a.seq >= 0 && typeof a.hash === "string" && HASH.test(a.hash) && Number.isSafeInteger(a.at);
  if (!sound) throw new TypeError("not an anchor: expected { node, incarnation, seq, hash (64 hex digits), at }");
  return Buffer.from(`agent-os anchor v1\n${JSON.stringify([a.node, a.incarnation, a.seq, a.hash, a.at])}`, "utf8");
}

/**
 * Signs a chain head.
 *
 * @example const a = signAnchor({ node: "n1", incarnation, seq: 12, hash, at: Date.now() }, key);
 */
export function signAnchor(fields: Omit<Anchor, "sig">, key: NodeKey): Anchor {
  const { node, incarnation, seq, hash, at } = fields;
  const sig = sign(null, anchorBytes({ node, incarnation, seq, hash, at }), key.privateKey).toString("base64");
  return { node, incarnation, seq, hash, at, sig };
}

/**
 * Whether a value is an anchor whose signature verifies with `publicKey` (SPKI DER, base64).
 * Anything malformed (fields, signature or key) is false, never an exception.
 *
 * @example if (!anchorSignatureOk(anchor, record.publicKey)) report("forged anchor");
 */
export function anchorSignatureOk(value: unknown, publicKey: string): value is Anchor {
  if (value === null || typeof value !== "object") return false;
  const a = value as Partial<Anchor>;
  if (typeof a.sig !== "string") return false;
  try {
    const key = createPublicKey({ key: Buffer.from(publicKey, "base64"), format: "der", type: "spki" });
    if (key.asymmetricKeyType !== "ed25519") return false;
    return verify(null, anchorBytes(a as Anchor), key, Buffer.from(a.sig, "base64"));
  } catch {
    return false;
  }
}

/**
 * Options of an {@link Anchorer}. Defaults: `everyMs` 2000.
 */
export interface AnchorerOptions {
  conn: ClusterConnection;
  node: string;
  incarnation: string;
  log: KernelLog;
  key: NodeKey;
  /** How often the timer anchors the head, when it changed (default 2000 ms). */
  everyMs?: number;
}

/**
 * Publishes the node's signed chain head: on a timer when the head changed since the last
 * anchor (a failed publish is retried at the next tick, never thrown), and at once with
 * {@link Anchorer.anchorNow}. Only durable events are anchored (it waits for the head to be
 * written first).
 *
 * @example const a = new Anchorer({ conn, node: "n1", incarnation, log, key }); a.start(); ...; await a.close();
 */
export class Anchorer {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  private closed = false;
  private last: Anchor | undefined;
  private failure: ClusterError | undefined;

  constructor(private readonly o: AnchorerOptions) {}

  /** The last publish's failure (the timer tries again at its next tick), cleared by the next success. */
  get lastError(): ClusterError | undefined {
    return this.failure;
  }

  /** The last anchor published (undefined before the first). */
  get lastAnchor(): Anchor | undefined {
    return this.last;
  }

  /**
   * Starts the timer (idempotent).
   * @example anchorer.start();
   */
  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => this.tick(), this.o.everyMs ?? 2000);
    this.timer.unref();
  }

  private tick(): void {
    if (this.current || !this.changed()) return;
    this.anchorNow().catch(() => undefined); // (kept in lastError; the next tick tries again)
  }

  /** Whether the head differs from the last anchor's (or nothing was anchored yet). */
  private changed(): boolean {
    const head = this.o.log.head();
    return this.last === undefined || this.last.seq !== head.seq || this.last.hash !== head.hash;
  }

  /**
   * Publishes the current head now and resolves once JetStream has it. A call while one is in
   * flight shares one publish after it (which sees every event the callers had written).
   * @example await anchorer.anchorNow();
   * @throws ClusterError when the publish fails or the anchorer is closed; LogError when the log failed.
   */
  anchorNow(): Promise<void> {
    if (this.closed) return Promise.reject(new ClusterError(`the anchorer of node ${this.o.node} is closed`));
    return this.publishCoalesced();
  }

  private publishCoalesced(): Promise<void> {
    if (!this.current) {
      const publishing = this.publish().finally(() => {
        if (this.current === publishing) this.current = undefined;
      });
      this.current = publishing;
      return publishing;
    }
    this.next ??= this.current
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.publishCoalesced();
      });
    return this.next;
  }

  private async publish(): Promise<void> {
    const head = await durableHead(this.o.log);
    const anchor = signAnchor({ node: this.o.node, incarnation: this.o.incarnation, seq: head.seq, hash: head.hash, at: Date.now() }, this.o.key);
    try {
      await this.o.conn.js.publish(this.o.conn.names.anchorSubject(this.o.node), json.encode(anchor), { expect: { streamName: this.o.conn.names.anchorStream } });
    } catch (error) {
      this.failure = new ClusterError(`node ${this.o.node}: publishing the anchor of event ${head.seq} failed: ${messageOf(error)}`, { cause: error });
      throw this.failure;
    }
    this.failure = undefined;
    if (!this.last || this.last.seq <= anchor.seq) this.last = anchor;
  }

  /**
   * Stops the timer and publishes a last anchor when the head changed since the last one.
   * Idempotent.
   * @example await anchorer.close();
   * @throws ClusterError when that last publish fails.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    this.timer = undefined;
    await (this.next ?? this.current)?.catch(() => undefined);
    const last = this.changed() ? this.publishCoalesced() : undefined;
    this.closed = true;
    await last;
  }
}

/**
 * The log's head once it is durable: an empty appendMany resolves once every event sealed so
 * far is written. A closed log has written all it holds.
 */
async function durableHead(log: KernelLog): Promise<{ seq: number; hash: string }> {
  const head = log.head();
  try {
    await log.appendMany([]);
  } catch (error) {
    // (the node closes its kernel, and so its log, before its last anchor)
    if (!(error instanceof LogError && /is closed/.test(error.message))) throw error;
  }
  return head;
}

/** The most events one reply of the events service holds. */
export const EVENTS_PAGE_MAX = 1000;

/** A request to a node's events service: events from `from` (default 1), at most `limit`, matching the filters. */
export interface EventsRequest extends Omit<EventQuery, "fromSeq" | "toSeq" | "order" | "limit"> {
  from?: number;
  limit?: number;
}

/** Its reply: the events in sequence order, and where the next page starts (null: none is left). */
export type EventsReply = { events: LoggedEvent[]; next: number | null; head: { seq: number; hash: string } } | { error: string };

/**
 * Answers requests for the node's events on `nodeSubject(node, "events")`, a page at a time
 * (at most EVENTS_PAGE_MAX events, and no more bytes than the server's max payload), so that
 * a reader elsewhere can page through the whole log. Unsubscribe it to stop.
 *
 * @example const sub = serveEvents(conn, "n1", log); ...; sub.unsubscribe();
 */
export function serveEvents(conn: ClusterConnection, node: string, log: KernelLog): Subscription {
  return conn.nc.subscribe(conn.names.nodeSubject(node, "events"), {
    callback: (_error, msg) => {
      const budget = Math.max(64 * 1024, (conn.nc.info?.max_payload ?? 1024 * 1024) - 4096);
      void answerEvents(log, msg.data, budget).then(
        (reply) => msg.respond(json.encode(reply)),
        (error: unknown) => msg.respond(json.encode({ error: messageOf(error) })),
      );
    },
  });
}

async function answerEvents(log: KernelLog, data: Uint8Array, budget: number): Promise<EventsReply> {
  let request: EventsRequest;
  try {
    request = json.decode<EventsRequest>(data.length === 0 ? new TextEncoder().encode("{}") : data);
  } catch {
    return { error: "the request is not JSON (expected { from?, limit? })" };
  }
  const problem = checkEventsRequest(request);
  if (problem) return { error: problem };
  const { from = 1, limit = EVENTS_PAGE_MAX, ...filter } = request;
  const head = log.head();
  const events: LoggedEvent[] = [];
  let bytes = 0;
  let next: number | null = null;
  for await (const e of log.query({ ...filter, fromSeq: from, order: "oldest" })) {
    const size = Buffer.byteLength(JSON.stringify(e)) + 1;
    if (events.length === limit || (events.length > 0 && bytes + size > budget)) {
      next = e.seq;
      break;
    }
    if (size > budget) return { error: `event ${e.seq} is larger than one message may be (${size} bytes)` };
    events.push(e);
    bytes += size;
  }
  return { events, next, head };
}

function checkEventsRequest(r: unknown): string | undefined {
  if (r === null || typeof r !== "object" || Array.isArray(r)) return "expected a JSON object { from?, limit? }";
  const q = r as Record<string, unknown>;
  const int = (v: unknown, min: number, max: number) => v === undefined || (Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max);
  if (!int(q.from, 1, Number.MAX_SAFE_INTEGER)) return "from: expected a sequence number (1 or more)";
  if (!int(q.limit, 1, EVENTS_PAGE_MAX)) return `limit: expected 1 to ${EVENTS_PAGE_MAX}`;
  for (const k of ["runId", "agent", "action", "effect", "type"]) if (q[k] !== undefined && typeof q[k] !== "string") return `${k}: expected a string`;
  for (const k of ["since", "until"]) if (q[k] !== undefined && typeof q[k] !== "number") return `${k}: expected a time (ms since the epoch)`;
  const known = new Set(["from", "limit", "runId", "agent", "action", "effect", "type", "since", "until"]);
  const unknown = Object.keys(q).find((k) => !known.has(k));
  return unknown === undefined ? undefined : `unknown field ${JSON.stringify(unknown)}`;
}

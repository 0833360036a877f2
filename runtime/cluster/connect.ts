/**
 * Connecting to the cluster's NATS server with its credentials, and making sure the streams,
 * buckets and consumer the cluster uses exist (idempotently: every node and client may do it).
 */
import { readFileSync } from "node:fs";
import {
  AckPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  connect,
  nkeyAuthenticator,
  type JetStreamClient,
  type JetStreamManager,
  type KV,
  type NatsConnection,
  type ObjectStore,
} from "nats";
import { ClusterError, UsageError } from "../errors.js";
import { clusterNames, type ClusterNames } from "./names.js";

/** How to reach the cluster. */
export interface ClusterConnectOptions {
  /** The cluster's shared token (default: the AGENT_OS_NATS_TOKEN environment variable). */
  token?: string;
  /** An nkey seed (the text of a seed file, "SU..."), instead of a token. */
  nkeySeed?: string;
  /** TLS: a CA file to trust (and require TLS). */
  tlsCa?: string;
  /** Subject and stream prefix (default "agent-os"). */
  prefix?: string;
  /** A name for this connection, shown by the server's monitoring. */
  name?: string;
  /** How long to try to connect, in milliseconds (default 5000). */
  timeoutMs?: number;
}

/** An open connection with the cluster's JetStream views. */
export interface ClusterConnection {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly names: ClusterNames;
  readonly runs: KV;
  readonly nodes: KV;
  readonly policies: KV;
  readonly rates: KV;
  readonly code: ObjectStore;
  close(): Promise<void>;
}

/** Runs kept: a finished run's record stays this long (7 days). */
const RUN_RECORD_AGE_NS = 7 * 24 * 3600 * 1e9;
/** How long a node has to start (claim) a run it took before the queue gives it to another. */
export const QUEUE_ACK_WAIT_MS = 10_000;

/**
 * Connects and ensures the cluster's streams and buckets exist.
 * @example const c = await openCluster("nats://127.0.0.1:4222", { token }); ...; await c.close();
 * @throws UsageError for a bad URL or credentials the server refuses; ClusterError when it cannot be reached.
 */
export async function openCluster(url: string, options: ClusterConnectOptions = {}): Promise<ClusterConnection> {
  const names = clusterNames(options.prefix);
  const nc = await connectNats(url, options);
  try {
    const jsm = await nc.jetstreamManager({ timeout: options.timeoutMs ?? 5000 }).catch((error: unknown) => {
      throw new ClusterError(`${url}: JetStream is not enabled on this server (start nats-server with -js): ${messageOf(error)}`, { cause: error });
    });
    const js = nc.jetstream();
    await ensureQueue(jsm, names);
    await ensureStream(jsm, { name: names.anchorStream, subjects: [`${names.prefix}.anchors.*`], retention: RetentionPolicy.Limits, storage: StorageType.File });
    const runs = await js.views.kv(names.runsBucket, { history: 1, storage: StorageType.File, ttl: RUN_RECORD_AGE_NS / 1e6 });
    const nodes = await js.views.kv(names.nodesBucket, { history: 1, storage: StorageType.File });
    const policies = await js.views.kv(names.policyBucket, { history: 64, storage: StorageType.File });
    const rates = await js.views.kv(names.ratesBucket, { history: 1, storage: StorageType.File, ttl: 24 * 3600 * 1000 });
    const code = await js.views.os(names.codeStore, { storage: StorageType.File });
    return { nc, js, jsm, names, runs, nodes, policies, rates, code, close: () => nc.drain().catch(() => nc.close()) };
  } catch (error) {
    await nc.close().catch(() => undefined);
    if (error instanceof ClusterError || error instanceof UsageError) throw error;
    if (isPermission(error)) throw new UsageError(`${url}: the NATS server refused this connection's permissions: ${messageOf(error)}`, { cause: error });
    throw new ClusterError(`${url}: setting up the cluster's streams failed: ${messageOf(error)}`, { cause: error });
  }
}

async function connectNats(url: string, options: ClusterConnectOptions): Promise<NatsConnection> {
  const servers = url.split(",").map((u) => u.trim());
  for (const server of servers) {
    if (!/^(nats|tls):\/\/[^/\s]+\/?$|^[^/\s:]+:\d+$/.test(server)) throw new UsageError(`--nats ${server}: expected nats://HOST:PORT or tls://HOST:PORT`);
  }
  const token = options.token ?? process.env.AGENT_OS_NATS_TOKEN;
  if (token !== undefined && options.nkeySeed !== undefined) throw new UsageError("give a token or an nkey seed, not both");
  const auth = options.nkeySeed !== undefined ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(options.nkeySeed.trim())) } : token !== undefined && token !== "" ? { token } : {};
  const tls = options.tlsCa !== undefined ? { tls: { ca: readFileSync(options.tlsCa, "utf8") } } : {};
  try {
    return await connect({ servers, ...auth, ...tls, name: options.name ?? "agent-os", timeout: options.timeoutMs ?? 5000, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "AUTHORIZATION_VIOLATION" || code === "AUTHENTICATION_EXPIRED") {
      throw new UsageError(`${url}: the NATS server refused the credentials (${token === undefined && options.nkeySeed === undefined ? "none were given: --token, AGENT_OS_NATS_TOKEN or --nkey" : "wrong token or nkey"})`, { cause: error });
    }
    throw new ClusterError(`${url}: cannot reach the NATS server: ${messageOf(error)}`, { cause: error });
  }
}

async function ensureQueue(jsm: JetStreamManager, names: ClusterNames): Promise<void> {
  await ensureStream(jsm, {
    name: names.queueStream,
    subjects: [names.queueSubject],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    duplicate_window: 120 * 1e9,
  });
  try {
    await jsm.consumers.info(names.queueStream, names.queueConsumer);
  } catch {
    await jsm.consumers.add(names.queueStream, { durable_name: names.queueConsumer, ack_policy: AckPolicy.Explicit, ack_wait: QUEUE_ACK_WAIT_MS * 1e6, max_ack_pending: -1 });
  }
}

async function ensureStream(jsm: JetStreamManager, config: Parameters<JetStreamManager["streams"]["add"]>[0]): Promise<void> {
  try {
    await jsm.streams.info(config.name!);
  } catch {
    await jsm.streams.add(config).catch(async (error: unknown) => {
      // (another node made it meanwhile)
      await jsm.streams.info(config.name!).catch(() => {
        throw error;
      });
    });
  }
}

function isPermission(error: unknown): boolean {
  return /permission|authorization/i.test(messageOf(error));
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** JSON to bytes and back. */
export const json = {
  encode: (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value)),
  decode: <T>(bytes: Uint8Array): T => JSON.parse(new TextDecoder().decode(bytes)) as T,
};

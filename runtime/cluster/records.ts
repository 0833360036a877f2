/**
 * What the cluster keeps in its key-value buckets: a record per run (from queued to its end,
 * with its result), a record per node (heartbeat, room, log, public key), and the policy
 * versions. Every change of a run's record is a compare-and-set on its revision, so that one
 * run is started by one node only, and ended once.
 */
import type { KV, KvEntry } from "nats";
import type { EngineName } from "../engines/engine.js";
import type { Denial, ExitReason, Limits, Signal, Usage } from "../types.js";
import { json } from "./connect.js";

/** The agent of a submission: its code travels by hash (the object store holds the bytes). */
export interface AgentRef {
  name: string;
  kind: "module" | "function";
  engine: EngineName;
  codeHash: string;
}

/** How a cluster run ended: a RunResult with the node, or `failed` when its node was lost. */
export interface ClusterRunResult {
  runId: string;
  agent: string;
  status: "ok" | "error" | "killed" | "failed";
  output?: string;
  error?: string;
  signal?: Signal;
  reason?: ExitReason | "node-lost" | "refused";
  /** The node that ran it (null: it never started, e.g. killed while queued). */
  node: string | null;
  /** The run's pid on that node. */
  pid: number | null;
  /** The policy version it ran under. */
  policy: PolicyRef | null;
  attempt: number;
  usage: Usage;
  denials: Denial[];
}

export interface PolicyRef {
  name: string;
  hash: string;
  /** The policy bucket's revision of that version (0: the node's own --policy, none pushed). */
  revision: number;
}

export type RunState = "queued" | "running" | "done";

export interface RunRecord {
  runId: string;
  state: RunState;
  agent: AgentRef;
  task: string;
  limits?: Partial<Limits>;
  /** "idempotent": a run whose node is lost is queued again instead of failing. */
  retry: "never" | "idempotent";
  attempt: number;
  submittedAt: number;
  /** The queue message's stream sequence (to remove it when the run is killed while queued). */
  queueSeq?: number;
  /** SIGSTOP while queued: it starts stopped. */
  stopped?: boolean;
  node?: string;
  /** The node's incarnation that started it (a node that restarts is a new incarnation). */
  incarnation?: string;
  startedAt?: number;
  policy?: PolicyRef;
  endedAt?: number;
  result?: ClusterRunResult;
  /** Earlier attempts that were lost (with retry "idempotent"). */
  lost?: { node: string; attempt: number; at: number }[];
}

export interface NodeRecord {
  name: string;
  incarnation: string;
  /** Last heartbeat (ms since the epoch). */
  at: number;
  startedAt: number;
  capacity: number;
  /** Runs this incarnation has claimed and not yet ended (written before each claim). */
  runs: string[];
  /** The node's log directory (absolute), for verify --cluster on the same machine. */
  logDir: string | null;
  /** The node's Ed25519 public key (SPKI, base64) that signs its anchors. */
  publicKey: string;
  /** Set by the node that found it lost (heartbeat too old). */
  lostAt?: number;
  /** Set by the node itself when it shut down in order (its runs had ended). */
  stoppedAt?: number;
  host: string;
}

/** The stored policy version: the root text and every file it extends, by reference. */
export interface PolicyVersion {
  name: string;
  hash: string;
  /** The file's name as pushed (messages and rule origins). */
  file: string;
  root: string;
  files: Record<string, string>;
  pushedAt: number;
}

/** The key a run's record has: its id, which is a UUID (letters, digits and "-"). */
export const RUN_ID = /^[A-Za-z0-9_-]{1,128}$/;

export async function getJson<T>(kv: KV, key: string): Promise<{ value: T; revision: number } | null> {
  const entry: KvEntry | null = await kv.get(key);
  if (!entry || entry.operation !== "PUT" || entry.value.length === 0) return null;
  return { value: json.decode<T>(entry.value), revision: entry.revision };
}

/** True when an error is a compare-and-set that lost (the key changed meanwhile). */
export function lostRace(error: unknown): boolean {
  return /wrong last sequence|key exists/i.test(error instanceof Error ? error.message : String(error));
}

/**
 * Changes a record by compare-and-set, reading it again after a lost race: `change` returns the
 * new value, or null to leave it. Resolves with the value written and its revision, or null.
 */
export async function updateJson<T>(kv: KV, key: string, change: (current: T) => T | null, attempts = 20): Promise<{ value: T; revision: number } | null> {
  for (let i = 0; i < attempts; i++) {
    const current = await getJson<T>(kv, key);
    if (!current) return null;
    const next = change(current.value);
    if (next === null) return null;
    try {
      const revision = await kv.update(key, json.encode(next), current.revision);
      return { value: next, revision };
    } catch (error) {
      if (!lostRace(error)) throw error;
    }
  }
  throw new Error(`the record ${key} kept changing`);
}

export const ZERO_USAGE: Usage = { fuel: 0, hostCalls: 0, wallMs: 0, tokens: { input: 0, output: 0 } };

/**
 * The names a cluster uses in NATS, all derived from one prefix (default "agent-os"), so that
 * several clusters (or other applications) can share a server and an account can be limited to
 * one cluster's subjects. Stream and bucket names take the prefix with "-" turned into "_".
 */
import { UsageError } from "../errors.js";

export const DEFAULT_PREFIX = "agent-os";

export interface ClusterNames {
  readonly prefix: string;
  /** Work-queue stream of submitted runs, and its one subject. */
  readonly queueStream: string;
  readonly queueSubject: string;
  /** The durable pull consumer every node takes runs from. */
  readonly queueConsumer: string;
  /** Key-value bucket: run id -> RunRecord (state, node, result). */
  readonly runsBucket: string;
  /** Key-value bucket: node name -> NodeRecord (heartbeat, capacity, log path, public key). */
  readonly nodesBucket: string;
  /** Key-value bucket: "active" -> the policy nodes start new runs under (with its history). */
  readonly policyBucket: string;
  /** Key-value bucket: cluster-wide rate-limit windows. */
  readonly ratesBucket: string;
  /** Object store: agent code by its sha256. */
  readonly codeStore: string;
  /** Stream of signed chain heads, one subject per node. */
  readonly anchorStream: string;
  anchorSubject(node: string): string;
  /** Request/reply subjects a node answers on. */
  nodeSubject(node: string, verb: "ps" | "signal" | "events"): string;
}

/** Node names: letters, digits, "-" and "_" (they appear in subjects and keys). */
export const NODE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The names under `prefix`.
 * @throws UsageError for a prefix that is not letters, digits, "-" and "_".
 */
export function clusterNames(prefix = DEFAULT_PREFIX): ClusterNames {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(prefix)) throw new UsageError(`cluster prefix ${JSON.stringify(prefix)}: expected 1 to 32 letters, digits, "-" or "_"`);
  const up = prefix.replace(/-/g, "_").toUpperCase();
  return {
    prefix,
    queueStream: `${up}_QUEUE`,
    queueSubject: `${prefix}.queue`,
    queueConsumer: "nodes",
    runsBucket: `${up}_runs`,
    nodesBucket: `${up}_nodes`,
    policyBucket: `${up}_policy`,
    ratesBucket: `${up}_rates`,
    codeStore: `${up}_code`,
    anchorStream: `${up}_ANCHORS`,
    anchorSubject: (node) => `${prefix}.anchors.${checkNodeName(node)}`,
    nodeSubject: (node, verb) => `${prefix}.node.${checkNodeName(node)}.${verb}`,
  };
}

/** @throws UsageError for a node name that cannot be a subject token. */
export function checkNodeName(name: string): string {
  if (!NODE_NAME.test(name)) throw new UsageError(`node name ${JSON.stringify(name)}: expected 1 to 64 letters, digits, "-" or "_"`);
  return name;
}

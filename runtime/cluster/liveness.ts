/**
 * Which nodes are alive, and what happens to the runs of one that is not. Each node writes its
 * record every heartbeat; every node sweeps the others' records, and marks one whose heartbeat
 * is older than `lostAfterMs` lost (by compare-and-set: one node does it). A lost node's started
 * runs end `failed` with reason `node-lost` (a side effect must not happen twice), or, for a
 * submission with retry "idempotent", go back to the queue as a new attempt. Its queued runs
 * were never taken from the queue, or are given to another node when their ack is not made.
 */
import type { ClusterConnection } from "./connect.js";
import { json } from "./connect.js";
import { getJson, updateJson, ZERO_USAGE, type NodeRecord, type RunRecord } from "./records.js";

/**
 * Ends (or queues again) the runs `node` had started: those whose record still says that
 * node and incarnation is running them. Returns how many it changed.
 */
export async function reapRuns(conn: ClusterConnection, node: NodeRecord, now = Date.now()): Promise<number> {
  let changed = 0;
  for (const runId of node.runs) {
    const written = await updateJson<RunRecord>(conn.runs, runId, (run) => {
      if (run.state !== "running" || run.node !== node.name || run.incarnation !== node.incarnation) return null;
      return run.retry === "idempotent" ? requeued(run, now) : lostRun(run, now);
    });
    if (!written) continue;
    changed++;
    if (written.value.state === "queued") await enqueue(conn, written.value, written.revision);
  }
  return changed;
}

function lostRun(run: RunRecord, now: number): RunRecord {
  return {
    ...run,
    state: "done",
    endedAt: now,
    result: {
      runId: run.runId,
      agent: run.agent.name,
      status: "failed",
      reason: "node-lost",
      error: `node ${run.node} was lost while the run was running (it is not started again: submit with retry "idempotent" to allow that)`,
      node: run.node ?? null,
      pid: null,
      policy: run.policy ?? null,
      attempt: run.attempt,
      usage: ZERO_USAGE,
      denials: [],
    },
  };
}

function requeued(run: RunRecord, now: number): RunRecord {
  const next: RunRecord = { ...run, state: "queued", attempt: run.attempt + 1, lost: [...(run.lost ?? []), { node: run.node ?? "?", attempt: run.attempt, at: now }] };
  delete next.node;
  delete next.incarnation;
  delete next.startedAt;
  delete next.policy;
  delete next.queueSeq;
  return next;
}

/**
 * Publishes a queued run's message (deduplicated by run id and attempt), then records its
 * stream sequence in the record (best effort: a node may have taken it meanwhile).
 */
export async function enqueue(conn: ClusterConnection, run: RunRecord, revision: number): Promise<void> {
  const ack = await conn.js.publish(conn.names.queueSubject, json.encode({ runId: run.runId, attempt: run.attempt }), { msgID: `${run.runId}.${run.attempt}` });
  await conn.runs.update(run.runId, json.encode({ ...run, queueSeq: ack.seq }), revision).catch(() => undefined);
}

/**
 * One sweep: marks lost every other node whose heartbeat is older than `lostAfterMs`, and
 * reaps the runs of every node marked lost. Returns the nodes it found lost now.
 */
export async function sweep(conn: ClusterConnection, self: string, lostAfterMs: number, now = Date.now()): Promise<string[]> {
  const found: string[] = [];
  const keys = await conn.nodes.keys();
  const names: string[] = [];
  for await (const key of keys) names.push(key);
  for (const name of names) {
    if (name === self) continue;
    const current = await getJson<NodeRecord>(conn.nodes, name);
    if (!current) continue;
    let record = current.value;
    if (record.lostAt === undefined && record.stoppedAt === undefined) {
      if (now - record.at <= lostAfterMs) continue;
      const marked = await updateJson<NodeRecord>(conn.nodes, name, (n) => (n.lostAt === undefined && n.incarnation === record.incarnation && now - n.at > lostAfterMs ? { ...n, lostAt: now } : null));
      if (!marked) continue;
      record = marked.value;
      found.push(name);
    }
    if (record.runs.length === 0 || record.lostAt === undefined) continue;
    await reapRuns(conn, record, now);
    await updateJson<NodeRecord>(conn.nodes, name, (n) => (n.incarnation === record.incarnation && n.lostAt !== undefined ? { ...n, runs: [] } : null));
  }
  return found;
}

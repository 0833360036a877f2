/**
 * The cluster bench's measurements, each with its local counterpart: submit (or spawn) to the
 * agent's first host call (and to the gate's decision on it, from the log), the wall time of a
 * batch of short runs, and the anchor's cost beside a durable append on the same log.
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type { KV } from "nats";
import type { Cluster, ClusterRunResult, KernelSpace, RunRecord } from "../runtime/index.js";
import { Anchorer, loadOrCreateNodeKey, type EventsReply } from "../runtime/cluster/anchors.js";
import { json, openCluster } from "../runtime/cluster/connect.js";
import { openLog } from "../runtime/episodic/index.js";
import type { LoggedEvent, NewEvent } from "../runtime/types.js";
import type { BenchNats } from "./cluster-nats.js";
import { FETCH_ONCE, type HitServer, type Scope } from "./cluster-rig.js";

/**
 * Milliseconds from submit() being called: to its return, to the node's claim (the record's
 * startedAt), to the gate's decision on the first host call (its call event in the node's log)
 * and to the call's arrival. The node's times are its wall clock, to the millisecond.
 */
export interface SubmitTimes {
  returned: number[];
  claimed: number[];
  gate: number[];
  firstCall: number[];
}

/** Milliseconds from spawn() being called to the gate's decision (the log's call event) and to the call's arrival. */
export interface SpawnTimes {
  gate: number[];
  firstCall: number[];
}

/** `count` runs one after the other (after `warm` unmeasured ones), each awaited to its end before the next. */
export async function clusterFirstCalls(cluster: Cluster, hits: HitServer, count: number, warm: number): Promise<SubmitTimes> {
  const times: SubmitTimes = { returned: [], claimed: [], gate: [], firstCall: [] };
  for (let i = -warm; i < count; i++) {
    const key = `submit-${i}-${randomUUID()}`;
    const t0 = performance.now();
    const { runId } = await cluster.submit(FETCH_ONCE, hits.url(key));
    const returned = performance.now();
    const called = await within(hits.arrival(key), 30_000, `the first host call of run ${runId}`);
    check(await cluster.wait(runId, { timeoutMs: 30_000 }));
    if (i < 0) continue;
    const record = (await cluster.status(runId)) as RunRecord;
    times.returned.push(returned - t0);
    times.claimed.push(onThisTimeline(record.startedAt!) - t0);
    times.gate.push(onThisTimeline(await nodeGateTime(cluster, record)) - t0);
    times.firstCall.push(called - t0);
  }
  return times;
}

/** The time of the run's first call event, read from its node's log through the node's events service. */
async function nodeGateTime(cluster: Cluster, record: RunRecord): Promise<number> {
  const { nc, names } = cluster.conn;
  const reply = await nc.request(names.nodeSubject(record.node!, "events"), json.encode({ runId: record.runId, type: "call", limit: 1 }), { timeout: 5000 });
  const answer = json.decode<EventsReply>(reply.data);
  if ("error" in answer) throw new Error(`bench cluster: node ${record.node} did not give the run's events: ${answer.error}`);
  return firstCallTime(answer.events, record.runId);
}

/** The same runs on a local kernel, spawned one after the other. */
export async function localFirstCalls(kernel: KernelSpace, hits: HitServer, count: number, warm: number): Promise<SpawnTimes> {
  const times: SpawnTimes = { gate: [], firstCall: [] };
  const log = await kernel.log;
  for (let i = -warm; i < count; i++) {
    const key = `local-${i}-${randomUUID()}`;
    const t0 = performance.now();
    const proc = kernel.spawn(FETCH_ONCE, hits.url(key));
    const called = await within(hits.arrival(key), 30_000, "a local run's first host call");
    check(await proc.wait());
    if (i < 0) continue;
    const events: LoggedEvent[] = [];
    for await (const e of log.query({ runId: proc.runId, type: "call", limit: 1 })) events.push(e);
    times.gate.push(onThisTimeline(firstCallTime(events, proc.runId)) - t0);
    times.firstCall.push(called - t0);
  }
  return times;
}

function firstCallTime(events: LoggedEvent[], runId: string): number {
  if (events.length === 0) throw new Error(`bench cluster: run ${runId} logged no call event`);
  return events[0].time;
}

/** A wall-clock time (ms since the epoch, any process on this machine) on this process's performance.now() timeline. */
function onThisTimeline(wallMs: number): number {
  return wallMs - performance.timeOrigin;
}

/** Runs per second of `runs` runs submitted at once, until the last one's record says done. */
export async function clusterThroughput(cluster: Cluster, hits: HitServer, runs: number): Promise<number> {
  const ended = await watchEnded(cluster.conn.runs);
  try {
    const t0 = performance.now();
    const ids = await Promise.all(Array.from({ length: runs }, () => cluster.submit(FETCH_ONCE, hits.url("batch")).then((r) => r.runId)));
    for (const result of await ended.all(ids, 120_000)) check(result);
    return runs / ((performance.now() - t0) / 1000);
  } finally {
    ended.stop();
  }
}

/** Runs per second of the same runs started at once on a local kernel. */
export async function localThroughput(kernel: KernelSpace, hits: HitServer, runs: number): Promise<number> {
  const t0 = performance.now();
  const results = await within(Promise.all(Array.from({ length: runs }, () => kernel.execute(FETCH_ONCE, hits.url("batch")))), 120_000, `${runs} local runs`);
  results.forEach(check);
  return runs / ((performance.now() - t0) / 1000);
}

interface EndedWatch {
  /** Resolves with the results of `ids` once every one has ended. @throws Error after `timeoutMs`. */
  all(ids: string[], timeoutMs: number): Promise<ClusterRunResult[]>;
  stop(): void;
}

/** One watch of the runs bucket (not one per run): every result seen, by run id. */
async function watchEnded(runs: KV): Promise<EndedWatch> {
  const results = new Map<string, ClusterRunResult>();
  let changed: () => void = () => undefined;
  const watcher = await runs.watch();
  void (async () => {
    for await (const entry of watcher) {
      if (entry.operation !== "PUT") continue;
      const record = json.decode<RunRecord>(entry.value);
      if (record.state === "done" && record.result) results.set(record.runId, record.result);
      changed();
    }
  })().catch(() => undefined); // (all() then times out, naming the runs it did not see end)
  return {
    async all(ids, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!ids.every((id) => results.has(id))) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`bench cluster: ${ids.filter((id) => !results.has(id)).length} of ${ids.length} runs had not ended after ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 1000));
          changed = () => (clearTimeout(timer), resolve());
        });
      }
      return ids.map((id) => results.get(id)!);
    },
    stop: () => watcher.stop(),
  };
}

/** Microseconds per sample of {@link anchorCosts}. */
export interface AnchorTimes {
  /** A durable append of one event, awaited alone. */
  append: number[];
  /** anchorNow() on a quiet log (its head durable): sign, publish, ack. */
  quiet: number[];
  /** anchorNow() called while the last event is being written, as a node calls it at a run's end: from that write being durable to the ack. */
  inFlight: number[];
}

/** `count` samples of each, interleaved on the same log. */
export async function anchorCosts(scope: Scope, nats: BenchNats, dir: string, count: number): Promise<AnchorTimes> {
  const conn = await openCluster(nats.url, { token: nats.token, name: "agent-os bench anchors" });
  scope.defer(() => conn.close());
  const log = await openLog({ dir: join(dir, "log") });
  scope.defer(() => log.close());
  const key = loadOrCreateNodeKey(join(dir, "node-key.pem"));
  const anchorer = new Anchorer({ conn, node: "bench-anchors", incarnation: randomUUID(), log, key });
  // (bounded: a close after a failed measurement could wait for an anchorNow() that never resolves)
  scope.defer(() => within(anchorer.close(), 5000, "closing the anchorer"));
  const times: AnchorTimes = { append: [], quiet: [], inFlight: [] };
  for (let i = -10; i < count; i++) {
    const t0 = performance.now();
    await log.append(callEvent(2 * i));
    const t1 = performance.now();
    await within(anchorer.anchorNow(), 10_000, "anchorNow() on a quiet log");
    const t2 = performance.now();
    const written = log.append(callEvent(2 * i + 1));
    const anchored = anchorer.anchorNow();
    await written;
    const t3 = performance.now();
    await within(anchored, 10_000, "anchorNow() during a write");
    const t4 = performance.now();
    if (i < 0) continue;
    times.append.push((t1 - t0) * 1000);
    times.quiet.push((t2 - t1) * 1000);
    times.inFlight.push((t4 - t3) * 1000);
  }
  return times;
}

/** `promise`, or an Error naming `what` after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`bench cluster: ${what} did not end within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A call event of about 300 bytes, as the gate writes them. */
function callEvent(i: number): NewEvent {
  const path = `/workspace/out/file-${i}.txt`;
  return {
    type: "call",
    runId: "bench-anchors",
    pid: 1,
    agent: "writer",
    data: { action: "fs.write", resource: path, args: { path, bytes: 1024 }, decision: { effect: "allow", rule: "workspace-write", reason: "writes inside the workspace", matched: ["workspace-write"] } },
  };
}

/** @throws Error for a run that did not end "ok" (a figure of failed runs is no figure). */
function check(result: { status: string; error?: string; agent: string }): void {
  if (result.status !== "ok") throw new Error(`bench cluster: a ${result.agent} run ended ${result.status}: ${result.error ?? ""}`);
}

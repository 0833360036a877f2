/**
 * A cluster node: a KernelSpace that takes runs from the cluster's work queue, as many as it
 * has room for. Taking a run is a compare-and-set of its record from queued to running (one
 * node wins; the queue message is acknowledged only then, so a run a node took but had not
 * started goes to another node). The node answers ps and signals for its runs, writes its
 * heartbeat, sweeps for lost nodes, follows the active policy version and anchors its log.
 */
import { randomUUID } from "node:crypto";
import { availableParallelism, hostname } from "node:os";
import { resolve } from "node:path";
import type { Consumer, JsMsg } from "nats";
import { UsageError } from "../errors.js";
import { KernelSpace, type Agent, type KernelOptions } from "../kernel/kernel.js";
import type { AgentProcess } from "../kernel/process.js";
import type { Policy, RunResult } from "../types.js";
import { Anchorer, loadOrCreateNodeKey, serveEvents } from "./anchors.js";
import { CodeCache, CodeRefused } from "./code.js";
import { json, openCluster, type ClusterConnectOptions, type ClusterConnection } from "./connect.js";
import { reapRuns, sweep } from "./liveness.js";
import { checkNodeName } from "./names.js";
import { serveControl } from "./node-control.js";
import { ClusterPolicies } from "./policies.js";
import { clusterRates } from "./rates.js";
import { getJson, lostRace, updateJson, type ClusterRunResult, type NodeRecord, type PolicyRef, type RunRecord } from "./records.js";
import { persist, sleep, within } from "./retry.js";

export interface ClusterNodeOptions {
  /** The NATS server(s), nats://HOST:PORT. */
  url: string;
  connect?: ClusterConnectOptions;
  /** The node's name (default: the host's name); one live node per name. */
  name?: string;
  /** The kernel's options; `log` must be a directory (each node keeps a durable, anchored log). */
  kernel: KernelOptions;
  /** Runs at once (default: the kernel's maxConcurrent, at most four per core for agents in worker threads of their own). */
  capacity?: number;
  /** Heartbeat period (default 1 s). */
  heartbeatMs?: number;
  /** A node whose heartbeat is older than this is lost (default 10 s). */
  lostAfterMs?: number;
  /** Anchor period (default 2 s; also at every run's end). */
  anchorEveryMs?: number;
  /** The node's signing key (default: <log dir>.node-key.pem, made on first start). */
  keyFile?: string;
  /** Progress lines (a run taken, ended; a policy version; a lost node). */
  say?: (line: string) => void;
}

/** A run this node has taken. */
export interface ActiveRun {
  record: RunRecord;
  revision: number;
  proc?: AgentProcess;
}

export class ClusterNode {
  readonly active = new Map<string, ActiveRun>();
  private closing = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private roomFreed: (() => void) | undefined;
  private consuming: Promise<void> = Promise.resolve();
  private readonly finishing = new Set<Promise<void>>();
  private readonly startedAt = Date.now();

  private constructor(
    readonly name: string,
    readonly incarnation: string,
    readonly conn: ClusterConnection,
    readonly kernel: KernelSpace,
    readonly capacity: number,
    private readonly policies: ClusterPolicies,
    private readonly code: CodeCache,
    private readonly anchorer: Anchorer,
    private readonly logDir: string,
    private readonly publicKey: string,
    private readonly options: ClusterNodeOptions,
  ) {}

  /**
   * Connects, starts the kernel and begins taking runs.
   * @example const node = await ClusterNode.start({ url, connect: { token }, name: "n1", kernel: { policy: "standard", log: { dir: "n1-log" } } });
   * @throws UsageError for bad options, a log that cannot be opened, or a live node with the same name.
   */
  static async start(options: ClusterNodeOptions): Promise<ClusterNode> {
    const name = checkNodeName(options.name ?? hostname().replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 64));
    const log = options.kernel.log;
    if (!log) throw new UsageError("a cluster node keeps a durable log: give it a log directory (not --no-log)");
    const logDir = resolve(log.dir);
    const key = loadOrCreateNodeKey(options.keyFile ?? `${logDir}.node-key.pem`);
    const conn = await openCluster(options.url, { ...options.connect, name: `agent-os node ${name}` });
    let kernel: KernelSpace | undefined;
    try {
      const lostAfterMs = options.lostAfterMs ?? 10_000;
      await refuseLiveTwin(conn, name, lostAfterMs);
      kernel = new KernelSpace({ ...options.kernel, log: { dir: logDir }, sharedRates: clusterRates(conn.rates) });
      const kernelLog = await kernel.log;
      const say = options.say ?? (() => undefined);
      const policies = new ClusterPolicies(conn.policies, kernel.policy, say);
      await policies.start();
      // (components are written there to be loaded: one directory per node, beside its log)
      const code = new CodeCache(conn.code, kernel, `${logDir}.code`);
      const incarnation = randomUUID();
      const anchorer = new Anchorer({ conn, node: name, incarnation, log: kernelLog, key, everyMs: options.anchorEveryMs ?? 2000 });
      const node = new ClusterNode(name, incarnation, conn, kernel, options.capacity ?? defaultCapacity(kernel, options.kernel), policies, code, anchorer, logDir, key.publicKey, options);
      await node.begin();
      return node;
    } catch (error) {
      await kernel?.close().catch(() => undefined);
      await conn.close();
      throw error;
    }
  }

  private async begin(): Promise<void> {
    // This name's last incarnation (this node before a restart) does not resume its runs: they are lost.
    const previous = await getJson<NodeRecord>(this.conn.nodes, this.name);
    if (previous && previous.value.incarnation !== this.incarnation && previous.value.runs.length > 0) {
      const reaped = await reapRuns(this.conn, previous.value);
      if (reaped > 0) this.say(`${reaped} run(s) of this node's last start were reported lost (not resumed)`);
    }
    await this.conn.nodes.put(this.name, json.encode(this.record()));
    const subs = [serveEvents(this.conn, this.name, await this.kernel.log), ...serveControl(this)];
    this.timers.push(setInterval(() => void this.beat().catch(() => undefined), this.options.heartbeatMs ?? 1000));
    this.timers.push(setInterval(() => void this.sweep(), Math.max(500, (this.options.heartbeatMs ?? 1000) * 2)));
    this.anchorer.start();
    this.consuming = this.consume();
    this.closeSubs = () => subs.forEach((s) => s.unsubscribe());
    this.say(`node ${this.name} ready: capacity ${this.capacity}, policy ${this.policies.active.ref.name} ${this.policies.active.ref.hash.slice(0, 12)}`);
  }

  private closeSubs: () => void = () => undefined;

  /** This node's record as its heartbeat writes it. */
  record(): NodeRecord {
    return {
      name: this.name,
      incarnation: this.incarnation,
      at: Date.now(),
      startedAt: this.startedAt,
      capacity: this.capacity,
      runs: [...this.active.keys()],
      logDir: this.logDir,
      publicKey: this.publicKey,
      host: hostname(),
    };
  }

  /** The policy version new runs get now. */
  get policy(): PolicyRef {
    return this.policies.active.ref;
  }

  say(line: string): void {
    this.options.say?.(line);
  }

  /**
   * Writes the heartbeat (compare-and-set on this incarnation's record). A record another node
   * marked lost means this node was cut off too long: its runs were reported lost, so they are
   * killed here (their results are not written), and the node goes on as new.
   */
  beat(): Promise<void> {
    // (one at a time: the timer's and a claim's would race for the record's revision)
    const next = this.beating.then(() => this.beatOnce());
    this.beating = next.catch(() => undefined);
    return next;
  }

  private beating: Promise<void> = Promise.resolve();

  private async beatOnce(): Promise<void> {
    const current = await getJson<NodeRecord>(this.conn.nodes, this.name);
    if (current && current.value.incarnation === this.incarnation && current.value.lostAt !== undefined) this.lostMyself();
    else if (current && current.value.incarnation !== this.incarnation) throw new Error(`another node took the name ${this.name}`);
    const next = json.encode(this.record());
    if (current) await this.conn.nodes.update(this.name, next, current.revision);
    else await this.conn.nodes.create(this.name, next);
  }

  private lostMyself(): void {
    const runs = [...this.active.values()].filter((r) => r.proc);
    this.say(`this node was declared lost by another; its ${runs.length} run(s) were reported node-lost and are killed here`);
    for (const run of runs) run.proc!.signal("SIGKILL", "kernel (this node was declared lost)");
  }

  private async sweep(): Promise<void> {
    if (this.closing) return;
    try {
      const lost = await sweep(this.conn, this.name, this.options.lostAfterMs ?? 10_000);
      for (const name of lost) this.say(`node ${name} is lost (no heartbeat): its started runs are reported node-lost`);
    } catch {
      // (the server is unreachable: the next sweep tries again)
    }
  }

  /** Takes runs while it has room, until closed. */
  private async consume(): Promise<void> {
    const { queueStream, queueConsumer } = this.conn.names;
    let consumer: Consumer | undefined;
    while (!this.closing) {
      if (this.active.size >= this.capacity) {
        await new Promise<void>((resolve) => (this.roomFreed = resolve));
        continue;
      }
      let msg: JsMsg | null;
      try {
        consumer ??= await this.conn.js.consumers.get(queueStream, queueConsumer);
        msg = await consumer.next({ expires: 1000 });
      } catch {
        consumer = undefined;
        await sleep(500);
        continue;
      }
      if (!msg) continue;
      if (this.closing) {
        msg.nak();
        break;
      }
      await this.take(msg).catch((error: unknown) => this.say(`a queued run could not be taken: ${error instanceof Error ? error.message : String(error)}`));
    }
  }

  /** Claims the run a queue message names and starts it; a message for a run that is not queued is dropped. */
  private async take(msg: JsMsg): Promise<void> {
    const { runId, attempt } = json.decode<{ runId: string; attempt: number }>(msg.data);
    const found = await getJson<RunRecord>(this.conn.runs, runId);
    if (!found || found.value.state !== "queued" || found.value.attempt !== attempt) return void msg.term();
    let agent: Agent;
    try {
      agent = await this.code.agent(found.value.agent);
    } catch (error) {
      if (!(error instanceof CodeRefused)) throw error;
      await this.refuse(runId, attempt, error.message);
      return void msg.term();
    }
    this.active.set(runId, { record: found.value, revision: found.revision });
    // (one version for the claim's record and the run's decisions, even if another arrives meanwhile)
    const version = this.policies.active;
    const claimed = await this.claim(runId, attempt, version.ref).catch((error: unknown) => {
      this.active.delete(runId);
      throw error;
    });
    if (!claimed) {
      this.active.delete(runId);
      return void msg.term();
    }
    msg.ack();
    this.start(claimed, agent, version.policy);
  }

  /** Starts a claimed run; one the kernel refuses (limits it does not take) ends `failed`, reason `refused`. */
  private start(run: ActiveRun, agent: Agent, policy: Policy): void {
    const { record } = run;
    this.active.set(record.runId, run);
    const kernelRunId = record.attempt === 1 ? record.runId : `${record.runId}.${record.attempt}`;
    try {
      run.proc = this.kernel.spawn(agent, record.task, { runId: kernelRunId, policy, ...(record.limits ? { limits: record.limits } : {}) });
    } catch (error) {
      const why = `the node could not start it: ${error instanceof Error ? error.message : String(error)}`;
      this.say(`run ${record.runId} refused: ${why}`);
      const done: RunRecord = { ...record, state: "done", endedAt: Date.now(), result: { ...refusedResult(record, this.name, why), policy: record.policy ?? null } };
      const written = persist(() => this.conn.runs.update(record.runId, json.encode(done), run.revision)).catch(() => undefined);
      this.track(written.then(() => this.release(record.runId)));
      return;
    }
    if (record.stopped) run.proc.signal("SIGSTOP", "operator (cluster: stopped while queued)");
    this.say(`run ${record.runId} started: ${record.agent.name} (pid ${run.proc.pid}, policy ${record.policy!.hash.slice(0, 12)})`);
    this.track(run.proc.wait().then((result) => this.finish(run, result)));
  }

  /** A run's ending, which close() waits for. */
  private track(ending: Promise<void>): void {
    this.finishing.add(ending);
    void ending.finally(() => this.finishing.delete(ending));
  }

  /**
   * The claim: the node record lists the run first (so that a sweep finds it if this node dies
   * now), then the run's record goes from queued to running by compare-and-set.
   */
  private async claim(runId: string, attempt: number, ref: PolicyRef): Promise<{ record: RunRecord; revision: number } | null> {
    await this.beat();
    const now = Date.now();
    const claimed = await updateJson<RunRecord>(this.conn.runs, runId, (run) =>
      run.state === "queued" && run.attempt === attempt ? { ...run, state: "running", node: this.name, incarnation: this.incarnation, startedAt: now, policy: ref } : null,
    );
    return claimed && { record: claimed.value, revision: claimed.revision };
  }

  /** Ends a run whose code the node refuses (missing, or not matching its hash). */
  private async refuse(runId: string, attempt: number, why: string): Promise<void> {
    this.say(`run ${runId} refused: ${why}`);
    await updateJson<RunRecord>(this.conn.runs, runId, (run) =>
      run.state === "queued" && run.attempt === attempt ? { ...run, state: "done", endedAt: Date.now(), node: this.name, result: refusedResult(run, this.name, why) } : null,
    );
  }

  /** Writes the run's result (unless its record changed: it was reported lost), then anchors. */
  private async finish(run: ActiveRun, result: RunResult): Promise<void> {
    const { record, revision } = run;
    const outcome: ClusterRunResult = { ...result, runId: record.runId, node: this.name, pid: result.pid, policy: record.policy ?? null, attempt: record.attempt };
    const done: RunRecord = { ...record, state: "done", endedAt: Date.now(), result: outcome };
    try {
      await persist(() => this.conn.runs.update(record.runId, json.encode(done), revision), () => this.closing && this.conn.nc.isClosed());
      this.say(`run ${record.runId} ${result.status}${result.reason ? ` (${result.reason})` : ""}`);
    } catch (error) {
      if (!lostRace(error)) this.say(`run ${record.runId}: its result could not be written: ${error instanceof Error ? error.message : String(error)}`);
      else this.say(`run ${record.runId} ended (${result.status}) after it had been reported lost: its result is in this node's log only`);
    }
    await this.release(record.runId);
  }

  /** A run has left this node: its place is free, the heartbeat says so, and its end is anchored. */
  private async release(runId: string): Promise<void> {
    this.active.delete(runId);
    this.roomFreed?.();
    this.roomFreed = undefined;
    await this.beat().catch(() => undefined);
    await this.anchorer.anchorNow().catch(() => undefined);
  }

  /**
   * Stops taking runs, kills the runs still going (their results say killed), writes the last
   * anchor and leaves the cluster in order.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.roomFreed?.();
    await within(this.consuming, 5000);
    // The runs end first (their exit events in the log, their results in the cluster), then the
    // last anchor covers them, then the log closes with the kernel.
    for (const run of this.active.values()) run.proc?.signal("SIGKILL", "kernel (the node is leaving the cluster)");
    // (their results are retried while the server is away, for 15 s: then they are in the log only)
    await within(Promise.all([...this.finishing]), 15_000);
    for (const t of this.timers) clearInterval(t);
    this.policies.stop();
    await within(this.anchorer.close().catch(() => undefined), 10_000);
    await this.kernel.close();
    this.closeSubs();
    // (a server that is gone does not hold the node: its record and the drain get 5 s each)
    const leaving = updateJson<NodeRecord>(this.conn.nodes, this.name, (n) => (n.incarnation === this.incarnation ? { ...this.record(), stoppedAt: Date.now() } : null));
    await within(leaving.catch(() => undefined), 5000);
    if ((await within(this.conn.close().then(() => true), 5000)) !== true) await this.conn.nc.close().catch(() => undefined);
  }
}

/**
 * Runs at once when the node is not told: the kernel's admission (maxConcurrent), but for agents
 * in worker threads of their own ("dedicated", the default) at most four per core, so that a
 * node does not take work it would only queue or run out of memory on.
 */
function defaultCapacity(kernel: KernelSpace, options: KernelOptions): number {
  if (options.maxConcurrent !== undefined || options.isolation === "shared" || options.pool === false) return kernel.capacity;
  return Math.max(1, Math.min(kernel.capacity, 4 * availableParallelism()));
}

/** A node of this name whose heartbeat is fresh: starting a second one is refused. */
async function refuseLiveTwin(conn: ClusterConnection, name: string, lostAfterMs: number): Promise<void> {
  const twin = await getJson<NodeRecord>(conn.nodes, name);
  if (!twin || twin.value.lostAt !== undefined || twin.value.stoppedAt !== undefined) return;
  const age = Date.now() - twin.value.at;
  if (age <= lostAfterMs) {
    throw new UsageError(`a node named ${name} is running (heartbeat ${Math.round(age / 100) / 10}s ago on ${twin.value.host}): give this one another --name (or, if that node is dead, start again in ${Math.ceil((lostAfterMs - age) / 1000)}s)`);
  }
}

function refusedResult(run: RunRecord, node: string, why: string): ClusterRunResult {
  return {
    runId: run.runId,
    agent: run.agent.name,
    status: "failed",
    reason: "refused",
    error: why,
    node,
    pid: null,
    policy: null,
    attempt: run.attempt,
    usage: { fuel: 0, hostCalls: 0, wallMs: 0, tokens: { input: 0, output: 0 } },
    denials: [],
  };
}

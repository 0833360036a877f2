/**
 * The cluster from a client's side: submit runs (their code stored by hash, the run queued),
 * wait for their results, list the processes of every node, signal a run wherever it is, and
 * push a policy version.
 *
 * @example
 * const cluster = await connectCluster("nats://127.0.0.1:4222", { token });
 * const { runId } = await cluster.submit("./agent.js", "task");
 * const result = await cluster.wait(runId);
 * await cluster.close();
 */
import { createHash, randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename, dirname, extname, resolve } from "node:path";
import { AgentLoadError, ClusterError, UsageError } from "../errors.js";
import type { Agent } from "../kernel/kernel.js";
import { validateLimits } from "../kernel/run-spec.js";
import type { Limits, Signal } from "../types.js";
import { codeBytes, putCode } from "./code.js";
import { json, messageOf, openCluster, type ClusterConnectOptions, type ClusterConnection } from "./connect.js";
import { enqueue } from "./liveness.js";
import type { ClusterProcess, SignalAnswer } from "./node-control.js";
import { policyVersion, pushVersion } from "./policies.js";
import { persist, sleep } from "./retry.js";
import { getJson, updateJson, ZERO_USAGE, type ClusterRunResult, type NodeRecord, type PolicyRef, type RunRecord } from "./records.js";

export interface SubmitOptions {
  /** Limits for this run only (they can only tighten the node's and the policy's). */
  limits?: Partial<Limits>;
  /** "idempotent": if the node running it is lost, run it again elsewhere (default "never": it fails, reason node-lost). */
  retry?: "never" | "idempotent";
  /** For a source file: the engine (default quickjs; a .wasm file is a component). */
  engine?: "quickjs" | "component";
  /** The agent's name (default: from the file, as agent-os run names it). */
  name?: string;
}

const SIGNALS: readonly Signal[] = ["SIGSTOP", "SIGCONT", "SIGTERM", "SIGKILL"];

export class Cluster {
  constructor(readonly conn: ClusterConnection) {}

  /**
   * Queues a run of `agent` (a file, as `agent-os run` takes it, or an Agent from a kernel's
   * load/register) on `task`; resolves with its run id once it is queued durably.
   * @throws AgentLoadError for an agent file that does not load; UsageError for bad options.
   */
  async submit(agent: string | Agent, task: string, options: SubmitOptions = {}): Promise<{ runId: string }> {
    if (typeof task !== "string") throw new UsageError("submit: the task must be a string");
    validateLimits(options.limits, "submit limits");
    const retry = options.retry ?? "never";
    if (retry !== "never" && retry !== "idempotent") throw new UsageError(`submit: retry must be "never" or "idempotent", not ${JSON.stringify(retry)}`);
    const { loaded, bytes } = typeof agent === "string" ? await loadAgentFile(agent, options) : { loaded: agent, bytes: codeBytes(agent) };
    await putCode(this.conn.code, loaded.codeHash, bytes);
    const runId = randomUUID();
    const record: RunRecord = {
      runId,
      state: "queued",
      agent: { name: loaded.name, kind: loaded.kind, engine: loaded.engine, codeHash: loaded.codeHash },
      task,
      ...(options.limits ? { limits: options.limits } : {}),
      retry,
      attempt: 1,
      submittedAt: Date.now(),
    };
    const revision = await this.conn.runs.create(runId, json.encode(record));
    try {
      await enqueue(this.conn, record, revision);
    } catch (error) {
      // (a record with no message would stay queued for ever)
      await this.conn.runs.delete(runId).catch(() => undefined);
      throw new ClusterError(`submit: the run could not be queued: ${messageOf(error)}`, { cause: error });
    }
    return { runId };
  }

  /** The run's record (state, node, policy, result), or null for an unknown run id. */
  async status(runId: string): Promise<RunRecord | null> {
    checkRunId(runId);
    // (a server that is restarting is waited for, a while)
    return (await persist(() => getJson<RunRecord>(this.conn.runs, runId), () => this.conn.nc.isClosed(), 30_000))?.value ?? null;
  }

  /**
   * Resolves with the run's result once it has ended (at once if it has).
   * @throws UsageError for an unknown run id; ClusterError after `timeoutMs`.
   */
  async wait(runId: string, options: { timeoutMs?: number } = {}): Promise<ClusterRunResult> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      const record = await this.status(runId);
      if (!record) throw new UsageError(`no run ${runId} in the cluster`);
      if (record.state === "done" && record.result) return record.result;
      const left = deadline - Date.now();
      if (left <= 0) throw new ClusterError(`run ${runId} did not end within ${options.timeoutMs} ms`);
      // (a watch that fails is not retried at once: the record is read again after a pause)
      const ended = await this.watchEnd(runId, Math.min(left, 5000)).catch(() => sleep(500).then(() => null));
      if (ended) return ended;
    }
  }

  /** Watches the run's record for up to `ms`: its result if it ends meanwhile, else null (the watch is then made again: it survives a server restart). */
  private async watchEnd(runId: string, ms: number): Promise<ClusterRunResult | null> {
    const watcher = await this.conn.runs.watch({ key: runId });
    const timer = setTimeout(() => watcher.stop(), ms);
    try {
      for await (const entry of watcher) {
        if (entry.operation !== "PUT") continue;
        const record = json.decode<RunRecord>(entry.value);
        if (record.state === "done" && record.result) return record.result;
      }
      return null;
    } finally {
      clearTimeout(timer);
      watcher.stop();
    }
  }

  /** The nodes the cluster knows, with their heartbeat. */
  async nodes(): Promise<NodeRecord[]> {
    const names: string[] = [];
    for await (const key of await this.conn.nodes.keys()) names.push(key);
    const records = await Promise.all(names.map((n) => getJson<NodeRecord>(this.conn.nodes, n)));
    return records.flatMap((r) => (r ? [r.value] : [])).sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Every live and queued process, with its node (queued ones have none). A live node that
   * does not answer within `timeoutMs` is named in `unreachable`.
   */
  async ps(options: { timeoutMs?: number } = {}): Promise<{ processes: ClusterProcess[]; unreachable: string[] }> {
    const live = (await this.nodes()).filter((n) => n.lostAt === undefined && n.stoppedAt === undefined);
    const unreachable: string[] = [];
    const answers = await Promise.all(
      live.map(async (n) => {
        try {
          const reply = await this.conn.nc.request(this.conn.names.nodeSubject(n.name, "ps"), undefined, { timeout: options.timeoutMs ?? 2000 });
          return json.decode<{ processes: ClusterProcess[] }>(reply.data).processes;
        } catch {
          unreachable.push(n.name);
          return [];
        }
      }),
    );
    const queued = (await this.queued()).map(
      (r): ClusterProcess => ({ runId: r.runId, node: null, pid: null, agent: r.agent.name, state: r.stopped ? "stopped" : "queued", usage: null, policy: null, submittedAt: r.submittedAt, startedAt: null }),
    );
    return { processes: [...answers.flat(), ...queued].sort((a, b) => a.submittedAt - b.submittedAt), unreachable };
  }

  /** The queued runs' records. */
  private async queued(): Promise<RunRecord[]> {
    // (the keys are read to their end first: awaiting inside the listing cuts it short)
    const keys: string[] = [];
    for await (const key of await this.conn.runs.keys()) keys.push(key);
    const records = await Promise.all(keys.map((key) => getJson<RunRecord>(this.conn.runs, key)));
    return records.flatMap((r) => (r?.value.state === "queued" ? [r.value] : []));
  }

  /**
   * Signals a run wherever it is. A running run's node is asked (request/reply) and answers
   * with the state; a queued run is acted on in the queue: SIGKILL and SIGTERM remove it (it
   * ends killed, never started), SIGSTOP makes it start stopped, SIGCONT undoes that.
   * @throws UsageError for an unknown or ended run or signal; ClusterError when its node does not answer.
   */
  async signal(runId: string, signal: Signal, options: { timeoutMs?: number } = {}): Promise<SignalAnswer> {
    if (!SIGNALS.includes(signal)) throw new UsageError(`signal: ${String(signal)} is not one of ${SIGNALS.join(", ")}`);
    for (let attempt = 0; attempt < 5; attempt++) {
      const record = await this.status(runId);
      if (!record) throw new UsageError(`no run ${runId} in the cluster`);
      if (record.state === "done") throw new UsageError(`run ${runId} has already ended (${record.result?.status ?? "done"})`);
      if (record.state === "queued") {
        const answer = await this.signalQueued(runId, signal);
        if (answer) return answer;
        continue; // (it was taken meanwhile: ask its node)
      }
      return this.askNode(record, signal, options.timeoutMs ?? 10_000);
    }
    throw new ClusterError(`run ${runId} kept changing state; try again`);
  }

  private async signalQueued(runId: string, signal: Signal): Promise<SignalAnswer | null> {
    const removes = signal === "SIGKILL" || signal === "SIGTERM";
    const written = await updateJson<RunRecord>(this.conn.runs, runId, (run) => {
      if (run.state !== "queued") return null;
      if (!removes) return { ...run, stopped: signal === "SIGSTOP" };
      return { ...run, state: "done", endedAt: Date.now(), result: killedInQueue(run, signal) };
    });
    if (!written) return null;
    if (removes && written.value.queueSeq !== undefined) {
      await this.conn.jsm.streams.deleteMessage(this.conn.names.queueStream, written.value.queueSeq).catch(() => undefined);
    }
    return { runId, node: null, state: removes ? "removed" : written.value.stopped ? "stopped" : "queued" };
  }

  private async askNode(record: RunRecord, signal: Signal, timeoutMs: number): Promise<SignalAnswer> {
    const node = record.node!;
    let reply;
    try {
      reply = await this.conn.nc.request(this.conn.names.nodeSubject(node, "signal"), json.encode({ runId: record.runId, signal }), { timeout: timeoutMs });
    } catch (error) {
      throw new ClusterError(`node ${node} did not answer the signal: ${messageOf(error)}`, { cause: error });
    }
    const answer = json.decode<SignalAnswer | { error: string }>(reply.data);
    if ("error" in answer) throw new UsageError(answer.error);
    return answer;
  }

  /**
   * Checks a policy file with the project's loader and makes it the version new runs start
   * under. Resolves with the version (its revision in the policy bucket).
   * @throws PolicyError for a policy that does not load (nothing is stored).
   */
  async pushPolicy(file: string): Promise<PolicyRef> {
    const version = policyVersion(file);
    const revision = await pushVersion(this.conn.policies, version);
    return { name: version.name, hash: version.hash, revision };
  }

  async close(): Promise<void> {
    await this.conn.close();
  }
}

/**
 * Connects to a cluster.
 * @example const cluster = await connectCluster("nats://127.0.0.1:4222", { token: process.env.AGENT_OS_NATS_TOKEN });
 * @throws UsageError for credentials the server refuses; ClusterError when it cannot be reached.
 */
export async function connectCluster(url: string, options: ClusterConnectOptions = {}): Promise<Cluster> {
  return new Cluster(await openCluster(url, options));
}

/**
 * An agent file as `agent-os run` takes it: a module is bundled (its hash is the bundle's); a
 * component (a .wasm file, or a source built with engine "component") travels as its bytes,
 * checked and loaded by the node that runs it.
 */
async function loadAgentFile(file: string, options: SubmitOptions): Promise<{ loaded: Agent; bytes: Uint8Array }> {
  const path = resolve(file);
  if (extname(path) === ".wasm" || options.engine === "component") {
    let bytes: Uint8Array;
    if (extname(path) === ".wasm") {
      bytes = await readFile(path).then(
        (b) => new Uint8Array(b),
        (error: NodeJS.ErrnoException) => {
          throw new AgentLoadError(`${file}: cannot read the component (${error.code ?? "error"})`, { cause: error });
        },
      );
    } else {
      const { buildComponent } = await import("../engines/component/build.js");
      bytes = (await buildComponent(path)).component;
    }
    const codeHash = createHash("sha256").update(bytes).digest("hex");
    return { loaded: { name: options.name ?? agentName(path), kind: "module", engine: "component", source: "", codeHash }, bytes };
  }
  const { loadModuleAgent } = await import("../engines/quickjs/agent.js");
  const loaded = await loadModuleAgent(path, options.name ? { name: options.name } : {});
  return { loaded, bytes: codeBytes(loaded) };
}

/** An agent's name from its file, as `agent-os run` gives it: agent.js and index.js take their directory's. */
function agentName(path: string): string {
  const stem = basename(path, extname(path));
  return stem === "agent" || stem === "index" ? basename(dirname(path)) : stem;
}

function checkRunId(runId: string): string {
  if (typeof runId !== "string" || !/^[A-Za-z0-9_-]{1,128}$/.test(runId)) throw new UsageError(`${JSON.stringify(runId)} is not a run id`);
  return runId;
}

function killedInQueue(run: RunRecord, signal: Signal): ClusterRunResult {
  return { runId: run.runId, agent: run.agent.name, status: "killed", signal, reason: "signal", node: null, pid: null, policy: null, attempt: run.attempt, usage: ZERO_USAGE, denials: [] };
}

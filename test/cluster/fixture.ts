/**
 * A cluster on this machine for the tests: a real nats-server, nodes as real `agent-os node`
 * processes, agents and policies in a scratch directory, and a shared directory every node
 * mounts at /shared (runs append lines there, so that a run that ran twice shows).
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectCluster, type Cluster, type ClusterRunResult } from "../../dist/runtime/index.js";
import { agentOs, start, waitForStderr, type Ran } from "../cli/helpers.js";
import { startNats, type NatsServer } from "./nats.js";

export type NodeProcess = ChildProcess & { out: string; err: string; name: string };

export const AGENTS: Record<string, string> = {
  // Appends its task to /shared/runs.txt first, then spins `task`'s number of millions of loops.
  "append.js": `import { fs } from "agent-os/guest";
export async function run(task) {
  await fs.write("/shared/runs.txt", task + "\\n", { append: true });
  const [, spins] = task.split(":");
  let x = 0;
  for (let i = 0; i < Number(spins ?? 0) * 1e6; i++) x += i;
  return "done " + task;
}`,
  // Spins, making a host call every few million loops, until killed.
  "spin.js": `import { fs } from "agent-os/guest";
export async function run() {
  for (;;) {
    let x = 0;
    for (let i = 0; i < 2e6; i++) x += i;
    try { await fs.stat("/shared/never"); } catch {}
  }
}`,
  // Waits for /shared/go-TASK, then writes /shared/out-TASK (the policy decides that write).
  "gated.js": `import { fs } from "agent-os/guest";
async function exists(path) { try { await fs.stat(path); return true; } catch { return false; } }
export async function run(task) {
  while (!(await exists("/shared/go-" + task))) { let x = 0; for (let i = 0; i < 3e5; i++) x += i; }
  await fs.write("/shared/out-" + task, task);
  return "wrote " + task;
}`,
};

export const POLICY_V1 = `version: 1
name: cluster-v1
default: deny
limits:
  fuel: 100000000000
  wallTime: 120s
rules:
  - id: shared
    action: fs.*
    resource: /shared/**
    effect: allow
`;

export interface TestCluster {
  nats: NatsServer;
  dir: string;
  shared: string;
  url: string;
  token: string;
  nodes: Map<string, NodeProcess>;
  /** Starts `agent-os node --name NAME` with the test's flags and waits until it is ready. */
  startNode(name: string, extra?: string[]): Promise<NodeProcess>;
  /** A library client (closed with the cluster). */
  client(): Promise<Cluster>;
  /** `agent-os ...args --nats URL --token TOKEN` in the scratch directory. */
  cli(...args: string[]): Promise<Ran>;
  file(name: string): string;
  lines(): string[];
  close(): Promise<void>;
}

export async function startCluster(policy = POLICY_V1): Promise<TestCluster> {
  const nats = await startNats();
  const dir = mkdtempSync(join(tmpdir(), "agent-os-cluster-"));
  const shared = join(dir, "shared");
  mkdirSync(shared);
  // (runs.txt is not made here: the first runs on three nodes create it at once, and must all keep their line)
  for (const [name, text] of Object.entries(AGENTS)) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, "policy.yaml"), policy);
  const nodes = new Map<string, NodeProcess>();
  const clients: Cluster[] = [];
  const auth = ["--nats", nats.url, "--token", nats.token];
  const cluster: TestCluster = {
    nats,
    dir,
    shared,
    url: nats.url,
    token: nats.token,
    nodes,
    async startNode(name, extra = []) {
      const args = ["node", ...auth, "--name", name, "--log", join(dir, name, "log"), "--policy", join(dir, "policy.yaml"), "--mount", `/shared=${shared}`, "--capacity", "2", "--lost-after", "3s", ...extra];
      const child = start(dir, ...args) as NodeProcess;
      child.name = name;
      nodes.set(name, child);
      await waitForStderr(child, /ready: capacity/, 60_000);
      return child;
    },
    async client() {
      const c = await connectCluster(nats.url, { token: nats.token });
      clients.push(c);
      return c;
    },
    cli: (...args) => agentOs(dir, ...args, ...auth),
    file: (name) => join(dir, name),
    lines: () => {
      try {
        return readFileSync(join(shared, "runs.txt"), "utf8").split("\n").filter(Boolean);
      } catch {
        return [];
      }
    },
    async close() {
      if (process.env.CLUSTER_DEBUG) for (const n of nodes.values()) console.error(`--- ${n.name}\n${n.err}`);
      for (const c of clients) await c.close().catch(() => undefined);
      await Promise.all([...nodes.values()].map((n) => stopNode(n)));
      await nats.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}

/** SIGTERM and the node's own end (it leaves in order), SIGKILL after 30 s. */
export async function stopNode(node: NodeProcess): Promise<void> {
  if (node.exitCode !== null || node.signalCode !== null) return;
  const ended = new Promise<void>((resolve) => node.once("close", () => resolve()));
  node.kill("SIGTERM");
  const timer = setTimeout(() => node.kill("SIGKILL"), 30_000);
  await ended;
  clearTimeout(timer);
}

/** Polls the runs' records until every one has ended; resolves with their results by run id. */
export async function results(cluster: Cluster, runIds: string[], timeoutMs = 240_000): Promise<Map<string, ClusterRunResult>> {
  const done = new Map<string, ClusterRunResult>();
  const until = Date.now() + timeoutMs;
  while (done.size < runIds.length) {
    for (const id of runIds) {
      if (done.has(id)) continue;
      const record = await cluster.status(id);
      if (record?.state === "done" && record.result) done.set(id, record.result);
    }
    if (done.size < runIds.length) {
      if (Date.now() > until) throw new Error(`${runIds.length - done.size} of ${runIds.length} runs had not ended after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  return done;
}

/** Polls until `check` returns a value that is not undefined (fails after `timeoutMs`). */
export async function until<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The cluster bench's rig: a scratch directory with the policy, a loopback HTTP endpoint that
 * notes when each request arrives (the agent's first host call), real `agent-os node`
 * processes, and the kernel options those nodes get from the same flags (for the local
 * baseline). Everything it makes is registered in one Scope and freed in reverse order.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Agent, KernelOptions } from "../runtime/index.js";
import { kernelOptionsFrom } from "../runtime/cli/kernel-flags.js";
import type { BenchNats } from "./cluster-nats.js";

const BIN = new URL("../runtime/cli/bin.js", import.meta.url).pathname;

/** Frees what was registered, last first; every cleanup runs even when one fails. */
export class Scope {
  private readonly cleanups: (() => unknown)[] = [];

  defer(cleanup: () => unknown): void {
    this.cleanups.push(cleanup);
  }

  async close(): Promise<void> {
    const errors: unknown[] = [];
    for (const cleanup of this.cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, "bench cluster: cleanup failed");
  }
}

/** The agent: its first and only host call is a GET of its task (a URL), then it returns. */
const SOURCE = `import { http } from "agent-os/guest";
export async function run(url) { await http.fetch(url); return "ok"; }`;

export const FETCH_ONCE: Agent = { name: "fetch-once", kind: "module", engine: "quickjs", source: SOURCE, codeHash: createHash("sha256").update(SOURCE).digest("hex") };

/** A loopback endpoint: `url(key)` is a URL whose request's arrival `arrival(key)` resolves with (performance.now()). */
export interface HitServer {
  url(key: string): string;
  arrival(key: string): Promise<number>;
  readonly origin: string;
}

/** Starts a HitServer on 127.0.0.1, closed with the scope. */
export async function startHitServer(scope: Scope): Promise<HitServer> {
  const arrived = new Map<string, number>();
  const waiting = new Map<string, (at: number) => void>();
  const server = createServer((req, res) => {
    const at = performance.now();
    const key = (req.url ?? "").replace(/^\/hit\//, "");
    const waiter = waiting.get(key);
    if (waiter) {
      waiting.delete(key);
      waiter(at);
    } else arrived.set(key, at);
    res.end("ok");
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: "127.0.0.1", backlog: 1024 }, resolve));
  scope.defer(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (key) => `${origin}/hit/${key}`,
    arrival(key) {
      const at = arrived.get(key);
      if (at !== undefined) {
        arrived.delete(key);
        return Promise.resolve(at);
      }
      return new Promise((resolve) => waiting.set(key, resolve));
    },
  };
}

export interface ClusterRig {
  readonly dir: string;
  readonly hits: HitServer;
  /** Starts `agent-os node --name NAME` and resolves once it is ready (all are stopped at once with the scope). */
  startNode(name: string): Promise<ChildProcess>;
  /** The kernel options `agent-os node` builds from the same flags (log in `logDir`), with the node's capacity. */
  kernelOptions(logDir: string): KernelOptions;
}

/** A rig for `nats`; `capacity` is each node's --capacity. */
export async function makeRig(scope: Scope, nats: BenchNats, capacity: number): Promise<ClusterRig> {
  const dir = mkdtempSync(join(tmpdir(), "agent-os-bench-cluster-"));
  scope.defer(() => rmSync(dir, { recursive: true, force: true }));
  const hits = await startHitServer(scope);
  const policy = join(dir, "policy.yaml");
  writeFileSync(policy, policyYaml(hits.origin));
  const flags = { policy, "allow-private": ["127.0.0.1"] };
  const nodes = new Set<ChildProcess>();
  // (on an exit without cleanup, e.g. process.exit, the nodes are killed, not left behind)
  const killAll = () => nodes.forEach((child) => child.kill("SIGKILL"));
  process.once("exit", killAll);
  scope.defer(async () => {
    await Promise.all([...nodes].map(stopNode));
    process.off("exit", killAll);
  });
  return {
    dir,
    hits,
    async startNode(name) {
      const args = ["node", "--nats", nats.url, "--token", nats.token, "--name", name, "--log", join(dir, name, "log"), "--policy", policy, "--allow-private", "127.0.0.1", "--capacity", String(capacity)];
      const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
      nodes.add(child);
      await nodeReady(child, name);
      return child;
    },
    kernelOptions: (logDir) => ({ ...kernelOptionsFrom({ ...flags, log: logDir }, "bench"), maxConcurrent: capacity }),
  };
}

function policyYaml(origin: string): string {
  return `version: 1
name: bench-cluster
default: deny
limits:
  wallTime: 60s
rules:
  - id: hit
    action: http.fetch
    resource: "${origin}/hit/**"
    methods: [GET]
    effect: allow
`;
}

/** Resolves when the node prints its ready line; rejects (with its stderr) when it exits first or takes over 60 s. */
function nodeReady(child: ChildProcess, name: string): Promise<void> {
  let err = "";
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bench cluster: node ${name} was not ready within 60 s: ${err}`)), 60_000);
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      if (err.length < 100_000) err += chunk;
      if (/ready: capacity/.test(err)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`bench cluster: node ${name} exited (${code ?? signal}): ${err}`));
    });
  });
}

/** SIGTERM (the node leaves in order), SIGKILL after 10 s. */
async function stopNode(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const ended = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await ended;
  clearTimeout(timer);
}

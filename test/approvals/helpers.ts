/** Shared parts of the approvals tests: a workspace, a durable log, an agent that writes files. */
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { KernelSpace, type Agent, type KernelOptions, type LoggedEvent } from "../../dist/runtime/index.js";
import { moduleAgent, sleep, tempDir } from "../kernel/helpers.js";

/** Rules every test policy has: what agents need to run, the workspace, and the ask rule on writes. */
export function askPolicy(ask: Record<string, unknown> = {}, more: Record<string, unknown>[] = []): Record<string, unknown> {
  return {
    version: 1,
    name: "ask-test",
    default: "deny",
    rules: [
      { id: "basics", action: ["log.write", "clock.now", "random.bytes", "process.*"], effect: "allow" },
      { id: "ws", action: "fs.*", resource: "/workspace/**", effect: "allow" },
      { id: "ask-writes", action: "fs.write", resource: "/workspace/**", effect: "ask", reason: "a person approves writes", ...ask },
      ...more,
    ],
  };
}

/**
 * Writes each file the task lists (comma-separated, relative to /workspace), one call each, and
 * reports what each call answered: "ok", "PermissionDenied <rule>: <reason>" or "KernelError <kind>: <detail>".
 */
export const writer = withHash(moduleAgent(
  "writer",
  `import { fs } from "agent-os/guest";
  export async function run(task) {
    const out = [];
    for (const f of task.split(",")) {
      try { await fs.write("/workspace/" + f, "written by the agent\\n"); out.push("ok"); }
      catch (e) { out.push(e.name + " " + (e.rule ?? e.kind) + ": " + (e.reason ?? e.detail)); }
    }
    return out.join(" | ");
  }`,
));

/** An agent with its real content hash, so that the kernel stores its code for replay. */
export function withHash(agent: Agent): Agent {
  return { ...agent, codeHash: createHash("sha256").update(agent.source).digest("hex") };
}

/** A scratch directory with a workspace and a log, and kernels on them closed by `close`. */
export function setup(prefix: string): {
  dir: string;
  ws: string;
  logDir: string;
  kernel(options?: KernelOptions): KernelSpace;
  close(): Promise<void>;
} {
  const scratch = tempDir(prefix);
  const ws = join(scratch.path, "ws");
  mkdirSync(ws);
  const kernels: KernelSpace[] = [];
  return {
    dir: scratch.path,
    ws,
    logDir: join(scratch.path, "log"),
    kernel(options = {}) {
      const k = new KernelSpace({ policy: askPolicy(), log: { dir: join(scratch.path, "log") }, pool: { warm: 1 }, mounts: { "/workspace": ws }, approvals: true, ...options });
      kernels.push(k);
      return k;
    },
    async close() {
      await Promise.all(kernels.splice(0).map((k) => k.close()));
      scratch.remove();
    },
  };
}

/** Every event of a run, oldest first. */
export async function eventsOf(kernel: KernelSpace, runId: string): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  for await (const e of (await kernel.log).query({ runId })) out.push(e);
  return out;
}

/** Waits (generously) until `what` holds; fails the test otherwise. */
export async function until(what: () => boolean, timeoutMs = 30_000): Promise<void> {
  for (let t0 = Date.now(); !what(); ) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what.toString()}`);
    await sleep(10);
  }
}

/** The id of the single pending request, once there is one. */
export async function pendingId(kernel: KernelSpace): Promise<string> {
  await until(() => kernel.approvals().length === 1);
  return kernel.approvals()[0].id;
}

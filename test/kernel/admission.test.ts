/**
 * Admission: `maxConcurrent` agents run at once, the rest wait in a FIFO queue (state
 * `queued`, zero usage, no deadline running), SIGKILL ends a queued process without it ever
 * starting, and a SIGSTOP sent while queued makes it start paused. Real workers, real HTTP on
 * 127.0.0.1: each agent's first host call is a fetch that the test's server holds open.
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { KernelSpace, type Agent, type AgentProcess, type LoggedEvent } from "../../dist/runtime/index.js";
import { Admission } from "../../dist/runtime/kernel/admission.js";
import { moduleAgent, policyWith, sleep } from "./helpers.js";

vi.setConfig({ testTimeout: 120_000 });

/** A loopback server that holds each `/hold/<tag>` request until the test releases it, noting the order they came in. */
async function holdingServer() {
  const arrived: string[] = [];
  const held = new Map<string, ServerResponse>();
  const server = createServer((req, res) => {
    const tag = decodeURIComponent(req.url!.slice("/hold/".length));
    arrived.push(tag);
    held.set(tag, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    arrived,
    release(tag: string) {
      const res = held.get(tag);
      if (!res) throw new Error(`no request held for ${tag}`);
      held.delete(tag);
      res.end(`released ${tag}`);
    },
    close: () => {
      for (const res of held.values()) res.destroy();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function until(what: () => boolean, ms = 30_000): Promise<boolean> {
  for (const t0 = Date.now(); !what(); await sleep(5)) if (Date.now() - t0 > ms) return false;
  return true;
}

let server: Awaited<ReturnType<typeof holdingServer>>;
let kernel: KernelSpace;
let holder: Agent;

beforeAll(async () => {
  server = await holdingServer();
  kernel = new KernelSpace({
    policy: policyWith([{ id: "loopback", action: "http.fetch", resource: `${server.url}/**`, effect: "allow" }]),
    log: false,
    pool: { warm: 1 },
    maxConcurrent: 2,
    allowPrivate: ["127.0.0.1"],
    limits: { httpTimeout: 120_000 },
  });
  // Some work first (several fuel slices: a stop preset at start is seen before the fetch), then a held fetch.
  holder = moduleAgent(
    "holder",
    `import { http } from "agent-os/guest";
    export async function run(task) {
      let n = 0; for (let i = 0; i < 200000; i++) n += i % 3;
      const response = await http.fetch("${server.url}/hold/" + task);
      return task + ": " + (await response.text());
    }`,
  );
});
afterAll(async () => {
  await kernel?.close();
  await server?.close();
});

async function eventsOf(runId: string): Promise<LoggedEvent[]> {
  const events: LoggedEvent[] = [];
  for await (const e of (await kernel.log).query({ runId })) events.push(e);
  return events;
}

describe("admission", () => {
  it("runs 2 of 5 at once; a queued one killed never starts; the rest start in FIFO order as places free up", async () => {
    const procs = new Map<string, AgentProcess>();
    // E's deadline is shorter than the time it spends queued: only a deadline that ran while queued could end it.
    for (const tag of ["A", "B", "C", "D", "E"]) procs.set(tag, kernel.spawn(holder, tag, tag === "E" ? { limits: { wallTime: 3000 } } : {}));
    const [A, B, C, D, E] = ["A", "B", "C", "D", "E"].map((t) => procs.get(t)!);
    expect(await until(() => server.arrived.length === 2)).toBe(true);
    expect([...server.arrived].sort()).toEqual(["A", "B"]);

    const states = Object.fromEntries(kernel.ps().map((p) => [p.pid, p]));
    expect([A, B, C, D, E].map((p) => states[p.pid].state)).toEqual(["running", "running", "queued", "queued", "queued"]);
    for (const p of [C, D, E]) expect(states[p.pid].usage).toEqual({ fuel: 0, hostCalls: 0, wallMs: 0, tokens: { input: 0, output: 0 } });
    expect(kernel.stats()).toMatchObject({ running: 2, queued: 3 });

    // SIGKILL on a queued process: it ends at once, and never starts.
    kernel.signal(D.pid, "SIGKILL");
    expect(D.state).toBe("killed");
    expect(kernel.stats()).toMatchObject({ running: 2, queued: 2 });
    const killed = await D.wait();
    expect(killed).toMatchObject({ status: "killed", signal: "SIGKILL", reason: "signal", usage: { fuel: 0, hostCalls: 0, wallMs: 0 } });
    expect((await eventsOf(D.runId)).map((e) => e.type)).toEqual(["spawn", "signal", "exit"]);

    // SIGSTOP on a queued process: it starts stopped, and makes no call until SIGCONT.
    C.signal("SIGSTOP");
    expect(C.state).toBe("queued");
    // Longer than E's whole deadline, while it waits.
    await sleep(3500);
    expect(E.state).toBe("queued");
    expect(E.usage.wallMs).toBe(0);

    server.release("A");
    expect(await A.wait()).toMatchObject({ status: "ok", output: "A: released A" });
    expect(await until(() => C.state !== "queued")).toBe(true);
    expect(C.state).toBe("stopped");
    expect(await C.stopped(30_000)).toBe(true);
    expect(E.state).toBe("queued"); // C holds the place even while stopped
    await sleep(200);
    expect(server.arrived).toEqual(expect.arrayContaining(["A", "B"]));
    expect(server.arrived).toHaveLength(2);
    C.signal("SIGCONT");
    expect(await until(() => server.arrived.length === 3)).toBe(true);

    server.release("B");
    expect(await B.wait()).toMatchObject({ status: "ok", output: "B: released B" });
    expect(await until(() => server.arrived.length === 4)).toBe(true);
    expect(server.arrived.slice(2)).toEqual(["C", "E"]);
    server.release("C");
    server.release("E");
    expect(await C.wait()).toMatchObject({ status: "ok", output: "C: released C" });
    const e = await E.wait();
    expect(e).toMatchObject({ status: "ok", output: "E: released E" });
    expect(e.usage.wallMs).toBeLessThan(3000);

    // D's gate never saw a call; the others' spawn events record their isolation.
    for (const p of [A, B, C, E]) {
      const events = await eventsOf(p.runId);
      expect(events[0]).toMatchObject({ type: "spawn", data: { isolation: "dedicated" } });
      expect(events.some((ev) => ev.type === "call")).toBe(true);
    }
    expect(kernel.stats()).toEqual({ running: 0, queued: 0, workers: expect.any(Number), instances: 0 });
    expect(kernel.ps()).toEqual([]);
  });
});

describe("options", () => {
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["maxConcurrent 0", { maxConcurrent: 0 }, /maxConcurrent must be a positive integer/],
    ["maxConcurrent 1.5", { maxConcurrent: 1.5 }, /maxConcurrent must be a positive integer/],
    ["maxConcurrent as text", { maxConcurrent: "4" }, /maxConcurrent must be a positive integer/],
    ["pool.workers 0", { pool: { workers: 0 } }, /pool\.workers must be a positive integer/],
    ["pool.agentsPerWorker 2.5", { pool: { agentsPerWorker: 2.5 } }, /pool\.agentsPerWorker must be a positive integer/],
    ["pool.warm -1", { pool: { warm: -1 } }, /pool\.warm must be a non-negative integer/],
    ["pool.stackSizeMb 0", { pool: { stackSizeMb: 0 } }, /pool\.stackSizeMb must be a positive integer/],
    ["pool.maxHeapBytes as text", { pool: { maxHeapBytes: "1GiB" } }, /pool\.maxHeapBytes must be a positive integer/],
    ["an unknown pool option", { pool: { threads: 2 } }, /pool: unknown option "threads"/],
    ["pool: true", { pool: true }, /pool must be an object or false/],
    ["isolation", { isolation: "process" }, /isolation must be "shared" or "dedicated"/],
  ];
  for (const [what, options, message] of bad) {
    it(`refuses ${what} with a UsageError naming it`, () => {
      expect(() => new KernelSpace({ log: false, ...(options as object) })).toThrow(expect.objectContaining({ code: "USAGE", message: expect.stringMatching(message) }));
    });
  }

  it("refuses a bad spawn isolation, and \"shared\" for a component; runs a component dedicated when the kernel says shared", async () => {
    const k = new KernelSpace({ log: false, pool: { warm: 0 }, isolation: "shared" });
    const component: Agent = { name: "comp", kind: "module", engine: "component", source: "", codeHash: "comp" };
    try {
      expect(() => k.spawn(moduleAgent("a", "export function run() {}"), "", { isolation: "both" as never })).toThrow(/spawn isolation must be "shared" or "dedicated"/);
      expect(() => k.spawn(component, "", { isolation: "shared" })).toThrow(
        expect.objectContaining({ code: "USAGE", message: expect.stringMatching(/"shared" is not possible for the component "comp": components always run in a dedicated worker/) }),
      );
      // Kernel-wide "shared": a QuickJS agent goes to the shared host, a component does not.
      const shared = await k.execute(moduleAgent("a", 'export function run() { return "shared"; }'), "");
      expect(shared).toMatchObject({ status: "ok", output: "shared" });
      const sharedSpawn = [];
      for await (const e of (await k.log).query({ runId: shared.runId, type: "spawn" })) sharedSpawn.push(e);
      expect(sharedSpawn).toMatchObject([{ data: { engine: "quickjs", isolation: "shared" } }]);
      expect(k.ps()).toEqual([]);
      // (a component with no prepared image: it fails in its worker, but it was placed there)
      const result = await k.execute(component, "");
      expect(result.status).toBe("error");
      const spawn = [];
      for await (const e of (await k.log).query({ runId: result.runId, type: "spawn" })) spawn.push(e);
      expect(spawn).toMatchObject([{ data: { engine: "component", isolation: "dedicated" } }]);
    } finally {
      await k.close();
    }
  });

  it("pool: false starts no worker, and a dedicated spawn there fails clearly", async () => {
    const k = new KernelSpace({ log: false, pool: false });
    try {
      expect(() => k.spawn(moduleAgent("a", "export function run() { return 1; }"), "", { isolation: "dedicated" })).toThrow(
        expect.objectContaining({ code: "USAGE", message: 'pool: false runs agents in this thread: only isolation "shared" is possible' }),
      );
      // Its default isolation is shared, in this thread.
      expect(await k.execute(moduleAgent("a", 'export function run() { return "here"; }'), "")).toMatchObject({ status: "ok", output: "here" });
      expect(k.stats()).toEqual({ running: 0, queued: 0, workers: 0, instances: 0 });
      expect(k.workerCount).toBe(0);
    } finally {
      await k.close();
    }
  });

  it("maxConcurrent defaults to workers × agentsPerWorker", async () => {
    // Three admitted at once on a 3 × 1 pool; the fourth waits (nothing needs to run for that).
    const k = new KernelSpace({ log: false, pool: { warm: 0, workers: 3, agentsPerWorker: 1 } });
    const spinner = moduleAgent("spin", "export function run() { while (true); }");
    try {
      const procs = [0, 1, 2, 3].map(() => k.spawn(spinner, ""));
      expect(procs.map((p) => p.state)).toEqual(["running", "running", "running", "queued"]);
      expect(k.stats()).toMatchObject({ running: 3, queued: 1 });
    } finally {
      await k.close();
    }
    expect(k.stats()).toEqual({ running: 0, queued: 0, workers: 0, instances: 0 });
  });
});

describe("the admission queue", () => {
  it("is first in, first out, skips those that left it, and lets one in per place freed", async () => {
    const admission = new Admission(1);
    const first = admission.enter();
    const [a, b, c] = [admission.enter(), admission.enter(), admission.enter()];
    expect([first.admitted, a.admitted, b.admitted, c.admitted]).toEqual([true, false, false, false]);
    b.leave();
    expect(await b.granted).toBe(false);
    first.leave();
    expect(await a.granted).toBe(true);
    expect([a.admitted, c.admitted, admission.running, admission.queued]).toEqual([true, false, 1, 1]);
    a.leave();
    a.leave(); // idempotent: frees one place only
    expect(await c.granted).toBe(true);
    c.leave();
    expect([admission.running, admission.queued]).toEqual([0, 0]);
    expect(() => new Admission(0)).toThrow(/maxConcurrent must be a positive integer/);
  });
});

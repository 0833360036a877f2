/**
 * QuickJS's timers beyond what both engines share (test/component/timers.test.ts): the private
 * host functions stay private, a callback that throws ends the run, timers work while the
 * module loads, a wait ends at SIGTERM, a refused clock cannot be caught and carried on from,
 * and the kernel's wait itself (clock.sleep-until) is a timer, cleared with the run.
 */
import { afterAll, describe, expect, it, vi } from "vitest";
import { createClock } from "../../dist/runtime/capabilities/clock.js";
import { KernelSpace } from "../../dist/runtime/index.js";
import { kernelFor, moduleAgent, sleep } from "./helpers.js";

vi.setConfig({ testTimeout: 60_000 });

const kernel = kernelFor({ termGraceMs: 10_000 });
const noClock = new KernelSpace({
  policy: { version: 1, name: "no-clock", default: "deny", rules: [{ id: "logs", action: "log.write", effect: "allow" }] },
  log: false,
  pool: { warm: 0 },
});
afterAll(() => Promise.all([kernel.close(), noClock.close()]));

async function ops(k: KernelSpace, runId: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of (await k.log).query({ runId, type: "call" })) {
    const data = e.data as { op: string; args: unknown[] };
    out.push(data.op === "log.write" ? `log.write ${String(data.args[1])}` : data.op);
  }
  return out;
}

describe("QuickJS timers", () => {
  it("the timers' private host functions are unreachable from agent code", async () => {
    const agent = moduleAgent(
      "private",
      `import host from "agentos:kernel/_host";
      export function run() {
        return JSON.stringify({
          global: Object.getOwnPropertyNames(globalThis).filter((n) => n.startsWith("__agentos")),
          host: Object.keys(host).filter((k) => !k.includes(".")),
          timers: [typeof setTimeout, typeof setInterval, typeof clearTimeout, typeof clearInterval],
        });
      }`,
    );
    const result = await kernel.execute(agent, "");
    expect(result.status, result.error).toBe("ok");
    expect(JSON.parse(result.output!)).toEqual({ global: [], host: [], timers: ["function", "function", "function", "function"] });
  });

  it("a callback that throws ends the run with its error; no later timer fires", async () => {
    const agent = moduleAgent(
      "thrower",
      `import { write } from "agentos:kernel/log";
      export async function run() {
        setTimeout(() => { throw new RangeError("boom in a timer"); }, 1);
        setTimeout(() => write("info", "after the throw", []), 5);
        await new Promise((resolve) => setTimeout(resolve, 50));
        return "not reached";
      }`,
    );
    const result = await kernel.execute(agent, "");
    expect(result).toMatchObject({ status: "error", error: "RangeError: boom in a timer" });
    expect(await ops(kernel, result.runId)).toEqual(["clock.monotonic-now", "clock.sleep-until"]);
  });

  it("timers work while the module loads (top-level await), and run() still has its own", async () => {
    const agent = moduleAgent(
      "top-level",
      `const loaded = await new Promise((resolve) => setTimeout(() => resolve("loaded"), 2));
      export async function run() {
        const later = await new Promise((resolve) => setTimeout(resolve, 1, "ran"));
        return loaded + " " + later;
      }`,
    );
    expect(await kernel.execute(agent, "")).toMatchObject({ status: "ok", output: "loaded ran" });
  });

  it("queueMicrotask queues a microtask: after the current job, before any timer", async () => {
    const agent = moduleAgent(
      "microtask",
      `export async function run() {
        const order = [];
        setTimeout(() => order.push("timer"), 0);
        queueMicrotask(() => order.push("microtask"));
        order.push("sync");
        let refused = "";
        try { queueMicrotask("order.push(1)"); } catch (e) { refused = e.name; }
        await new Promise((resolve) => setTimeout(resolve, 1));
        return order.join(",") + " " + refused;
      }`,
    );
    expect(await kernel.execute(agent, "")).toMatchObject({ status: "ok", output: "sync,microtask,timer TypeError" });
  });

  it("a delay of 2^31 ms or more wraps as browsers do (fires at once), and timers set in a callback run after it", async () => {
    const agent = moduleAgent(
      "wrap",
      `export async function run() {
        const order = [];
        await new Promise((resolve) => {
          setTimeout(() => { order.push("wrapped"); setTimeout(() => { order.push("nested"); resolve(); }, 0); }, 2 ** 32);
          setTimeout(() => order.push("second"), 0);
        });
        return order.join(",");
      }`,
    );
    expect(await kernel.execute(agent, "")).toMatchObject({ status: "ok", output: "wrapped,second,nested" });
  });

  it("with no job and no timer left, the run still fails as never settling (a cleared timer does not count)", async () => {
    const agent = moduleAgent(
      "stuck",
      `export async function run() {
        clearTimeout(setTimeout(() => {}, 10));
        await new Promise(() => {});
      }`,
    );
    const result = await kernel.execute(agent, "");
    expect(result.status).toBe("error");
    expect(result.error).toMatch(/never settles/);
  });

  it("SIGTERM ends a long wait at once: the wait answers interrupted, and the run ends", async () => {
    const agent = moduleAgent("sleeper", `export async function run() { await new Promise((r) => setTimeout(r, 60_000)); return "woke"; }`);
    const proc = kernel.spawn(agent, "");
    for (let t0 = Date.now(); proc.usage.hostCalls < 2 && Date.now() - t0 < 20_000; ) await sleep(5);
    const termAt = Date.now();
    proc.signal("SIGTERM");
    const result = await proc.wait();
    expect(Date.now() - termAt).toBeLessThan(5000);
    expect(result.status).toBe("error");
    expect(result.error).toMatch(/^a timer could not wait: clock\.sleep-until was refused \(interrupted: /);
  });

  it("a refused clock cannot be caught and carried on from: the run ends before any further call", async () => {
    const agent = moduleAgent(
      "catcher",
      `import { write } from "agentos:kernel/log";
      export async function run() {
        try { setTimeout(() => {}, 5); } catch { write("info", "caught it", []); }
        return "carried on";
      }`,
    );
    const result = await noClock.execute(agent, "");
    expect(result.status).toBe("error");
    expect(result.error).toMatch(/^a timer could not read the clock: clock\.monotonic-now was refused \(denied: /);
    expect(await ops(noClock, result.runId)).toEqual(["clock.monotonic-now"]);
  });
});

describe("the kernel's wait (clock.sleep-until)", () => {
  it("answers at once for a time that has passed, and after the time for one to come", async () => {
    const clock = createClock(process.hrtime.bigint());
    const now = clock.monotonicNow();
    expect(await clock.sleepUntil(0n)).toBeGreaterThanOrEqual(now);
    const when = clock.monotonicNow() + 30_000_000n;
    const woke = await clock.sleepUntil(when);
    expect(woke).toBeGreaterThanOrEqual(when);
    clock.close();
  });

  it("a wait far in the future is a timer, not a busy loop; close clears it unanswered, interrupt answers interrupted", async () => {
    const clock = createClock(process.hrtime.bigint());
    let settled = false;
    void clock.sleepUntil(2n ** 63n).then(
      () => (settled = true),
      () => (settled = true),
    );
    // The event loop is free while it waits (a busy wait would hold this timer back).
    const t0 = performance.now();
    await sleep(20);
    expect(performance.now() - t0).toBeLessThan(1000);
    clock.close();
    await sleep(50);
    expect(settled).toBe(false);
    await expect(clock.sleepUntil(1n)).rejects.toMatchObject({ error: { tag: "interrupted" } });

    const other = createClock(process.hrtime.bigint());
    const waiting = other.sleepUntil(2n ** 62n);
    other.interrupt();
    await expect(waiting).rejects.toMatchObject({ error: { tag: "interrupted" } });
    other.close();
  });
});

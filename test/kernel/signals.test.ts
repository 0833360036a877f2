/** Signals, limits and exit reasons, on real worker threads. */
import { afterAll, describe, expect, it, vi } from "vitest";
import { expectDeadlinePausedWhileStopped, kernelFor, moduleAgent, sleep } from "./helpers.js";

// Guests that count to millions on a shared two-core machine: slow under load is not wrong.
vi.setConfig({ testTimeout: 180_000 });

const kernel = kernelFor();
afterAll(() => kernel.close());

const spinner = moduleAgent("spinner", `export function run() { let n = 0; while (true) n++; }`);
/** Counts to `task` and returns the sum: deterministic work that finishes. */
const counter = moduleAgent(
  "counter",
  `export function run(task) { let sum = 0; for (let i = 0; i < Number(task); i++) sum += i % 7; return String(sum); }`,
);
const expectedSum = (n: number) => {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += i % 7;
  return String(sum);
};

/** Checks for SIGTERM between slices of work; once it comes, tries one more call and reports what it was told. */
const polite = moduleAgent(
  "polite",
  `import { log, signals } from "agent-os/guest";
  export async function run() {
    for (let i = 0; ; i++) {
      if ((await signals.pending()) === "SIGTERM") {
        try { await log.info("finishing"); return "logged after SIGTERM?!"; }
        catch (e) { return "terminated: " + e.kind; }
      }
      for (let j = 0; j < 10000; j++);
    }
  }`,
);

async function fuelMoving(proc: { usage: { fuel: number } }): Promise<number> {
  const t0 = Date.now();
  while (proc.usage.fuel === 0 && Date.now() - t0 < 5000) await sleep(5);
  return proc.usage.fuel;
}

describe("signals", () => {
  it("SIGKILL ends a spinning agent at once: killed when signal() returns, its fuel frozen there", async () => {
    // How fast is for the benchmarks; here, that nothing waits on the guest.
    const proc = kernel.spawn(spinner, "");
    expect(await fuelMoving(proc)).toBeGreaterThan(0);
    proc.signal("SIGKILL");
    expect(proc.state).toBe("killed");
    const fuel = proc.usage.fuel;
    await sleep(100);
    expect(proc.usage.fuel).toBe(fuel);
    const result = await proc.wait();
    expect(result).toMatchObject({ status: "killed", signal: "SIGKILL", reason: "signal", usage: { fuel } });
  });

  it("SIGSTOP freezes a spinning agent (its fuel stops moving) and SIGCONT resumes it to the right answer", async () => {
    const n = 3_000_000;
    const proc = kernel.spawn(counter, String(n));
    expect(await fuelMoving(proc)).toBeGreaterThan(0);
    proc.signal("SIGSTOP");
    expect(await proc.stopped(2000)).toBe(true);
    expect(proc.state).toBe("stopped");
    expect(kernel.ps().find((p) => p.pid === proc.pid)?.state).toBe("stopped");
    const frozen = proc.usage.fuel;
    await sleep(150);
    expect(proc.usage.fuel).toBe(frozen);
    proc.signal("SIGCONT");
    expect(proc.state).toBe("running");
    const result = await proc.wait();
    expect(result.status).toBe("ok");
    expect(result.output).toBe(expectedSum(n));
    expect(result.usage.fuel).toBeGreaterThan(frozen);
  });

  it("SIGTERM: the next host call reports interrupted, and the agent may finish cleanly", async () => {
    const proc = kernel.spawn(polite, "");
    expect(await fuelMoving(proc)).toBeGreaterThan(0);
    proc.signal("SIGTERM");
    const result = await proc.wait();
    expect(result).toMatchObject({ status: "ok", output: "terminated: interrupted" });
  });

  it("SIGTERM sent before the run has started still reaches the agent", async () => {
    // A grace period longer than the test: only the agent seeing SIGTERM can end the run in time.
    const k = kernelFor({ termGraceMs: 60_000, pool: { warm: 0 } });
    try {
      const proc = k.spawn(polite, "");
      proc.signal("SIGTERM");
      expect(proc.usage.hostCalls).toBe(0);
      expect(await proc.wait()).toMatchObject({ status: "ok", output: "terminated: interrupted" });
    } finally {
      await k.close();
    }
  });

  it("SIGTERM is followed by SIGKILL after the grace period", async () => {
    const k = kernelFor({ termGraceMs: 100 });
    try {
      const proc = k.spawn(spinner, "");
      expect(await fuelMoving(proc)).toBeGreaterThan(0);
      proc.signal("SIGTERM");
      const result = await proc.wait();
      expect(result).toMatchObject({ status: "killed", signal: "SIGKILL" });
    } finally {
      await k.close();
    }
  });

  it("a signal to an unknown pid is a usage error; to an ended process it does nothing", async () => {
    expect(() => kernel.signal(99999, "SIGKILL")).toThrow(/no live process with pid 99999/);
    const proc = kernel.spawn(counter, "10");
    const result = await proc.wait();
    proc.signal("SIGKILL");
    expect(result.status).toBe("ok");
    expect(proc.state).toBe("exited");
  });
});

describe("limits", () => {
  it("fuel exhaustion kills with SIGXCPU, reason fuel", async () => {
    const result = await kernel.execute(spinner, "", { limits: { fuel: 2_000_000 } });
    expect(result).toMatchObject({ status: "killed", signal: "SIGXCPU", reason: "fuel" });
    expect(result.usage.fuel).toBeGreaterThan(2_000_000);
  });

  it("the same program under the same budget uses the same fuel on every run", async () => {
    const used = [];
    for (let i = 0; i < 3; i++) used.push((await kernel.execute(counter, "200000")).usage.fuel);
    expect(used[0]).toBeGreaterThan(0);
    expect(new Set(used).size).toBe(1);
    const killedAt = [];
    for (let i = 0; i < 3; i++) killedAt.push((await kernel.execute(counter, "100000000", { limits: { fuel: 1_000_000 } })).usage.fuel);
    expect(new Set(killedAt).size).toBe(1);
  });

  it("the deadline kills a runaway, reason deadline", async () => {
    const result = await kernel.execute(spinner, "", { limits: { wallTime: 200 } });
    expect(result).toMatchObject({ status: "killed", reason: "deadline" });
    expect(result.usage.wallMs).toBeGreaterThanOrEqual(190);
  });

  it("the deadline does not run while the agent is stopped, once it is running", async () => {
    // The kernel's clock is the test's: the agent works until it sees that clock move, so its
    // running time is what the test lets it be, however loaded the machine.
    let clock = 1_000_000;
    const k = kernelFor({ now: () => clock });
    try {
      const waiter = moduleAgent(
        "waiter",
        `export function run() { const start = Date.now(); while (Date.now() === start) for (let i = 0; i < 10000; i++); return "the clock moved"; }`,
      );
      const proc = k.spawn(waiter, "", { limits: { wallTime: 3000 } });
      await expectDeadlinePausedWhileStopped(proc, () => (clock += 1000));
    } finally {
      await k.close();
    }
  });

  it("deep recursion and a nested JSON.stringify bomb end as guest errors, and the kernel goes on serving", async () => {
    const deep = await kernel.execute(moduleAgent("deep", `function f(n) { return n === 0 ? 0 : 1 + f(n - 1); } export function run() { return String(f(5000)); }`), "");
    expect(deep.status).toBe("error");
    expect(deep.error).toMatch(/stack overflow|too much recursion|Maximum call stack/i);
    const nested = await kernel.execute(
      moduleAgent("nested", `export function run() { let o = {}; for (let i = 0; i < 200000; i++) o = { o }; return JSON.stringify(o); }`),
      "",
    );
    expect(nested.status).toBe("error");
    const ok = await kernel.execute(counter, "1000");
    expect(ok).toMatchObject({ status: "ok", output: expectedSum(1000) });
  });

  it("a memory bomb is contained: the guest sees out-of-memory, uncaught it fails the run with reason memory", async () => {
    for (const body of [`h.push(new Uint8Array(1 << 20))`, `h.push(new Array(1 << 16).fill(h.length))`, `h.push("x".repeat(1 << 16) + h.length)`]) {
      const result = await kernel.execute(moduleAgent("bomb", `export function run() { const h = []; for (;;) ${body}; }`), "", { limits: { memory: 16 * 1024 * 1024 } });
      expect(result).toMatchObject({ status: "error", reason: "memory" });
    }
    const caught = await kernel.execute(
      moduleAgent("careful", `export function run() { const h = []; try { for (;;) h.push(new Uint8Array(1 << 20)); } catch (e) { h.length = 0; return "recovered: " + e.message; } }`),
      "",
      { limits: { memory: 16 * 1024 * 1024 } },
    );
    expect(caught).toMatchObject({ status: "ok", output: "recovered: out of memory" });
  });

  it("the host-call limit ends a flood of calls", async () => {
    const flood = moduleAgent("flood", `import { write } from "agentos:kernel/log"; export function run() { for (;;) { try { write("info", "x", []); } catch (e) {} } }`);
    const result = await kernel.execute(flood, "", { limits: { hostCalls: 50 } });
    expect(result).toMatchObject({ status: "killed", reason: "limit" });
  });

  it("the output limit fails a run whose result is too large", async () => {
    const big = await kernel.execute(moduleAgent("big", `export function run() { return "x".repeat(5000); }`), "", { limits: { output: 1000 } });
    expect(big).toMatchObject({ status: "error", reason: "limit" });
  });
});

describe("processes and resources", () => {
  it("50 agents spawned and killed at random leave no worker, runtime or handle behind", async () => {
    const k = kernelFor({ pool: { warm: 2 } });
    const handlesBefore = process.getActiveResourcesInfo().length;
    const procs = Array.from({ length: 50 }, (_, i) => k.spawn(i % 3 === 0 ? counter : spinner, "50000"));
    expect(k.ps().length).toBeGreaterThan(0);
    const order = [...procs].sort(() => Math.random() - 0.5);
    for (const proc of order) {
      await sleep(Math.random() * 10);
      proc.signal(Math.random() < 0.8 ? "SIGKILL" : "SIGTERM");
    }
    const results = await Promise.all(procs.map((p) => p.wait()));
    expect(results.every((r) => r.status === "killed" || r.status === "ok")).toBe(true);
    expect(k.ps()).toEqual([]);
    await k.close();
    expect(k.workerCount).toBe(0);
    await sleep(100);
    expect(process.getActiveResourcesInfo().length).toBeLessThanOrEqual(handlesBefore);
  });
});

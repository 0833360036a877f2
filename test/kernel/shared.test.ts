/**
 * Isolation "shared" (issue 17): many agents on one thread, each in an engine instance of its
 * own. Every test runs twice: with every agent co-hosted in ONE worker thread, and in the
 * kernel's own thread (`pool: false`). Neighbours talk to the kernel through host tools whose
 * handlers count the calls, so that "the neighbour goes on" and "one slice at most" are counts
 * of events (calls, fuel slices), never times.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Agent, AgentProcess, KernelOptions, KernelSpace } from "../../dist/runtime/index.js";
import { KILL_ACK_MS } from "../../dist/runtime/hosts/node/pool/shared-host.js";
import { moduleAgent, sleep } from "./helpers.js";
import { MODES, Probes, SLICE, counter, expectedSum, holder, laterProber, prober, sharedKernel, spinnerOf, until } from "./shared-helpers.js";

// Guests that spin for many slices on a shared two-core machine: slow under load is not wrong.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

const MB = 1024 * 1024;

function fuelInPs(kernel: KernelSpace, proc: AgentProcess): number | undefined {
  return kernel.ps().find((p) => p.pid === proc.pid)?.usage.fuel;
}

describe.each(MODES)("shared engine, $mode", ({ worker, options }) => {
  const probes = new Probes();
  let k: KernelSpace;
  let spinner: Agent;
  const extra: KernelSpace[] = [];
  /** Another kernel in this placement, closed after the suite. */
  const another = (more: KernelOptions) => {
    const made = sharedKernel(probes, { ...options, ...more });
    extra.push(made);
    return made;
  };

  beforeAll(() => {
    k = sharedKernel(probes, options);
    spinner = spinnerOf(k);
  });
  afterAll(async () => {
    await Promise.all([k, ...extra].map((kernel) => kernel?.close()));
  });

  it("SIGSTOP freezes a spinning agent while its co-hosted neighbour's host calls go on; SIGCONT resumes it", async () => {
    const spin = k.spawn(spinner, "");
    expect(await until(() => spin.usage.fuel > 0)).toBe(true);
    const talker = k.spawn(prober, "t1");
    expect(await until(() => probes.count("t1") >= 5)).toBe(true);

    spin.signal("SIGSTOP");
    expect(await spin.stopped(10_000)).toBe(true);
    const frozen = fuelInPs(k, spin)!;
    const callsAtStop = probes.count("t1");
    const hostCallsAtStop = talker.usage.hostCalls;
    // While it is stopped, the neighbour makes 100 more calls: it is not frozen with it.
    expect(await until(() => probes.count("t1") >= callsAtStop + 100)).toBe(true);
    // (the gate counts a call as it comes in, the probe as it is carried out: one may be in between)
    expect(talker.usage.hostCalls).toBeGreaterThanOrEqual(hostCallsAtStop + 99);
    expect(spin.state).toBe("stopped");
    expect(fuelInPs(k, spin)).toBe(frozen);

    spin.signal("SIGCONT");
    expect(spin.state).toBe("running");
    expect(await until(() => fuelInPs(k, spin)! > frozen)).toBe(true);
    spin.signal("SIGKILL");
    expect(await spin.wait()).toMatchObject({ status: "killed", signal: "SIGKILL", reason: "signal" });

    probes.stopAt.set("t1", probes.count("t1") + 1);
    const told = await talker.wait();
    expect(told).toMatchObject({ status: "ok", output: `t1: ${probes.count("t1") - 1}` });
  });

  it("a spinning agent delays a co-hosted agent's reply by one slice at most (counted in the spinner's slices)", async () => {
    const spin = k.spawn(spinner, "");
    expect(await until(() => spin.usage.fuel >= 3 * SLICE)).toBe(true);
    probes.watched = () => spin;
    probes.stopAt.set("t2", 300);
    // In-thread each reply waits one pass of the event loop (else a synchronous reply would let
    // the neighbour run on without ever yielding, and the count would say nothing); in a worker
    // the neighbour always waits for its reply, and a synchronous tool keeps the kernel's part short.
    const result = await k.execute(worker ? prober : laterProber, "t2");
    probes.watched = undefined;
    spin.signal("SIGKILL");
    expect(result).toMatchObject({ status: "ok", output: "t2: 299" });
    const slices = probes.slicesBetween("t2");
    expect(slices).toHaveLength(299);
    // The spinner did run meanwhile (else "no delay" would say nothing).
    expect(slices.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    if (!worker) {
      // In-thread the count is exact: the kernel reads the spinner's fuel on the thread the
      // spinner runs on, so it cannot move while a call is handled or a reply delivered.
      expect(Math.max(...slices)).toBeLessThanOrEqual(1);
      return;
    }
    // In a worker the kernel reads the spinner's fuel on its own thread while the spinner goes on
    // running in the worker, so each count also holds the slices the spinner ran, in parallel,
    // while the KERNEL was slow: waking up for the call, handling it, being descheduled on a
    // shared machine. Those are no delay of the neighbour's (the worker would be idle otherwise),
    // and they are not one slice but tens: measured here (2,000 calls of this prober, kernel
    // thread timing the calls), the round trip WITHOUT any spinner had p99 5-16 ms and max
    // 14-76 ms, the same with one spinner, while the slice counts were p50 0, p90 1, p99 23-30,
    // max 32-57; under a load average of 8 even the median reached 2. These counts measure the
    // kernel's latency, not the engine's fairness, so no bound on them is asserted here: the exact
    // bound is the in-thread case, which runs the same scheduler (engines/quickjs-async/turns.ts).
    // What holds whatever the load: the neighbour made all its 299 round trips while the spinner,
    // on the same thread, kept spinning (its fuel grew during them, asserted above).
  });

  it("SIGKILL of a spinner and of an agent suspended in a host call leaves its neighbours to finish with the right output", async () => {
    const spin = k.spawn(spinner, "");
    const waiting = k.spawn(holder, "h3a");
    const released = k.spawn(holder, "h3b");
    probes.stopAt.set("t3", 100);
    const talker = k.spawn(prober, "t3");
    const n = 400_000;
    const counting = k.spawn(counter, String(n));
    const ready = await until(() => probes.held.has("h3a") && probes.held.has("h3b") && spin.usage.fuel > 0);
    expect(ready, JSON.stringify({ held: [...probes.held.keys()], fuel: spin.usage.fuel, ps: k.ps().map((p) => [p.agent, p.state]) })).toBe(true);

    spin.signal("SIGKILL");
    waiting.signal("SIGKILL");
    expect(await spin.wait()).toMatchObject({ status: "killed", signal: "SIGKILL" });
    expect(await waiting.wait()).toMatchObject({ status: "killed", signal: "SIGKILL" });
    // The killed agent's host call is cancelled, not left running.
    expect(await until(() => probes.held.get("h3a")?.signal.aborted === true)).toBe(true);

    probes.release("h3b");
    expect(await released.wait()).toMatchObject({ status: "ok", output: "h3b: released" });
    expect(await talker.wait()).toMatchObject({ status: "ok", output: "t3: 99" });
    expect(await counting.wait()).toMatchObject({ status: "ok", output: expectedSum(n) });
    expect(await until(() => k.stats().instances === 0)).toBe(true);
  });

  it("a memory bomb fails with reason memory in its own instance; its neighbours finish and no instance is left", async () => {
    const bombs = [
      moduleAgent("string-bomb", `export function run() { let s = "x"; for (;;) s = s.repeat(2); }`),
      moduleAgent("array-bomb", `export function run() { let a = [1]; for (;;) a = a.concat(a); }`),
    ];
    probes.stopAt.set("t4", 200);
    const talker = k.spawn(prober, "t4");
    const n = 300_000;
    const counting = k.spawn(counter, String(n));
    const results = await Promise.all(bombs.map((bomb) => k.execute(bomb, "", { limits: { memory: 32 * MB } })));
    for (const result of results) expect(result, JSON.stringify(result)).toMatchObject({ status: "error", reason: "memory" });
    expect(await talker.wait()).toMatchObject({ status: "ok", output: "t4: 199" });
    expect(await counting.wait()).toMatchObject({ status: "ok", output: expectedSum(n) });
    expect(await until(() => k.stats().instances === 0)).toBe(true);
    expect(k.ps()).toEqual([]);
  });

  it("maxConcurrent 2: the third spawn is queued; SIGKILL ends it without it ever starting", async () => {
    const q = another({ maxConcurrent: 2 });
    const a = q.spawn(holder, "q5a");
    const b = q.spawn(holder, "q5b");
    const c = q.spawn(holder, "q5c");
    expect(await until(() => probes.held.has("q5a") && probes.held.has("q5b"))).toBe(true);
    expect(q.ps().find((p) => p.pid === c.pid)).toMatchObject({ state: "queued", usage: { fuel: 0, hostCalls: 0, wallMs: 0 } });
    expect(q.stats()).toMatchObject({ running: 2, queued: 1, instances: 2 });

    q.signal(c.pid, "SIGKILL");
    expect(c.state).toBe("killed");
    expect(await c.wait()).toMatchObject({ status: "killed", signal: "SIGKILL", reason: "signal", usage: { fuel: 0, hostCalls: 0, wallMs: 0 } });
    expect(q.stats()).toMatchObject({ running: 2, queued: 0 });

    probes.release("q5a");
    probes.release("q5b");
    expect(await a.wait()).toMatchObject({ status: "ok", output: "q5a: released" });
    expect(await b.wait()).toMatchObject({ status: "ok", output: "q5b: released" });
    expect(probes.held.has("q5c")).toBe(false);
    expect(await until(() => q.stats().instances === 0)).toBe(true);
  });

  it("500 agents spawned and killed at random leave no instance, worker or handle behind", async () => {
    const before = resourceCounts();
    const probesHere = new Probes();
    const many = sharedKernel(probesHere, options);
    const spin = spinnerOf(many);
    const kinds = ["spinner", "waiter", "quick"] as const;
    const procs = Array.from({ length: 500 }, (_, i) => {
      const kind = kinds[i % 3];
      const proc = kind === "spinner" ? many.spawn(spin, "") : kind === "waiter" ? many.spawn(holder, `w${i}`) : many.spawn(counter, "2000");
      return { kind, proc };
    });
    expect(many.ps().length).toBe(500);
    const shuffled = [...procs].sort(() => Math.random() - 0.5);
    for (const [i, { kind, proc }] of shuffled.entries()) {
      if (i % 25 === 0) await sleep(Math.random() * 20);
      // Quick finishers are killed half the time (some before, some after they end); the others always.
      if (kind !== "quick" || Math.random() < 0.5) proc.signal("SIGKILL");
    }
    const results = await Promise.all(procs.map(({ proc }) => proc.wait()));
    results.forEach((result, i) => {
      if (result.status === "ok") expect([procs[i].kind, result.output]).toEqual(["quick", expectedSum(2000)]);
      else expect(result, `${procs[i].kind}: ${JSON.stringify(result)}`).toMatchObject({ status: "killed", signal: "SIGKILL" });
    });
    expect(await until(() => many.stats().instances === 0)).toBe(true);
    expect(many.ps()).toEqual([]);
    await many.close();
    expect(many.stats().workers).toBe(0);
    await sleep(200);
    const after = resourceCounts();
    for (const [type, count] of Object.entries(after)) expect({ type, count }).toEqual({ type, count: Math.min(count, before[type] ?? 0) });
  });

  it("a getter that makes a kernel call while read as another call's argument is refused (invalid); the outer call goes on", async () => {
    const agent = moduleAgent(
      "nested-getter",
      `import { write } from "agentos:kernel/log";
      export function run() {
        let inner = "the getter never ran";
        const pair = ["k", "v"];
        Object.defineProperty(pair, 1, { enumerable: true, get() {
          try { write("info", "inner", []); inner = "the inner call was made"; }
          catch (e) { inner = e.payload ? e.payload.tag + ": " + e.payload.val : String(e); }
          return "v";
        } });
        let outer = "ok";
        try { write("info", "outer", [pair]); } catch (e) { outer = e.payload ? e.payload.tag + ": " + e.payload.val : String(e); }
        return JSON.stringify({ inner, outer });
      }`,
    );
    const result = await k.execute(agent, "");
    expect(result.status, result.error).toBe("ok");
    const told = JSON.parse(result.output!) as { inner: string; outer: string };
    expect(told.inner).toMatch(/^invalid: /);
    expect(told.inner).toContain("a kernel call cannot be made from code that another kernel call runs");
    expect(told.outer).toBe("ok");
  });

  it("a getter that spins while read as a call's argument is ended (killed, reason limit) without delaying a neighbour beyond a slice", async () => {
    const agent = moduleAgent(
      "spinning-getter",
      `import { write } from "agentos:kernel/log";
      export function run() {
        const pair = ["k", "v"];
        Object.defineProperty(pair, 1, { enumerable: true, get() { for (;;) {} } });
        write("info", "outer", [pair]);
        return "the getter returned?!";
      }`,
    );
    const talker = k.spawn(worker ? prober : laterProber, "t7");
    expect(await until(() => probes.count("t7") >= 5)).toBe(true);
    // Watched from before it exists (fuel 0), so that the neighbour's calls bracket its whole life.
    let getter: AgentProcess | undefined;
    probes.watched = () => getter;
    const before = probes.count("t7");
    expect(await until(() => probes.count("t7") >= before + 2)).toBe(true);
    getter = k.spawn(agent, "");
    const result = await getter.wait();
    // A few more calls after it ended, so that the last stretch of its spin is measured too.
    const end = probes.count("t7") + 3;
    probes.stopAt.set("t7", end);
    expect(await talker.wait()).toMatchObject({ status: "ok", output: `t7: ${end - 1}` });
    probes.watched = undefined;
    expect(result).toMatchObject({ status: "killed", reason: "limit" });
    expect(result.error).toMatch(/ran longer than one time slice/);
    const slices = probes.slicesBetween("t7");
    expect(slices.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    // In a worker the count can hold the slices it ran while the kernel was slow (see the test of
    // a spinning neighbour above); it cannot exceed its whole life (2 slices) there, so ≤ 2 says
    // little, and the bound that matters is the in-thread one.
    expect(Math.max(...slices)).toBeLessThanOrEqual(worker ? 2 : 1);
  });

  // In-thread there is no thread to terminate: a built-in that never reaches the interrupt holds
  // the kernel's own thread until it returns, and the kernel can only act after it. That is the
  // documented limit of pool: false, not something a test can show being handled.
  it.skipIf(!worker)(
    "a built-in that never reaches the interrupt: SIGKILL terminates the worker; its neighbour ends with a trap naming the worker and the pid",
    async () => {
      const big = another({ limits: { memory: 256 * MB, wallTime: 300_000 } });
      // Sorting 160 million bytes takes QuickJS about 25 s on this machine, in one built-in call.
      const sorter = moduleAgent(
        "sorter",
        `import { tools } from "agent-os/guest";
        export async function run() {
          const a = new Int8Array(160_000_000);
          let x = 12345;
          for (let i = 0; i < 4096; i++) { x = (x * 1103515245 + 12345) & 0x7fffffff; a[i] = x >> 16; }
          for (let n = 4096; n < a.length; n *= 2) a.copyWithin(n, 0, n);
          await tools.call("probe", { tag: "t8-sorting" });
          a.sort();
          return "sorted";
        }`,
      );
      const neighbour = big.spawn(prober, "t8");
      expect(await until(() => probes.count("t8") >= 5)).toBe(true);
      const sorting = big.spawn(sorter, "", { limits: { memory: 200 * MB } });
      expect(await until(() => probes.count("t8-sorting") === 1)).toBe(true);
      // The worker is in the sort once the neighbour's calls stop coming (none for 500 ms).
      let seen = -1;
      let since = Date.now();
      const quiet = () => {
        const now = probes.count("t8");
        if (now !== seen) [seen, since] = [now, Date.now()];
        return Date.now() - since >= 500;
      };
      expect(await until(quiet, 20_000)).toBe(true);

      const t0 = Date.now();
      sorting.signal("SIGKILL");
      expect(sorting.state).toBe("killed");
      const ended = await neighbour.wait();
      const took = Date.now() - t0;
      expect(await sorting.wait()).toMatchObject({ status: "killed", signal: "SIGKILL" });
      expect(ended).toMatchObject({ status: "error", reason: "trap" });
      expect(ended.error).toContain("worker");
      expect(ended.error).toContain(`pid ${sorting.pid}`);
      // The watchdog, not the sort's end (about 25 s), ended it.
      expect(took).toBeLessThan(KILL_ACK_MS + 10_000);
      expect(big.stats()).toMatchObject({ workers: 0, instances: 0 });
      // The kernel goes on: a new worker takes the next agent.
      expect(await big.execute(counter, "1000")).toMatchObject({ status: "ok", output: expectedSum(1000) });
    },
  );
});

/** process.getActiveResourcesInfo(), counted by type. */
function resourceCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

/**
 * Timers on both engines, from one source (test/component/agents/timers.js): QuickJS runs it as
 * a module, the component engine as the component `agent-os build` makes of it. Both must make
 * the same kernel calls in the same order (StarlingMonkey's own timers over the kernel-backed
 * WASI clock on one side, the prelude's on the other), clear what is pending when the run ends,
 * stop at the deadline, fail clearly without a clock, and replay without waiting.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { KernelSpace, type Agent, type RunResult } from "../../dist/runtime/index.js";
import { policyWith, sleep, tempDir } from "../kernel/helpers.js";
import { AGENTS, BUILD_TIMEOUT_MS, CACHE_DIR, prebuild } from "./helpers.js";

vi.setConfig({ testTimeout: 60_000 });

type EngineName = "quickjs" | "component";
const ENGINES: EngineName[] = ["quickjs", "component"];

const dir = tempDir("agent-os-timers-");
let kernel: KernelSpace;
let noClock: KernelSpace;
const agents = {} as Record<EngineName, { kernel: Agent; noClock: Agent }>;

beforeAll(async () => {
  const files = await prebuild(["timers"]);
  kernel = new KernelSpace({ policy: policyWith(), log: { dir: join(dir.path, "log") }, pool: { warm: 1 }, cache: { dir: CACHE_DIR } });
  // Logging allowed, the clock not: no timer can count its delay.
  noClock = new KernelSpace({
    policy: { version: 1, name: "no-clock", default: "deny", rules: [{ id: "logs", action: "log.write", effect: "allow" }] },
    log: false,
    pool: { warm: 0 },
    cache: { dir: CACHE_DIR },
  });
  for (const engine of ENGINES) {
    const file = engine === "quickjs" ? AGENTS.timers : files.timers;
    agents[engine] = { kernel: await kernel.load(file), noClock: await noClock.load(file) };
    expect(agents[engine].kernel.engine).toBe(engine);
  }
}, BUILD_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all([kernel?.close(), noClock?.close()]);
  dir.remove();
});

/** The run's calls as `op` (a log line with its message) and the decision's effect. */
async function calls(k: KernelSpace, runId: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of (await k.log).query({ runId, type: "call" })) {
    const data = e.data as { op: string; args: unknown[]; decision: { effect: string } };
    out.push(`${data.op}${data.op === "log.write" ? " " + String(data.args[1]) : ""} ${data.decision.effect}`);
  }
  return out;
}

const allowed = (...ops: string[]) => ops.map((op) => `${op} allow`);

/**
 * Written from the rule (README, "Timers"), not from either engine: the first timer reads the
 * clock; a timer due at the time last read fires without a call; every other turn waits once;
 * an interval reads the clock again after its callback.
 */
const EXPECTED_CALLS = allowed(
  "clock.monotonic-now",
  "log.write t0-a",
  "log.write microtask after t0-a",
  "clock.sleep-until",
  "log.write t0-b (negative delay)",
  "clock.sleep-until",
  "log.write t0-c (NaN delay)",
  "clock.sleep-until",
  "log.write t1 args xy this-is-global true",
  "clock.sleep-until",
  "log.write t2 clears t3",
  "clock.sleep-until",
  "log.write t4",
  "clock.sleep-until",
  "log.write t10",
  "clock.monotonic-now",
  "clock.sleep-until",
  "log.write tick 1",
  "clock.monotonic-now",
  "clock.sleep-until",
  "log.write tick 2",
  "clock.monotonic-now",
  "clock.sleep-until",
  "log.write tick 3",
  "clock.monotonic-now",
);

const EXPECTED_ORDER = [
  "microtask before timers",
  "t0-a",
  "microtask after t0-a",
  "t0-b (negative delay)",
  "t0-c (NaN delay)",
  "t1 args xy this-is-global true",
  "t2 clears t3",
  "t4",
  "t10",
];

describe("the same timers on both engines", () => {
  const seen: Partial<Record<EngineName, { result: RunResult; calls: string[] }>> = {};

  it.each(ENGINES)("%s: callbacks after microtasks, by due time then order set; intervals; clears; ids; no string of code", async (engine) => {
    const result = await kernel.execute(agents[engine].kernel, "");
    expect(result.status, result.error).toBe("ok");
    expect(JSON.parse(result.output!)).toEqual({ order: EXPECTED_ORDER, ticks: 3, ids: [true, true], refused: "TypeError", evaluated: false });
    seen[engine] = { result, calls: await calls(kernel, result.runId) };
    expect(seen[engine]!.calls).toEqual(EXPECTED_CALLS);
  });

  it("both engines made the same calls in the same order", () => {
    expect(seen.quickjs?.calls).toBeDefined();
    expect(seen.component?.calls).toEqual(seen.quickjs!.calls);
    expect(seen.component?.result.output).toBe(seen.quickjs!.result.output);
  });

  it.each(ENGINES)("%s: a timer still pending when run() returns is cleared: it never fires after", async (engine) => {
    const result = await kernel.execute(agents[engine].kernel, "outlive");
    expect(result).toMatchObject({ status: "ok", output: "returned" });
    await sleep(400); // twice the timeout, eight times the interval
    expect(await calls(kernel, result.runId)).toEqual(allowed("clock.monotonic-now"));
    const events = [];
    for await (const e of (await kernel.log).query({ runId: result.runId })) events.push(e.type);
    expect(events.at(-1)).toBe("exit");
  });

  it.each(ENGINES)("%s: a run that only a timer settles works", async (engine) => {
    const result = await kernel.execute(agents[engine].kernel, "only-timer");
    expect(result).toMatchObject({ status: "ok", output: "settled by a timer" });
    expect(await calls(kernel, result.runId)).toEqual(allowed("clock.monotonic-now", "clock.sleep-until"));
  });

  it.each(ENGINES)("%s: the deadline ends a long wait", async (engine) => {
    const started = Date.now();
    const result = await kernel.execute(agents[engine].kernel, "sleep", { limits: { wallTime: 1500 } });
    expect(result).toMatchObject({ status: "killed", reason: "deadline" });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await calls(kernel, result.runId)).toEqual(allowed("clock.monotonic-now", "clock.sleep-until"));
  });

  it.each(ENGINES)("%s: SIGKILL ends a long wait at once", async (engine) => {
    const proc = kernel.spawn(agents[engine].kernel, "sleep");
    for (let t0 = Date.now(); proc.usage.hostCalls < 2 && Date.now() - t0 < 20_000; ) await sleep(5);
    expect(proc.usage.hostCalls).toBe(2);
    const killedAt = Date.now();
    proc.signal("SIGKILL");
    expect(await proc.wait()).toMatchObject({ status: "killed", signal: "SIGKILL" });
    expect(Date.now() - killedAt).toBeLessThan(2000);
  });

  it.each(ENGINES)("%s: without the clock, setTimeout fails the run with a clear error instead of hanging", async (engine) => {
    const result = await noClock.execute(agents[engine].noClock, "only-timer");
    expect(result.status).toBe("error");
    expect(result.error).toMatch(/^a timer could not read the clock: clock\.monotonic-now was refused \(denied: /);
    expect(result.denials).toMatchObject([{ action: "clock.now" }]);
  });
});

describe("replay of timers", () => {
  it.each(ENGINES)("%s: replays a run with timeouts and an interval identically", async (engine) => {
    const recorded = await kernel.execute(agents[engine].kernel, "");
    expect(recorded.status).toBe("ok");
    const report = await kernel.replay({ runId: recorded.runId, agent: agents[engine].kernel });
    expect(report.status, JSON.stringify(report.divergence)).toBe("identical");
    expect(report.output).toBe(recorded.output);
    expect(report.events.map((e) => e.op)).toEqual(EXPECTED_CALLS.map((c) => c.split(" ")[0]));
  });

  it.each(ENGINES)("%s: a replayed wait is answered from the log, without waiting", async (engine) => {
    const recorded = await kernel.execute(agents[engine].kernel, "slow");
    expect(recorded).toMatchObject({ status: "ok", output: "slow done" });
    expect(recorded.usage.wallMs).toBeGreaterThanOrEqual(1500);
    const started = performance.now();
    const report = await kernel.replay({ runId: recorded.runId, agent: agents[engine].kernel });
    expect(report.status).toBe("identical");
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

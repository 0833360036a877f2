/**
 * The component engine's costs, each beside the same work without the kernel in the same run:
 * first and cached load, spawn from a warm pool to the first host call, gated host calls per
 * second, SIGSTOP in a tight loop, and the fuel instrumentation's slowdown on a compute-bound
 * guest (the instrumented core module beside the original one, both without the kernel).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { transpile } from "@bytecodealliance/jco";
import { KernelSpace, buildComponent, type Decision, type Policy, type Request } from "../runtime/index.js";
import { ENGINE_IMPORT, FUEL_EXPORT, GROW_IMPORT, MEMORY_IMPORT, REFUEL_IMPORT } from "../runtime/engines/component/image.js";
import { loadComponent } from "../runtime/engines/component/load.js";
import { trustedCache } from "../runtime/engines/component/trust.js";
import { FUEL_PER_SLICE } from "../runtime/engines/component/run.js";
import { Wasm, type WasmInstance, type WasmModule } from "../runtime/engines/component/wasm.js";
import { median, sigstopLatencies, type BenchRow, type BenchSuite } from "./harness.js";

const AGENT = new URL("../../bench/agents/component.js", import.meta.url).pathname;
const CACHE = ".agent-os/cache";
const CALLS = 50_000;
/** StarlingMonkey's cost per host call grows with the calls made in the same run: both shown. */
const SHORT_RUN = 2_000;
const COMPUTE = "compute 400000";

class StopwatchPolicy implements Policy {
  readonly name = "bench";
  readonly hash = "bench";
  readonly defaultEffect = "allow" as const;
  readonly limits = {};
  firstCall = 0;
  decide(_request: Request): Decision {
    if (this.firstCall === 0) this.firstCall = performance.now();
    return { effect: "allow", rule: "all", reason: "bench", matched: ["all"] };
  }
}

type Root = { run(task: string): unknown };
type Instantiate = (get: (n: string) => WasmModule, imports: Record<string, unknown>, core: (m: WasmModule, i: Record<string, Record<string, unknown>>) => WasmInstance) => Root;

/** The glue and modules without the kernel: a no-op log, every other import absent. */
function rawInstance(instantiate: Instantiate, modules: Record<string, WasmModule>, instrumented: string[], memoryModule?: string, onCall = () => undefined): Root {
  const noop = () => ({ tag: "ok", val: undefined });
  const stub = new Proxy({}, { get: () => noop });
  const imports: Record<string, unknown> = {};
  for (const i of ["fs", "http", "sql", "clock", "random", "process"]) imports[`agentos:kernel/${i}`] = stub;
  imports["agentos:kernel/log"] = { write: () => (onCall(), { tag: "ok", val: undefined }) };
  return instantiate((n) => modules[n], imports, (module, importObject) => {
    const name = Object.keys(modules).find((n) => modules[n] === module)!;
    if (!instrumented.includes(name)) return new Wasm.Instance(module, importObject);
    const engine: Record<string, unknown> = { [REFUEL_IMPORT]: (counter: number) => FUEL_PER_SLICE + counter, [GROW_IMPORT]: (pages: number) => pages };
    if (name === memoryModule) engine[MEMORY_IMPORT] = new Wasm.Memory({ initial: 145, maximum: 4096 });
    const instance = new Wasm.Instance(module, { ...importObject, [ENGINE_IMPORT]: engine });
    void instance.exports[FUEL_EXPORT];
    return instance;
  });
}

/** CPU time of one run, in ms: less disturbed by the other jobs of a shared machine than wall time. */
function cpuRun(root: Root, task: string): number {
  const t0 = process.cpuUsage();
  root.run(task);
  return process.cpuUsage(t0).user / 1000;
}

function timeRun(root: Root, task: string): number {
  const t0 = performance.now();
  root.run(task);
  return performance.now() - t0;
}

export const componentBench: BenchSuite = {
  title: "Component engine: load, spawn, gated host calls, signals, fuel",
  async run(): Promise<BenchRow[]> {
    const { component } = await buildComponent(AGENT, { cache: { dir: CACHE } });

    // First load (check, transpile, instrument) in a cold cache, beside jco's transpile alone.
    const cold = mkdtempSync(join(tmpdir(), "agent-os-bench-cache-"));
    let firstMs: number;
    const cachedMs: number[] = [];
    let image;
    let instantiate: Instantiate;
    try {
      let t0 = performance.now();
      ({ image } = await loadComponent(component, "bench", trustedCache({ dir: cold })));
      firstMs = performance.now() - t0;
      for (let i = 0; i < 5; i++) {
        t0 = performance.now();
        await loadComponent(component, "bench", trustedCache({ dir: cold })); // the key read included
        cachedMs.push(performance.now() - t0);
      }
      ({ instantiate } = (await import(image.glue)) as { instantiate: Instantiate });
    } finally {
      rmSync(cold, { recursive: true, force: true });
    }
    let t0 = performance.now();
    const plain = await transpile(component, { name: "agent", instantiation: "sync", quiet: true });
    const transpileMs = performance.now() - t0;
    const originals: Record<string, WasmModule> = {};
    t0 = performance.now();
    for (const [name, bytes] of Object.entries(plain.files)) if (name.endsWith(".wasm")) originals[name] = await Wasm.compile(bytes);
    const compileMs = performance.now() - t0;

    // Raw baselines in this thread: instantiate + first call; calls per second.
    const rawSpawns: number[] = [];
    for (let i = 0; i < 20; i++) {
      const start = performance.now();
      let first = 0;
      const root = rawInstance(instantiate, image.modules, image.instrumented, image.memoryModule, () => void (first ||= performance.now()));
      root.run("first");
      rawSpawns.push(first - start);
    }
    const rawRoot = rawInstance(instantiate, image.modules, image.instrumented, image.memoryModule);
    rawRoot.run(`chatty 1000`);
    const rawCallsPerSecond = CALLS / (timeRun(rawRoot, `chatty ${CALLS}`) / 1000);
    const rawShort = median([0, 1, 2, 3, 4].map(() => SHORT_RUN / (timeRun(rawRoot, `chatty ${SHORT_RUN}`) / 1000)));

    // Fuel: the instrumented modules beside the original ones, same glue, same thread, in
    // alternation; the least CPU time of each (the run the other jobs disturbed least).
    const instrumentedTimes: number[] = [];
    const originalTimes: number[] = [];
    for (let i = 0; i < 15; i++) {
      const a = rawInstance(instantiate, image.modules, image.instrumented, image.memoryModule);
      const b = rawInstance(instantiate, originals, []);
      a.run("compute 1000");
      b.run("compute 1000");
      instrumentedTimes.push(cpuRun(a, COMPUTE));
      originalTimes.push(cpuRun(b, COMPUTE));
    }

    const policy = new StopwatchPolicy();
    const kernel = new KernelSpace({ policy, log: false, pool: { warm: 2 }, cache: { dir: CACHE } });
    try {
      const agent = await kernel.load(AGENT, { engine: "component" });
      for (let i = 0; i < 4; i++) await kernel.execute(agent, "first"); // the pool's workers load the glue
      const spawns: number[] = [];
      for (let i = 0; i < 30; i++) {
        policy.firstCall = 0;
        const start = performance.now();
        await kernel.execute(agent, "first");
        spawns.push(policy.firstCall - start);
      }
      await kernel.execute(agent, "chatty 1000");
      const rates: number[] = [];
      for (let i = 0; i < 3; i++) {
        const result = await kernel.execute(agent, `chatty ${CALLS}`);
        rates.push(CALLS / (result.usage.wallMs / 1000));
      }
      // A short run's time less a one-call run's time: the calls alone, without the spawn.
      const shortRates: number[] = [];
      for (let i = 0; i < 5; i++) {
        const one = await kernel.execute(agent, "first");
        const result = await kernel.execute(agent, `chatty ${SHORT_RUN}`);
        shortRates.push((SHORT_RUN - 1) / (Math.max(1, result.usage.wallMs - one.usage.wallMs) / 1000));
      }
      const stops = await sigstopLatencies(
        20,
        () => ((policy.firstCall = 0), kernel.spawn(agent, "spin")),
        () => policy.firstCall !== 0,
      );

      const spawnMs = median(spawns);
      const callRate = median(rates);
      const slowdown = Math.min(...instrumentedTimes) / Math.min(...originalTimes);
      return [
        { name: "first load: check, transpile, instrument (cold cache)", value: firstMs, unit: "ms", better: "lower", baseline: { name: "jco transpile alone", value: transpileMs } },
        { name: "cached load, median of 5", value: median(cachedMs), unit: "ms", better: "lower", baseline: { name: "compile the original modules", value: compileMs } },
        {
          name: "spawn to first host call (warm pool), median",
          value: spawnMs,
          unit: "ms",
          better: "lower",
          baseline: { name: "raw instantiate+call, same thread", value: median(rawSpawns) },
          target: { text: "< 20 ms", met: spawnMs < 20 },
        },
        {
          name: `gated host call (no-op log.write, in-memory log), ${SHORT_RUN.toLocaleString("en-US")} calls a run`,
          value: median(shortRates),
          unit: "calls/s",
          better: "higher",
          baseline: { name: "raw jco import, same thread", value: rawShort },
          target: { text: "≥ 50,000 calls/s", met: median(shortRates) >= 50_000 },
        },
        {
          name: `gated host call (no-op log.write, in-memory log), ${CALLS.toLocaleString("en-US")} calls a run`,
          value: callRate,
          unit: "calls/s",
          better: "higher",
          baseline: { name: "raw jco import, same thread", value: rawCallsPerSecond },
          target: { text: "≥ 50,000 calls/s", met: callRate >= 50_000 },
        },
        { name: "SIGSTOP honoured in while(true){}, median", value: median(stops), unit: "ms", better: "lower", target: { text: "< 5 ms", met: median(stops) < 5 } },
        {
          name: `compute-bound guest (${COMPUTE}), fuel-instrumented, least CPU time of 15`,
          value: Math.min(...instrumentedTimes),
          unit: "ms",
          better: "lower",
          baseline: { name: "the original modules", value: Math.min(...originalTimes) },
          target: { text: "slowdown ≤ 1.15×", met: slowdown <= 1.15 },
        },
      ];
    } finally {
      await kernel.close();
    }
  },
};

/**
 * The kernel's own costs, each beside raw quickjs-emscripten doing the same work in the same
 * run: spawn to first host call, gated host calls per second, and how soon SIGSTOP lands.
 */
import { newQuickJSWASMModule, RELEASE_SYNC } from "quickjs-emscripten";
import { KernelSpace, type Agent, type Decision, type Policy, type Request } from "../runtime/index.js";
import { median, sigstopLatencies, type BenchRow, type BenchSuite } from "./harness.js";

const CALLS = 50_000;

/** A policy that allows everything and notes when it is first asked (for spawn latency). */
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

function agent(name: string, source: string): Agent {
  return { name, kind: "module", engine: "quickjs", source, codeHash: name };
}

async function rawBaselines(): Promise<{ spawnMs: number; callsPerSecond: number }> {
  const module = await newQuickJSWASMModule(RELEASE_SYNC);
  const spawns: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    const runtime = module.newRuntime();
    const ctx = runtime.newContext();
    let first = 0;
    const fn = ctx.newFunction("write", () => {
      first ||= performance.now();
    });
    ctx.setProp(ctx.global, "write", fn);
    fn.dispose();
    const result = ctx.evalCode(`write("info", "x", [])`);
    (result.error ?? result.value).dispose();
    spawns.push(first - t0);
    ctx.dispose();
    runtime.dispose();
  }
  const runtime = module.newRuntime();
  const ctx = runtime.newContext();
  const fn = ctx.newFunction("write", () => undefined);
  ctx.setProp(ctx.global, "write", fn);
  fn.dispose();
  const t0 = performance.now();
  const result = ctx.evalCode(`for (let i = 0; i < ${CALLS}; i++) write("info", "x", [])`);
  const seconds = (performance.now() - t0) / 1000;
  (result.error ?? result.value).dispose();
  ctx.dispose();
  runtime.dispose();
  return { spawnMs: median(spawns), callsPerSecond: CALLS / seconds };
}

export const kernelBench: BenchSuite = {
  title: "Kernel (QuickJS engine): spawn, gated host calls, signals",
  async run(): Promise<BenchRow[]> {
    const raw = await rawBaselines();
    const policy = new StopwatchPolicy();
    const kernel = new KernelSpace({ policy, log: false, pool: { warm: 2 } });
    try {
      const first = agent("first", `import { write } from "agentos:kernel/log"; export function run() { write("info", "x", []); return ""; }`);
      await kernel.execute(first, ""); // warm the pool
      const spawns: number[] = [];
      for (let i = 0; i < 30; i++) {
        policy.firstCall = 0;
        const t0 = performance.now();
        await kernel.execute(first, "");
        spawns.push(policy.firstCall - t0);
      }

      const chatty = agent("chatty", `import { write } from "agentos:kernel/log"; export function run() { for (let i = 0; i < ${CALLS}; i++) write("info", "x", []); return ""; }`);
      await kernel.execute(chatty, "");
      const rates: number[] = [];
      for (let i = 0; i < 3; i++) {
        const result = await kernel.execute(chatty, "");
        rates.push(CALLS / (result.usage.wallMs / 1000));
      }

      // The spinner makes one call on entering run(), so that the bench knows it is in its loop.
      const spinner = agent("spinner", `import { write } from "agentos:kernel/log"; export function run() { write("info", "spinning", []); for (;;); }`);
      const stops = await sigstopLatencies(
        20,
        () => ((policy.firstCall = 0), kernel.spawn(spinner, "")),
        () => policy.firstCall !== 0,
      );

      const spawnMs = median(spawns);
      const callRate = median(rates);
      const stopMs = median(stops);
      return [
        {
          name: "spawn to first host call (warm pool), median",
          value: spawnMs,
          unit: "ms",
          better: "lower",
          baseline: { name: "raw runtime+context+call, same thread", value: raw.spawnMs },
          target: { text: "< 5 ms", met: spawnMs < 5 },
        },
        {
          name: "gated host call (no-op log.write, in-memory log)",
          value: callRate,
          unit: "calls/s",
          better: "higher",
          baseline: { name: "raw host function, same thread", value: raw.callsPerSecond },
          target: { text: "≥ 100,000 calls/s", met: callRate >= 100_000 },
        },
        {
          name: "SIGSTOP honoured in while(true){}, median",
          value: stopMs,
          unit: "ms",
          better: "lower",
          target: { text: "< 5 ms", met: stopMs < 5 },
        },
      ];
    } finally {
      await kernel.close();
    }
  },
};

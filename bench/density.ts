/**
 * Density (issue 17): many agents per thread on the asynchronous QuickJS engine, each figure
 * beside a baseline in the same run:
 *
 * - 1,000 agents each waiting 2 s on a loopback endpoint, shared isolation (2 workers): wall time
 *   and resident memory per waiting agent, beside today's dedicated workers on 200 agents. Each
 *   runs in a child process of its own (density-child.ts) so that the RSS figures do not mix;
 *   the endpoint is served from this process.
 * - spawn to first host call from a warm worker (shared), median of SPAWNS, beside dedicated;
 * - a gated no-op host call (clock.now) in the in-thread mode, beside the raw quickjs-emscripten
 *   host function (sync build, same thread); the cross-thread modes for comparison;
 * - the fuel slowdown: a compute-bound guest (an arithmetic loop, and fib(FIB_N)) on the new
 *   engine beside the raw sync build with an interrupt handler that counts, after warm-up, and
 *   the engine's wasm alone (interrupts that never suspend) to show how much is the build's.
 *   A run that fails is a MISSED row with its error, not a figure.
 */
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { newQuickJSWASMModule, RELEASE_SYNC, type QuickJSContext, type QuickJSRuntime, type QuickJSWASMModule } from "quickjs-emscripten";
import { KernelSpace, type Agent, type Decision, type KernelOptions, type Policy, type Request } from "../runtime/index.js";
import { evalCodeAsync } from "../runtime/engines/quickjs-async/drive.js";
import "../runtime/hosts/node/quickjs.js";
import { newEngine } from "../runtime/engines/quickjs-async/module.js";
import { Wasm } from "../runtime/engines/component/wasm.js";
import type { DensityFigures, DensityMode } from "./density-child.js";
import { median, type BenchRow, type BenchSuite } from "./harness.js";

const WAIT_MS = 2000;
const SHARED_AGENTS = 1000;
const DEDICATED_AGENTS = 200;
const SPAWNS = 200;
const CALLS = 50_000;
const FIB_N = 25;
const LOOP_N = 2_000_000;
const ROUNDS = 5;
const MB = 1024 * 1024;
const CHILD = new URL("./density-child.js", import.meta.url).pathname;

const SHARED: KernelOptions = { isolation: "shared", pool: { workers: 2, agentsPerWorker: 500 }, maxConcurrent: 1000 };
const IN_THREAD: KernelOptions = { pool: false };
const DEDICATED: KernelOptions = { isolation: "dedicated", pool: { warm: 2 } };

/** Allows everything, and notes when the first log.write is decided (the agent's first host call). */
class StopwatchPolicy implements Policy {
  readonly name = "bench-density";
  readonly hash = "bench-density";
  readonly defaultEffect = "allow" as const;
  readonly limits = {};
  firstCall = 0;
  decide(request: Request): Decision {
    if (this.firstCall === 0 && request.action === "log.write") this.firstCall = performance.now();
    return { effect: "allow", rule: "all", reason: "bench", matched: ["all"] };
  }
}

function agent(name: string, source: string): Agent {
  return { name, kind: "module", engine: "quickjs", source, codeHash: `density-${name}` };
}

const FIRST_CALL = agent("first-call", `import { write } from "agentos:kernel/log"; export function run() { write("info", "x", []); return ""; }`);
/** Times its own loop with the run's monotonic clock (two calls more), so that start-up is left out. */
const CLOCK_LOOP = agent(
  "clock-loop",
  `import { now, monotonicNow } from "agentos:kernel/clock";
export function run(task) { const n = Number(task); const t0 = monotonicNow(); for (let i = 0; i < n; i++) now(); return String(monotonicNow() - t0); }`,
);
/** A compute-bound guest: `define` once, then `call` timed. */
interface ComputeCode {
  label: string;
  define: string;
  call: string;
}
const LOOP: ComputeCode = {
  label: `an arithmetic loop of ${LOOP_N.toLocaleString("en-US")}`,
  define: "function spin(n) { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 7) % 1000003; return s; }",
  call: `spin(${LOOP_N})`,
};
const FIB: ComputeCode = { label: `fib(${FIB_N})`, define: "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }", call: `fib(${FIB_N})` };

/** Times `code.call` with the run's monotonic clock, so that start-up is left out. */
function computeAgent(code: ComputeCode): Agent {
  return agent(
    code.label.replace(/\W+/g, "-"),
    `import { monotonicNow } from "agentos:kernel/clock";
${code.define}
export function run() { const t0 = monotonicNow(); const r = ${code.call}; return String(monotonicNow() - t0) + " " + r; }`,
  );
}

/** A kernel for one figure, closed after `use`. */
async function withKernel<T>(options: KernelOptions, use: (kernel: KernelSpace, policy: StopwatchPolicy) => Promise<T>): Promise<T> {
  const policy = new StopwatchPolicy();
  const kernel = new KernelSpace({ ...options, policy, log: false, limits: { hostCalls: 10_000_000, wallTime: 600_000 } });
  try {
    return await use(kernel, policy);
  } finally {
    await kernel.close();
  }
}

/** Runs `agent` and returns its output. @throws Error when the run does not end "ok" */
async function outputOf(kernel: KernelSpace, subject: Agent, task = ""): Promise<string> {
  const result = await kernel.execute(subject, task);
  if (result.status !== "ok") throw new Error(`bench density: the ${subject.name} agent ended ${result.status}: ${result.error}`);
  return result.output ?? "";
}

// ---- 1. waiting agents, in child processes ----

/** A loopback endpoint that answers every request after `delayMs`. */
async function slowServer(delayMs: number): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    setTimeout(() => res.end("done"), delayMs);
  });
  server.maxConnections = 10_000;
  await new Promise<void>((resolve) => server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/wait`, server };
}

function runChild(mode: DensityMode, agents: number, url: string): Promise<DensityFigures> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ["--expose-gc", CHILD, mode, String(agents), url], { maxBuffer: 16 * MB }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`bench density: the ${mode} child failed: ${error.message}\n${stderr}`));
      const figures = JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as DensityFigures;
      if (figures.failed > 0) return reject(new Error(`bench density: ${figures.failed} of ${agents} ${mode} agents failed: ${figures.firstError}`));
      resolve(figures);
    });
  });
}

const perAgentMb = (f: DensityFigures) => (f.rssPeak - f.rssBefore) / f.agents / MB;

async function waitingRows(): Promise<BenchRow[]> {
  const { url, server } = await slowServer(WAIT_MS);
  try {
    const dedicated = await runChild("dedicated", DEDICATED_AGENTS, url);
    const shared = await runChild("shared", SHARED_AGENTS, url);
    const inThread = await runChild("in-thread", SHARED_AGENTS, url);
    const wallBase = { name: `dedicated, ${DEDICATED_AGENTS} agents`, value: dedicated.wallMs / 1000 };
    const rssBase = { name: `dedicated, ${DEDICATED_AGENTS} agents`, value: perAgentMb(dedicated) };
    const peakBase = { name: `dedicated, ${DEDICATED_AGENTS} agents`, value: dedicated.rssPeak / MB };
    const wallS = shared.wallMs / 1000;
    const perAgent = perAgentMb(shared);
    return [
      { name: `${SHARED_AGENTS} agents waiting ${WAIT_MS / 1000} s on loopback, shared (2 workers): wall`, value: wallS, unit: "s", better: "lower", baseline: wallBase, target: { text: "≤ 4 s (ideal 2 s)", met: wallS <= 4 } },
      { name: `  RSS per waiting agent, (peak − before) / ${SHARED_AGENTS}`, value: perAgent, unit: "MB", better: "lower", baseline: rssBase, target: { text: "≤ 1.5 MB", met: perAgent <= 1.5 } },
      { name: `  peak RSS (before the run: ${(shared.rssBefore / MB).toFixed(0)} MB, idle process ${(shared.rssIdle / MB).toFixed(0)} MB)`, value: shared.rssPeak / MB, unit: "MB", better: "lower", baseline: peakBase },
      { name: `the same ${SHARED_AGENTS} agents, in-thread (pool: false): wall`, value: inThread.wallMs / 1000, unit: "s", better: "lower", baseline: wallBase },
      { name: `  RSS per waiting agent, in-thread`, value: perAgentMb(inThread), unit: "MB", better: "lower", baseline: rssBase },
    ];
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

// ---- 2. spawn to first host call ----

/** Median ms from spawn() to the gate deciding the agent's first call, warm (one run first). */
async function spawnToFirstCall(options: KernelOptions): Promise<number> {
  return withKernel(options, async (kernel, policy) => {
    await outputOf(kernel, FIRST_CALL);
    const times: number[] = [];
    for (let i = 0; i < SPAWNS; i++) {
      policy.firstCall = 0;
      const t0 = performance.now();
      const proc = kernel.spawn(FIRST_CALL, "");
      const result = await proc.wait();
      if (result.status !== "ok" || policy.firstCall === 0) throw new Error(`bench density: spawn ${i} did not reach its first call (${result.status}: ${result.error})`);
      times.push(policy.firstCall - t0);
    }
    return median(times);
  });
}

async function spawnRows(): Promise<BenchRow[]> {
  const dedicated = await spawnToFirstCall(DEDICATED);
  const shared = await spawnToFirstCall(SHARED);
  const inThread = await spawnToFirstCall(IN_THREAD);
  const baseline = { name: "dedicated, warm pool", value: dedicated };
  return [
    { name: `spawn to first host call, shared, warm worker, median of ${SPAWNS}`, value: shared, unit: "ms", better: "lower", baseline, target: { text: "< 1 ms median", met: shared < 1 } },
    { name: `spawn to first host call, in-thread, median of ${SPAWNS}`, value: inThread, unit: "ms", better: "lower", baseline },
  ];
}

// ---- the machine's page faults ----

const FAULT_BYTES = 64 * MB;
const SMALL_PAGE = 4096;

/**
 * What a fresh engine instance pays for each page it touches: µs to write one byte into each
 * 4 KiB page of fresh wasm memory (a fault each), beside the same writes into the same pages
 * once resident. A new instance touches about 0.7 MB (the copied pages and what its run uses);
 * an instance made new in place touches none for the first time.
 */
function faultRows(): BenchRow[] {
  const touch = (bytes: Uint8Array) => {
    const t0 = performance.now();
    for (let i = 0; i < bytes.length; i += SMALL_PAGE) bytes[i] = 1;
    return ((performance.now() - t0) * 1000) / (bytes.length / SMALL_PAGE);
  };
  const bytes = new Uint8Array(new Wasm.Memory({ initial: FAULT_BYTES / 65536, maximum: FAULT_BYTES / 65536 }).buffer);
  const fresh = touch(bytes);
  const resident = touch(bytes);
  return [
    {
      name: "  the machine: a write to a fresh 4 KiB page of wasm memory (a page fault)",
      value: fresh,
      unit: "µs",
      better: "lower",
      baseline: { name: "the same write once the page is resident", value: resident },
    },
  ];
}

// ---- interleaved rounds ----

/**
 * One thing measured a round at a time. The figures that are compared run in interleaved rounds
 * (a round of each, then again), so that the load of a shared machine falls on all of them alike.
 */
interface Measurer {
  /** One sample (ms or calls/s), or NaN when the run failed. */
  once(): Promise<number>;
  close(): void | Promise<void>;
  failures: number;
  error?: string;
}

/** Medians of each measurer's samples over ROUNDS interleaved rounds, after one warm-up round; closes them. */
async function interleaved(measurers: Measurer[]): Promise<number[]> {
  try {
    for (const m of measurers) await m.once();
    const samples = measurers.map(() => [] as number[]);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, m] of measurers.entries()) samples[i].push(await m.once());
    }
    return samples.map((values) => (values.some(Number.isFinite) ? median(values.filter(Number.isFinite)) : NaN));
  } finally {
    for (const m of measurers) await m.close();
  }
}

/** The raw sync build in one runtime: `code.define` once, then each sample is `sample(ctx)`. */
function rawMeasurer(module: QuickJSWASMModule, setup: (ctx: QuickJSContext, runtime: QuickJSRuntime) => void, sample: (ctx: QuickJSContext) => number): Measurer {
  const runtime = module.newRuntime();
  const ctx = runtime.newContext();
  setup(ctx, runtime);
  return {
    failures: 0,
    once: async () => sample(ctx),
    close: () => {
      ctx.dispose();
      runtime.dispose();
    },
  };
}

/** Evaluates `code` in `ctx` and returns the ms it took. @throws Error when it fails */
function timedEval(ctx: QuickJSContext, code: string): number {
  const t0 = performance.now();
  const result = ctx.evalCode(code);
  const ms = performance.now() - t0;
  if (result.error) {
    const error = ctx.dump(result.error);
    result.error.dispose();
    throw new Error(`bench density: ${code} failed in the raw build: ${JSON.stringify(error)}`);
  }
  result.value.dispose();
  return ms;
}

/** Runs `subject` on a kernel of its own; a sample is `figure(output)`, NaN for a run that failed. */
function kernelMeasurer(options: KernelOptions, subject: Agent, task: string, figure: (output: string) => number): Measurer {
  const kernel = new KernelSpace({ ...options, policy: new StopwatchPolicy(), log: false, limits: { hostCalls: 10_000_000, wallTime: 600_000 } });
  const m: Measurer = {
    failures: 0,
    once: async () => {
      const result = await kernel.execute(subject, task);
      if (result.status === "ok") return figure(result.output ?? "");
      m.failures++;
      m.error ??= result.error;
      return NaN;
    },
    close: () => kernel.close(),
  };
  return m;
}

// ---- 3. gated no-op host calls ----

/** The guest's own timing of CALLS clock.now calls, as calls/s. */
const callsPerSecond = (output: string) => CALLS / (Number(output) / 1e9);

function rawCalls(module: QuickJSWASMModule): Measurer {
  const setup = (ctx: QuickJSContext) => {
    const fn = ctx.newFunction("now", () => undefined);
    ctx.setProp(ctx.global, "now", fn);
    fn.dispose();
  };
  return rawMeasurer(module, setup, (ctx) => CALLS / (timedEval(ctx, `for (let i = 0; i < ${CALLS}; i++) now()`) / 1000));
}

async function callRows(module: QuickJSWASMModule): Promise<BenchRow[]> {
  const gated = (options: KernelOptions) => kernelMeasurer(options, CLOCK_LOOP, String(CALLS), callsPerSecond);
  const measurers = [rawCalls(module), gated(IN_THREAD), gated(SHARED), gated(DEDICATED)];
  const [raw, inThread, shared, dedicated] = await interleaved(measurers);
  const failed = measurers.find((m) => m.failures > 0);
  if (failed) throw new Error(`bench density: the clock-loop agent failed ${failed.failures} times: ${failed.error}`);
  const baseline = { name: "raw no-op host function (sync build), same thread", value: raw };
  return [
    { name: "gated no-op host call (clock.now), in-thread, in-memory log", value: inThread, unit: "calls/s", better: "higher", baseline, target: { text: "≥ 0.5× raw", met: inThread >= 0.5 * raw } },
    { name: "  the same, shared worker (cross-thread)", value: shared, unit: "calls/s", better: "higher", baseline },
    { name: "  the same, dedicated worker (cross-thread)", value: dedicated, unit: "calls/s", better: "higher", baseline },
  ];
}

// ---- 4. fuel slowdown ----

/** The raw sync build with an interrupt handler that counts: ms for `code.call`. */
function rawCompute(module: QuickJSWASMModule, code: ComputeCode): Measurer {
  let interrupts = 0;
  const setup = (ctx: QuickJSContext, runtime: QuickJSRuntime) => {
    runtime.setInterruptHandler(() => (interrupts++, false));
    timedEval(ctx, code.define);
  };
  return rawMeasurer(module, setup, (ctx) => {
    const ms = timedEval(ctx, code.call);
    if (interrupts === 0) throw new Error("bench density: the raw interrupt handler never ran");
    return ms;
  });
}

/**
 * Where the slowdown goes: the new engine's wasm alone (no kernel), its interrupts answered
 * without suspending (no turns), `code.call` timed as the raw build's is.
 */
async function engineOnly(code: ComputeCode): Promise<Measurer> {
  const engine = newEngine({ interrupt: () => false }, 256 * MB);
  const runtime = engine.quickjs.newRuntime();
  runtime.setInterruptHandler(() => false);
  const ctx = runtime.newContext();
  const evaluate = async (text: string) => {
    const t0 = performance.now();
    const result = await evalCodeAsync(engine.glue, ctx, text, "bench.js", { type: "global" });
    if ("error" in result) throw new Error(`bench density: ${text} failed in the engine alone: ${JSON.stringify(ctx.dump(result.error))}`);
    result.value.dispose();
    return performance.now() - t0;
  };
  await evaluate(code.define);
  // (the instance is dropped whole, as the kernel drops it)
  return { failures: 0, once: () => evaluate(code.call), close: () => undefined };
}

/** The guest's own timing of `code.call` (ns in its output), in ms. */
const guestMs = (output: string) => Number(output.split(" ")[0]) / 1e6;

/** One row of the slowdown: the figure, or how many runs failed (a MISSED row, with the error). */
function computeRow(name: string, value: number, m: Measurer, baseline: { name: string; value: number }): BenchRow {
  if (m.failures === 0) return { name, value, unit: "ms", better: "lower", baseline };
  return {
    name: `${name}: runs that failed (${m.error?.split(": ").at(-1)})`,
    value: m.failures,
    unit: `of ${ROUNDS + 1} runs`,
    better: "lower",
    target: { text: "every run completes", met: false },
  };
}

async function fuelRows(module: QuickJSWASMModule): Promise<BenchRow[]> {
  const loop = [rawCompute(module, LOOP), await engineOnly(LOOP), kernelMeasurer(IN_THREAD, computeAgent(LOOP), "", guestMs)];
  const [rawLoop, engineLoop, inThreadLoop] = await interleaved(loop);
  const fib = [rawCompute(module, FIB), kernelMeasurer(IN_THREAD, computeAgent(FIB), "", guestMs), kernelMeasurer(SHARED, computeAgent(FIB), "", guestMs), kernelMeasurer(DEDICATED, computeAgent(FIB), "", guestMs)];
  const [rawFib, inThreadFib, sharedFib, dedicatedFib] = await interleaved(fib);
  const loopBase = { name: "raw sync build + counting interrupt handler", value: rawLoop };
  const fibBase = { name: "raw sync build + counting interrupt handler", value: rawFib };
  return [
    computeRow(`${LOOP.label} on the new engine, in-thread (fuel, a turn per slice)`, inThreadLoop, loop[2], loopBase),
    computeRow("  where: the new engine's wasm alone, no kernel, interrupts never suspend", engineLoop, loop[1], loopBase),
    computeRow(`${FIB.label} on the new engine, in-thread`, inThreadFib, fib[1], fibBase),
    computeRow(`${FIB.label} on the new engine, shared worker`, sharedFib, fib[2], fibBase),
    computeRow(`  ${FIB.label} on today's sync engine, dedicated worker`, dedicatedFib, fib[3], fibBase),
  ];
}

export const densityBench: BenchSuite = {
  title: `Density (issue 17): ${SHARED_AGENTS} agents waiting on loopback, spawn, gated calls and fuel on the asynchronous engine, beside dedicated workers and raw quickjs-emscripten`,
  async run(): Promise<BenchRow[]> {
    const module = await newQuickJSWASMModule(RELEASE_SYNC);
    return [...(await waitingRows()), ...(await spawnRows()), ...faultRows(), ...(await callRows(module)), ...(await fuelRows(module))];
  },
};

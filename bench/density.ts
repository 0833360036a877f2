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
 * - the fuel slowdown: fib(FIB_N) on the in-thread engine beside the raw sync build with an
 *   interrupt handler that counts, after warm-up.
 */
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { newQuickJSWASMModule, RELEASE_SYNC, type QuickJSWASMModule } from "quickjs-emscripten";
import { KernelSpace, type Agent, type Decision, type KernelOptions, type Policy, type Request } from "../runtime/index.js";
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

// ---- 3. gated no-op host calls ----

/** The raw sync build: a no-op host function called CALLS times in a guest loop, calls/s. */
function rawCallRate(module: QuickJSWASMModule): number {
  const runtime = module.newRuntime();
  const ctx = runtime.newContext();
  const fn = ctx.newFunction("now", () => undefined);
  ctx.setProp(ctx.global, "now", fn);
  fn.dispose();
  const t0 = performance.now();
  const result = ctx.evalCode(`for (let i = 0; i < ${CALLS}; i++) now()`);
  const seconds = (performance.now() - t0) / 1000;
  (result.error ?? result.value).dispose();
  ctx.dispose();
  runtime.dispose();
  return CALLS / seconds;
}

/** Median over ROUNDS of the clock-loop agent's own rate, after one warm-up run. */
async function gatedCallRate(options: KernelOptions): Promise<number> {
  return withKernel(options, async (kernel) => {
    await outputOf(kernel, CLOCK_LOOP, String(CALLS));
    const rates: number[] = [];
    for (let i = 0; i < ROUNDS; i++) rates.push(CALLS / (Number(await outputOf(kernel, CLOCK_LOOP, String(CALLS))) / 1e9));
    return median(rates);
  });
}

async function callRows(module: QuickJSWASMModule): Promise<BenchRow[]> {
  rawCallRate(module);
  const raw = median(Array.from({ length: ROUNDS }, () => rawCallRate(module)));
  const inThread = await gatedCallRate(IN_THREAD);
  const shared = await gatedCallRate(SHARED);
  const dedicated = await gatedCallRate(DEDICATED);
  const baseline = { name: "raw host function (sync build), same thread", value: raw };
  return [
    { name: "gated no-op host call (clock.now), in-thread, in-memory log", value: inThread, unit: "calls/s", better: "higher", baseline, target: { text: "≥ 0.5× raw", met: inThread >= 0.5 * raw } },
    { name: "  the same, shared worker (cross-thread)", value: shared, unit: "calls/s", better: "higher", baseline },
    { name: "  the same, dedicated worker (cross-thread)", value: dedicated, unit: "calls/s", better: "higher", baseline },
  ];
}

// ---- 4. fuel slowdown ----

/** The raw sync build: ms for `code` with an interrupt handler counting, median of ROUNDS after one warm-up. */
function rawComputeMs(module: QuickJSWASMModule, code: ComputeCode): number {
  const runtime = module.newRuntime();
  let interrupts = 0;
  runtime.setInterruptHandler(() => (interrupts++, false));
  const ctx = runtime.newContext();
  const defined = ctx.evalCode(code.define);
  (defined.error ?? defined.value).dispose();
  const times: number[] = [];
  for (let i = 0; i < ROUNDS + 1; i++) {
    const t0 = performance.now();
    const result = ctx.evalCode(code.call);
    times.push(performance.now() - t0);
    (result.error ?? result.value).dispose();
  }
  ctx.dispose();
  runtime.dispose();
  if (interrupts === 0) throw new Error("bench density: the raw interrupt handler never ran");
  return median(times.slice(1));
}

/** ms of the guest's own timing of `code`, median of ROUNDS after one warm-up; or how many of the runs trapped. */
async function computeMs(options: KernelOptions, code: ComputeCode): Promise<{ ms: number; trapped: number; error?: string }> {
  return withKernel(options, async (kernel) => {
    const subject = computeAgent(code);
    const times: number[] = [];
    let trapped = 0;
    let error: string | undefined;
    for (let i = 0; i < ROUNDS + 1; i++) {
      const result = await kernel.execute(subject, "");
      if (result.status !== "ok") {
        trapped++;
        error ??= result.error;
      } else if (i > 0) times.push(Number((result.output ?? "").split(" ")[0]) / 1e6);
    }
    return { ms: times.length > 0 ? median(times) : NaN, trapped, error };
  });
}

/** One row of the slowdown: the figure, or how many runs trapped (a MISSED row, with the error). */
function computeRow(name: string, outcome: { ms: number; trapped: number; error?: string }, baseline: { name: string; value: number }): BenchRow {
  if (outcome.trapped === 0) return { name, value: outcome.ms, unit: "ms", better: "lower", baseline };
  return {
    name: `${name}: runs that failed (${outcome.error})`,
    value: outcome.trapped,
    unit: `of ${ROUNDS + 1} runs`,
    better: "lower",
    target: { text: "every run completes", met: false },
  };
}

async function fuelRows(module: QuickJSWASMModule): Promise<BenchRow[]> {
  const loopBase = { name: "raw sync build + counting interrupt handler", value: rawComputeMs(module, LOOP) };
  const fibBase = { name: "raw sync build + counting interrupt handler", value: rawComputeMs(module, FIB) };
  return [
    computeRow(`${LOOP.label} on the new engine, in-thread (fuel, a turn per slice)`, await computeMs(IN_THREAD, LOOP), loopBase),
    computeRow(`${FIB.label} on the new engine, in-thread`, await computeMs(IN_THREAD, FIB), fibBase),
    computeRow(`${FIB.label} on the new engine, shared worker`, await computeMs(SHARED, FIB), fibBase),
    computeRow(`  ${FIB.label} on today's sync engine, dedicated worker`, await computeMs(DEDICATED, FIB), fibBase),
  ];
}

export const densityBench: BenchSuite = {
  title: `Density (issue 17): ${SHARED_AGENTS} agents waiting on loopback, spawn, gated calls and fuel on the asynchronous engine, beside dedicated workers and raw quickjs-emscripten`,
  async run(): Promise<BenchRow[]> {
    const module = await newQuickJSWASMModule(RELEASE_SYNC);
    return [...(await waitingRows()), ...(await spawnRows()), ...(await callRows(module)), ...(await fuelRows(module))];
  },
};

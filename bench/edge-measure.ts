/**
 * The edge kernel's figures, measured by the same code in Node and inside workerd (bench/edge.ts
 * bundles this module into a Worker). Times come from `Date.now()`, the clock both hosts have at
 * the same (millisecond) resolution, so each figure is a mean over many operations.
 */
import { EdgeKernel, createChainLog, type LogBackend } from "../runtime/edge/index.js";
import type { Decision, Policy, Request } from "../runtime/types.js";

/** What one host reports: means in ms, and calls/s. */
export interface EdgeFigures {
  spawnToFirstCallMs: number;
  gatedCallsPerSecond: number;
}

/** Allows everything, and notes when each run's first log.write is decided. */
class StopwatchPolicy implements Policy {
  readonly name = "bench-edge";
  readonly hash = "bench-edge";
  readonly defaultEffect = "allow" as const;
  readonly limits = {};
  firstCall = 0;
  decide(request: Request): Decision {
    if (this.firstCall === 0 && request.action === "log.write") this.firstCall = Date.now();
    return { effect: "allow", rule: "all", reason: "bench", matched: ["all"] };
  }
}

const FIRST_CALL = `import { write } from "agentos:kernel/log"; export function run() { write("info", "x", []); return ""; }`;
const CLOCK_LOOP = `import { now } from "agentos:kernel/clock";
export function run(task) { const n = Number(task); const t0 = Date.now(); for (let i = 0; i < n; i++) now(); return String(Date.now() - t0); }`;

/**
 * Spawn to first host call (mean of `spawns`, warm: one run first) and the rate of a gated
 * no-op call (`clock.now`, `calls` in one run, after one warm-up run), on an in-memory log.
 */
export async function measureEdge(engine: unknown, spawns = 200, calls = 20_000): Promise<EdgeFigures> {
  const policy = new StopwatchPolicy();
  const kernel = new EdgeKernel({ engine: engine as never, policy, limits: { hostCalls: 10_000_000, logBytes: 1 << 30, wallTime: 600_000 } });
  try {
    const first = EdgeKernel.agent("first-call", FIRST_CALL);
    await kernel.execute(first, "");
    let total = 0;
    for (let i = 0; i < spawns; i++) {
      policy.firstCall = 0;
      const t0 = Date.now();
      const result = await kernel.execute(first, "");
      if (result.status !== "ok") throw new Error(`bench edge: the first-call agent ended ${result.status}: ${result.error}`);
      total += policy.firstCall - t0;
    }
    const loop = EdgeKernel.agent("clock-loop", CLOCK_LOOP);
    await kernel.execute(loop, "1000");
    const timed = await kernel.execute(loop, String(calls));
    if (timed.status !== "ok") throw new Error(`bench edge: the clock loop ended ${timed.status}: ${timed.error}`);
    return { spawnToFirstCallMs: total / spawns, gatedCallsPerSecond: calls / (Math.max(1, Number(timed.output)) / 1000) };
  } finally {
    await kernel.close();
  }
}

/** An event of the size a gated call logs. */
const EVENT = { type: "call" as const, runId: "bench-edge", pid: 1, agent: "bench", data: { action: "clock.now", op: "clock.now", resource: "", args: [], decision: { effect: "allow", rule: "all", reason: "bench", matched: ["all"] } } };

/** Mean ms of a durable append (each awaited until its batch is written) on `backend`, over `count`. */
export async function measureAppends(backend: LogBackend, count = 200): Promise<number> {
  const log = await createChainLog(backend);
  try {
    await log.append(EVENT);
    const t0 = Date.now();
    for (let i = 0; i < count; i++) await log.append(EVENT);
    return (Date.now() - t0) / count;
  } finally {
    await log.close();
  }
}

/**
 * One density run in a process of its own, so that its resident memory is its own:
 * `node dist/bench/density-child.js <mode> <n> <url>` runs `n` agents at once, each fetching
 * `url` (a loopback endpoint that answers after a while), and prints one line of JSON
 * (DensityFigures) on stdout. Modes: "shared" (2 workers hosting up to 500 agents each),
 * "in-thread" (`pool: false`: every agent on this thread) and "dedicated" (a worker per agent).
 *
 * Before the run, one agent runs the same fetch to warm the kernel (workers started, the engine
 * compiled, the HTTP client's first connection), and RSS is read then: the figure per agent is
 * what each further waiting agent adds. RSS (the whole process, workers included) is sampled
 * every SAMPLE_MS during the run.
 */
import { KernelSpace, type Agent, type KernelOptions } from "../runtime/index.js";

/** What the parent reads: wall time and memory of one run. */
export interface DensityFigures {
  mode: DensityMode;
  agents: number;
  wallMs: number;
  /** RSS with the kernel warm and no agent running, in bytes. */
  rssBefore: number;
  /** The highest RSS sampled during the run, in bytes. */
  rssPeak: number;
  /** RSS of this process before the kernel was made, in bytes. */
  rssIdle: number;
  /** Agents whose run did not end "ok" (with the first error). */
  failed: number;
  firstError?: string;
}

export type DensityMode = "shared" | "in-thread" | "dedicated";

const MODES: Record<DensityMode, (n: number) => Pick<KernelOptions, "pool" | "isolation" | "maxConcurrent">> = {
  shared: (n) => ({ isolation: "shared", pool: { workers: 2, agentsPerWorker: Math.max(500, Math.ceil(n / 2)) }, maxConcurrent: n }),
  "in-thread": (n) => ({ pool: false, maxConcurrent: n }),
  dedicated: (n) => ({ isolation: "dedicated", pool: { warm: 2 }, maxConcurrent: n }),
};

const SAMPLE_MS = 50;

/** The waiting agent: one fetch of the task's URL, through the gate. */
export const WAITER: Agent = {
  name: "waiter",
  kind: "module",
  engine: "quickjs",
  codeHash: "density-waiter",
  source: `import { http } from "agent-os/guest";
export async function run(url) { const response = await http.fetch(url); return await response.text(); }`,
};

async function main(): Promise<void> {
  const [mode, count, url] = process.argv.slice(2);
  const n = Number(count);
  if (!(mode in MODES) || !Number.isInteger(n) || n < 1 || !url?.startsWith("http://127.0.0.1:")) {
    console.error(`density-child: usage: density-child.js <${Object.keys(MODES).join("|")}> <agents> <http://127.0.0.1:port/...> (got ${process.argv.slice(2).join(" ")})`);
    process.exit(2);
  }
  const rssIdle = process.memoryUsage.rss();
  const kernel = new KernelSpace({
    ...MODES[mode as DensityMode](n),
    policy: {
      version: 1,
      name: "bench-density",
      default: "deny",
      rules: [{ id: "loopback", action: "http.fetch", resource: `${new URL(url).origin}/**`, methods: ["GET"], effect: "allow" }],
    },
    log: false,
    allowPrivate: ["127.0.0.1"],
    limits: { wallTime: 600_000, httpTimeout: 600_000 },
  });
  try {
    const warm = await kernel.execute(WAITER, url);
    if (warm.status !== "ok") throw new Error(`density-child: the warm-up agent failed: ${warm.error}`);
    global.gc?.();
    const rssBefore = process.memoryUsage.rss();
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), SAMPLE_MS);
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: n }, () => kernel.execute(WAITER, url)));
    const wallMs = performance.now() - t0;
    clearInterval(sampler);
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
    const failures = results.filter((r) => r.status !== "ok");
    const figures: DensityFigures = { mode: mode as DensityMode, agents: n, wallMs, rssBefore, rssPeak, rssIdle, failed: failures.length, firstError: failures[0]?.error };
    console.log(JSON.stringify(figures));
  } finally {
    await kernel.close();
  }
}

await main();
// (the HTTP client's idle keep-alive sockets must not hold the process open)
process.exit(0);

/**
 * Pieces of the shared-isolation tests (shared.test.ts): the two placements of the asynchronous
 * engine, host tools that count the calls made to them (and read a watched agent's fuel at each
 * one), and the agents that use them.
 */
import { KernelSpace, defineTool, type Agent, type AgentProcess, type KernelOptions, type ToolDefinition } from "../../dist/runtime/index.js";
import { moduleAgent, policyWith, sleep } from "./helpers.js";

/** One fuel slice: the unit in which the engine publishes fuel (FUEL_PER_SLICE). */
export const SLICE = 10_000;

/** The two placements of the shared engine: every agent co-hosted in ONE worker, or on the kernel's own thread. */
export const MODES = [
  { mode: "one shared worker", worker: true, options: { isolation: "shared", pool: { workers: 1, agentsPerWorker: 600, warm: 0 } } },
  { mode: "in-thread (pool: false)", worker: false, options: { pool: false } },
] as const satisfies readonly { mode: string; worker: boolean; options: KernelOptions }[];

/** Polls `what` every 5 ms; false after `ms`. A wait, never an assertion on time. */
export async function until(what: () => boolean, ms = 30_000): Promise<boolean> {
  for (const t0 = Date.now(); !what(); await sleep(5)) if (Date.now() - t0 > ms) return false;
  return true;
}

/**
 * The test's side of two host tools:
 * - `probe {tag}` counts the calls per tag, notes the watched agent's fuel at each, and answers
 *   `{ go }`: false once the tag's call budget (`stopAt`) is reached;
 * - `hold {tag}` answers only when the test releases the tag, or "aborted" when the run ends.
 */
export class Probes {
  readonly counts = new Map<string, number>();
  /** The watched agent's fuel at each call of a tag. */
  readonly fuels = new Map<string, number[]>();
  readonly stopAt = new Map<string, number>();
  readonly held = new Map<string, { release(text: string): void; signal: AbortSignal }>();
  /** Whose fuel `probe` notes (its live usage, as the kernel sees it; 0 before it is spawned). */
  watched: (() => AgentProcess | undefined) | undefined;

  count(tag: string): number {
    return this.counts.get(tag) ?? 0;
  }

  /** Slices the watched agent ran between consecutive calls of `tag` (each made right after the previous reply). */
  slicesBetween(tag: string): number[] {
    const fuels = this.fuels.get(tag) ?? [];
    return fuels.slice(1).map((f, i) => (f - fuels[i]) / SLICE);
  }

  release(tag: string, text = "released"): void {
    const hold = this.held.get(tag);
    if (!hold) throw new Error(`nothing is held for ${tag}`);
    this.held.delete(tag);
    hold.release(text);
  }

  tools(): ToolDefinition[] {
    const tagged = { type: "object", properties: { tag: { type: "string" }, later: { type: "boolean" } }, required: ["tag"] };
    return [
      defineTool({
        name: "probe",
        description: "Counts calls per tag; with later: true, answers on a later pass of the event loop",
        input: tagged,
        run: ({ tag, later }) => {
          const t = String(tag);
          const n = this.count(t) + 1;
          this.counts.set(t, n);
          if (this.watched) this.fuels.set(t, [...(this.fuels.get(t) ?? []), this.watched()?.usage.fuel ?? 0]);
          const answer = { go: n < (this.stopAt.get(t) ?? Infinity) };
          return later ? new Promise((resolve) => setImmediate(() => resolve(answer))) : answer;
        },
      }),
      defineTool({
        name: "hold",
        description: "Answers when the test releases the tag",
        input: tagged,
        run: ({ tag }, { signal }) =>
          new Promise((resolve) => {
            this.held.set(String(tag), { release: resolve, signal });
            signal.addEventListener("abort", () => resolve("aborted"));
          }),
      }),
    ];
  }
}

/** A kernel in `options`' placement with the probe tools allowed. */
export function sharedKernel(probes: Probes, options: KernelOptions): KernelSpace {
  return new KernelSpace({
    policy: policyWith([
      { id: "probe", action: "tool.call", resource: "probe", effect: "allow" },
      { id: "hold", action: "tool.call", resource: "hold", effect: "allow" },
    ]),
    log: false,
    tools: probes.tools(),
    // Spinners outlive a test step on a loaded machine; the default deadline (30 s) could end them first.
    limits: { wallTime: 300_000 },
    ...options,
  });
}

/** Calls `probe` with its task as tag while the answer says go; returns "TAG: N" (N calls answered go). */
export const prober = moduleAgent(
  "prober",
  `import { tools } from "agent-os/guest";
  export async function run(tag) { let n = 0; while ((await tools.call("probe", { tag })).go) n++; return tag + ": " + n; }`,
);

/** The same, each answer coming on a later pass of the kernel's event loop (a reply that is really waited for). */
export const laterProber = moduleAgent(
  "later-prober",
  `import { tools } from "agent-os/guest";
  export async function run(tag) { let n = 0; while ((await tools.call("probe", { tag, later: true })).go) n++; return tag + ": " + n; }`,
);

/** Waits in `hold` under its task as tag; returns "TAG: ANSWER". */
export const holder = moduleAgent(
  "holder",
  `import { tools } from "agent-os/guest";
  export async function run(tag) { return tag + ": " + (await tools.call("hold", { tag })); }`,
);

/** Counts to its task and returns the sum of i % 7: deterministic work over many slices. */
export const counter = moduleAgent(
  "counter",
  `export function run(task) { let sum = 0; for (let i = 0; i < Number(task); i++) sum += i % 7; return String(sum); }`,
);

export function expectedSum(n: number): string {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += i % 7;
  return String(sum);
}

/** A registered function that never returns and makes no host call. */
export function spinnerOf(kernel: KernelSpace): Agent {
  return kernel.register(
    function spin() {
      for (;;) {
        // a tight loop: only the engine's interrupt can take the thread back
      }
    },
    { name: "spinner" },
  );
}

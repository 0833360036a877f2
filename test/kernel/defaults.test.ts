/**
 * The kernel defaults the README and KernelOptions promise, each checked for real: two warm
 * workers before anything is spawned, no run's memory limit above the pool's `maxHeapBytes`
 * (the limit a run is given and the allocation it can make), and SIGTERM's grace period: an
 * agent that ignores SIGTERM goes on running (its calls answered `interrupted`) until the grace
 * period is over, and is killed then, by the kernel, in that order in the log.
 */
import { afterAll, describe, expect, it } from "vitest";
import { KernelSpace, type KernelOptions, type LoggedEvent } from "../../dist/runtime/index.js";
import { moduleAgent, policyWith, sleep } from "./helpers.js";

const MiB = 1024 * 1024;
const kernels: KernelSpace[] = [];
afterAll(() => Promise.all(kernels.map((k) => k.close())));

function kernel(options: KernelOptions = {}): KernelSpace {
  const k = new KernelSpace({ policy: policyWith(), log: false, ...options });
  kernels.push(k);
  return k;
}

async function events(k: KernelSpace, runId: string): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  for await (const e of (await k.log).query({ runId })) out.push(e);
  return out;
}

describe("warm workers", () => {
  it("two by default, before any spawn; as many as pool.warm says otherwise; none after close", async () => {
    const byDefault = kernel();
    expect(byDefault.workerCount).toBe(2);
    expect(kernel({ pool: { warm: 0 } }).workerCount).toBe(0);
    expect(kernel({ pool: { warm: 3 } }).workerCount).toBe(3);
    await byDefault.close();
    expect(byDefault.workerCount).toBe(0);
  });
});

describe("maxHeapBytes", () => {
  /** Allocates `task` MiB in 1 MiB buffers and reports how far it got. */
  const hoarder = moduleAgent(
    "hoarder",
    `export function run(task) {
      const hoard = [];
      try { for (let i = 0; i < Number(task); i++) hoard.push(new Uint8Array(1 << 20).fill(1)); }
      catch (e) { return "stopped at " + hoard.length + " MiB: " + e.message; }
      return "allocated " + hoard.length + " MiB";
    }`,
  );
  const big = { memory: 512 * MiB };

  it("no run's memory limit exceeds the pool's cap, whatever the policy, the kernel or the spawn asks", async () => {
    const k = kernel({ policy: { ...policyWith(), limits: { memory: "768MiB" } }, limits: big, pool: { warm: 1, maxHeapBytes: 48 * MiB } });
    const result = await k.execute(hoarder, "1", { limits: big });
    expect(result).toMatchObject({ status: "ok", output: "allocated 1 MiB" });
    const spawn = (await events(k, result.runId)).find((e) => e.type === "spawn");
    expect((spawn?.data as { limits: { memory: number } }).limits.memory).toBe(48 * MiB);
  });

  it("and the allocation stops there: 96 MiB fails under a 48 MiB cap with a 512 MiB limit asked for, and succeeds under the default cap", async () => {
    const capped = kernel({ limits: big, pool: { warm: 1, maxHeapBytes: 48 * MiB } });
    const stopped = await capped.execute(hoarder, "96");
    expect(stopped.status, stopped.error).toBe("ok");
    const [, got] = /^stopped at (\d+) MiB: out of memory$/.exec(stopped.output ?? "") ?? [];
    expect(Number(got), stopped.output).toBeGreaterThan(0);
    expect(Number(got)).toBeLessThan(48);
    const uncapped = kernel({ limits: big, pool: { warm: 1 } });
    expect(await uncapped.execute(hoarder, "96")).toMatchObject({ status: "ok", output: "allocated 96 MiB" });
  });
});

describe("SIGTERM's grace period", () => {
  /** Ignores SIGTERM: makes a host call, does some work, again and again. */
  const stubborn = moduleAgent(
    "stubborn",
    `import { log } from "agent-os/guest";
    export async function run() {
      for (;;) {
        try { await log.info("still here"); } catch (e) { /* interrupted: ignored */ }
        for (let i = 0; i < 20000; i++);
      }
    }`,
  );

  /** SIGTERMs the agent once it has made a call; returns the run's signal and call events in order. */
  async function terminate(k: KernelSpace): Promise<{ sentAt: number; term: LoggedEvent; kill: LoggedEvent; between: LoggedEvent[]; result: Awaited<ReturnType<KernelSpace["execute"]>> }> {
    const proc = k.spawn(stubborn, "", { limits: { wallTime: 60_000 } });
    for (let t0 = Date.now(); proc.usage.hostCalls === 0 && Date.now() - t0 < 20_000; ) await sleep(5);
    // The log's clock is Date.now: the kill event cannot be stamped before the grace period
    // after this moment (the SIGTERM event itself may be stamped a little later, when its batch is sealed).
    const sentAt = Date.now();
    proc.signal("SIGTERM");
    const result = await proc.wait();
    const log = await events(k, result.runId);
    const term = log.find((e) => e.type === "signal" && e.data.signal === "SIGTERM")!;
    const kill = log.find((e) => e.type === "signal" && e.data.signal === "SIGKILL")!;
    const between = log.filter((e) => e.type === "call" && e.seq > term.seq && e.seq < kill.seq);
    return { sentAt, term, kill, between, result };
  }

  it("a configured grace: the agent keeps running (each call answered interrupted) until it is over, then the kernel kills it", async () => {
    const grace = 400;
    const k = kernel({ termGraceMs: grace, pool: { warm: 1 } });
    const { sentAt, term, kill, between, result } = await terminate(k);
    expect(result).toMatchObject({ status: "killed", signal: "SIGKILL", reason: "signal" });
    expect(term.seq).toBeLessThan(kill.seq);
    expect(kill.data).toEqual({ signal: "SIGKILL", by: "kernel (SIGTERM grace period over)" });
    // Not before: the agent was still running after SIGTERM, its calls refused as interrupted...
    expect(between.length).toBeGreaterThan(0);
    expect(result.denials.length).toBeGreaterThanOrEqual(between.length);
    expect(result.denials.every((d) => d.kind === "interrupted")).toBe(true);
    // ...and the kill came once the grace period was over (timers may round down by a millisecond).
    expect(kill.time - sentAt).toBeGreaterThanOrEqual(grace - 1);
  });

  it("the default grace is 5 s", async () => {
    const k = kernel({ pool: { warm: 1 } });
    const { sentAt, kill, between, result } = await terminate(k);
    expect(result).toMatchObject({ status: "killed", signal: "SIGKILL" });
    expect(kill.data).toEqual({ signal: "SIGKILL", by: "kernel (SIGTERM grace period over)" });
    expect(between.length).toBeGreaterThan(0);
    expect(kill.time - sentAt).toBeGreaterThanOrEqual(5000 - 1);
  });
});

/**
 * Spawn options the cluster builds on (issue 20): a run's own policy (its decisions, its limits,
 * its spawn event), a given run id, and rate limits counted in a shared count that fails closed.
 */
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KernelSpace, UsageError, loadPolicy, type LoggedEvent, type Policy, type SharedRates } from "../../dist/runtime/index.js";
import { policyWith, tempDir } from "./helpers.js";

const WRITE_RATE = { id: "logs", action: "log.write", rate: "2/minute", effect: "allow" };

describe("spawn options: a run's own policy and run id", () => {
  let dir: { path: string; remove(): void };
  let kernel: KernelSpace;
  beforeEach(() => {
    dir = tempDir();
    kernel = new KernelSpace({ policy: policyWith(), log: { dir: join(dir.path, "log") }, pool: { warm: 1 } });
  });
  afterEach(async () => {
    await kernel.close();
    dir.remove();
  });

  it("decides the run under the policy given to spawn, with its limits, and records its hash", async () => {
    const agent = kernel.register(async function clock(_task, { clock }) {
      return String(typeof (await clock.now()));
    });
    const denying = loadPolicy({ version: 1, name: "no-clock", default: "deny", limits: { fuel: 12345678 }, rules: [{ id: "no-clock", action: "clock.now", effect: "deny" }] });
    const mine = await kernel.spawn(agent, "", { policy: denying, runId: "run-under-no-clock" }).wait();
    expect(mine).toMatchObject({ runId: "run-under-no-clock", status: "error" });
    expect(mine.denials).toMatchObject([{ rule: "no-clock", action: "clock.now" }]);
    const kernels = await kernel.spawn(agent, "").wait();
    expect(kernels).toMatchObject({ status: "ok", output: "object" });
    const log = await kernel.log;
    const spawns: LoggedEvent[] = [];
    for await (const e of log.query({ type: "spawn" })) spawns.push(e);
    expect(spawns.map((e) => [e.runId === "run-under-no-clock", (e.data as { policy: { hash: string } }).policy.hash, (e.data as { limits: { fuel: number } }).limits.fuel])).toEqual([
      [true, denying.hash, 12345678],
      [false, kernel.policy.hash, expect.any(Number)],
    ]);
  });

  it("refuses a run id that a live run has, or that is not one", async () => {
    const spin = kernel.register(function spin() {
      for (;;);
    });
    const live = kernel.spawn(spin, "", { runId: "same" });
    expect(() => kernel.spawn(spin, "", { runId: "same" })).toThrow(UsageError);
    expect(() => kernel.spawn(spin, "", { runId: "has spaces" })).toThrow(/runId must be/);
    live.signal("SIGKILL");
    await live.wait();
  });
});

describe("shared rate limits", () => {
  const counts = new Map<string, number>();
  const shared = (fail = false): SharedRates => ({
    scope: "in this test's count",
    async take(policyHash, rule, rate, keys) {
      if (fail) throw new Error("the count is unreachable");
      const key = `${policyHash}/${rule}/${keys.join(",")}`;
      const n = counts.get(key) ?? 0;
      if (n >= rate.count) return false;
      counts.set(key, n + 1);
      return true;
    },
  });
  const writer = (k: KernelSpace) =>
    k.register(async function writer(_task, { log }) {
      const told: string[] = [];
      for (let i = 0; i < 3; i++) {
        try {
          await log.info("x");
          told.push("ok");
        } catch (e) {
          told.push((e as { reason?: string }).reason ?? String(e));
        }
      }
      return told.join("|");
    });

  it("counts in the shared count, not the local one: two kernels sharing it let 2 calls through in all", async () => {
    counts.clear();
    const a = new KernelSpace({ policy: policyWith([WRITE_RATE]), log: false, pool: { warm: 1 }, sharedRates: shared() });
    const b = new KernelSpace({ policy: policyWith([WRITE_RATE]), log: false, pool: { warm: 1 }, sharedRates: shared() });
    try {
      const first = await a.spawn(writer(a), "").wait();
      const second = await b.spawn(writer(b), "").wait();
      const told = `${first.output}|${second.output}`.split("|");
      expect(told.filter((t) => t === "ok")).toHaveLength(2);
      expect(told.filter((t) => t !== "ok")).toEqual(Array(4).fill("rate-limit: rule logs allows 2/minute per agent and per code in this test's count"));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("a host's own Policy that does not tell its rates (no rateOf) keeps counting them itself", async () => {
    const loaded = loadPolicy(policyWith([WRITE_RATE]));
    const own: Policy = { name: loaded.name, hash: loaded.hash, defaultEffect: loaded.defaultEffect, limits: loaded.limits, decide: (request, options) => loaded.decide(request, options) };
    const k = new KernelSpace({ policy: own, log: false, pool: { warm: 1 }, sharedRates: shared(true) });
    try {
      const result = await k.spawn(writer(k), "").wait();
      expect(result.output).toMatch(/^ok\|ok\|rate-limit: rule logs allows 2\/minute per agent/);
    } finally {
      await k.close();
    }
  });

  it("a shared count that cannot be reached denies (fail closed)", async () => {
    const k = new KernelSpace({ policy: policyWith([WRITE_RATE]), log: false, pool: { warm: 1 }, sharedRates: shared(true) });
    try {
      const result = await k.spawn(writer(k), "").wait();
      expect(result.output).toBe(Array(3).fill("rate-limit: the shared count of rule logs could not be reached (the count is unreachable)").join("|"));
    } finally {
      await k.close();
    }
  });
});

/**
 * A slow tool is stopped with its run: SIGTERM, the deadline (limits.wallTime) and SIGKILL
 * abort the AbortSignal its handler holds, the call answers `interrupted` at once after
 * SIGTERM, and the run ends as the signal or limit says.
 */
import { afterAll, describe, expect, it } from "vitest";
import { closeKernels, hostTools, kernel, toolsPolicy, TOOLBOX, type Seen } from "./helpers.js";

afterAll(closeKernels);

const SLOW = { id: "slow", action: "tool.call", resource: "slow", effect: "allow" };
const STEPS = JSON.stringify([{ call: "slow", args: {} }, { call: "slow", args: {} }]);

async function started(seen: Seen[]): Promise<void> {
  for (let i = 0; i < 400 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(seen).toHaveLength(1);
}

describe("a slow tool", () => {
  it("SIGTERM aborts its signal; the call answers interrupted and no further tool call is carried out", async () => {
    const seen: Seen[] = [];
    const k = kernel({ tools: hostTools(seen), policy: toolsPolicy([SLOW]), termGraceMs: 5_000 });
    const proc = k.spawn(await k.load(TOOLBOX), STEPS);
    await started(seen);
    expect(seen[0].signal.aborted).toBe(false);
    const t0 = performance.now();
    proc.signal("SIGTERM");
    const result = await proc.wait();
    expect(performance.now() - t0).toBeLessThan(4_000); // not the grace period: the agent finished
    expect(seen[0].signal.aborted).toBe(true);
    expect(result.status, result.error).toBe("ok");
    const out = JSON.parse(result.output!);
    expect(out[0]).toMatchObject({ error: { kind: "interrupted" } });
    expect(out[1]).toMatchObject({ error: { kind: "interrupted" } });
    expect(seen).toHaveLength(1);
  });

  it("the deadline (limits.wallTime) aborts its signal and kills the run", async () => {
    const seen: Seen[] = [];
    const k = kernel({ tools: hostTools(seen), policy: toolsPolicy([SLOW]), limits: { wallTime: 1_000 } });
    const result = await k.execute(await k.load(TOOLBOX), STEPS);
    expect(result).toMatchObject({ status: "killed", reason: "deadline" });
    expect(seen).toHaveLength(1);
    expect(seen[0].signal.aborted).toBe(true);
  });

  it("SIGKILL aborts its signal", async () => {
    const seen: Seen[] = [];
    const k = kernel({ tools: hostTools(seen), policy: toolsPolicy([SLOW]) });
    const proc = k.spawn(await k.load(TOOLBOX), STEPS);
    await started(seen);
    proc.signal("SIGKILL");
    const result = await proc.wait();
    expect(result).toMatchObject({ status: "killed", signal: "SIGKILL" });
    expect(seen[0].signal.aborted).toBe(true);
  });
});

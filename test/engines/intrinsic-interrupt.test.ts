/**
 * QuickJS polls its interrupt on every call, the kernel's own calls of the realm's intrinsics
 * included (a u64 reply's BigInt, Array.isArray on an argument). On the asynchronous engine an
 * interrupt inside a kernel call cannot yield; one that comes while an intrinsic runs is the
 * kernel's own work, not guest code run by the call, and must not end the run. Loops whose
 * slices end at every phase of a kernel call meet it; before the fix they were killed with
 * "guest code run inside a kernel call ... ran longer than one time slice".
 */
import { afterAll, describe, expect, it } from "vitest";
import { KernelSpace } from "../../dist/runtime/index.js";
import { moduleAgent, policyWith } from "../kernel/helpers.js";

const kernel = new KernelSpace({ pool: false, policy: policyWith(), log: false, limits: { hostCalls: 10_000_000, logBytes: 1 << 30 } });
afterAll(() => kernel.close());

describe("an interrupt while the kernel calls an intrinsic", () => {
  it("does not end a run that calls the clock in a loop, whatever the loop's length", async () => {
    for (let pad = 0; pad < 6; pad++) {
      const agent = moduleAgent(
        `clock-loop-${pad}`,
        `import { now } from "agentos:kernel/clock";
         export function run() { let x = 0; for (let i = 0; i < 20000; i++) { now(); Date.now(); for (let k = 0; k < ${pad}; k++) x++; } return "done " + x; }`,
      );
      const result = await kernel.execute(agent, "");
      expect({ pad, status: result.status, error: result.error }).toEqual({ pad, status: "ok", error: undefined });
    }
  }, 120_000);

  it("still ends guest code that a kernel call runs past one slice (a getter read as an argument)", async () => {
    const agent = moduleAgent(
      "getter",
      `import { write } from "agentos:kernel/log";
       export function run() { const args = []; Object.defineProperty(args, 0, { get() { for (;;) {} } }); write("info", "x", args); return "unreachable"; }`,
    );
    const result = await kernel.execute(agent, "");
    expect(result.status).not.toBe("ok");
    expect(result.error).toMatch(/ran longer than one time slice/);
  }, 60_000);
});

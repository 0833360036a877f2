/**
 * Every uncaught out-of-memory ends the run with reason `memory`, whatever ran the memory out:
 * promises, closures, async functions, rejected promises never handled, objects held across
 * awaits, a global hoard; at several limits (QuickJS throws `null` instead of its error when
 * even the error cannot be allocated, which depends on where the limit falls). On both engines.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelSpace, type Agent } from "../../dist/runtime/index.js";
import { AGENTS, BUILD_TIMEOUT_MS, CACHE_DIR, prebuild } from "../component/helpers.js";
import { policyWith } from "./helpers.js";

const MiB = 1024 * 1024;
const SHAPES = ["promises", "closures", "async-functions", "rejected-promises", "awaiting-objects", "global-arrays"];
const LIMITS = { quickjs: [4 * MiB, 16 * MiB, 32 * MiB], component: [16 * MiB, 64 * MiB] } as const;
type Engine = keyof typeof LIMITS;

let kernel: KernelSpace;
const agents = {} as Record<Engine, Agent>;

beforeAll(async () => {
  await prebuild(["engines"]);
  kernel = new KernelSpace({ policy: policyWith(), log: false, pool: { warm: 1 }, cache: { dir: CACHE_DIR } });
  agents.quickjs = await kernel.load(AGENTS.engines);
  agents.component = await kernel.load(join(CACHE_DIR, "test-components", "engines.wasm"));
}, BUILD_TIMEOUT_MS);

afterAll(() => kernel.close());

describe("on both engines", () => {
  it.each(SHAPES)("running out of memory with %s ends with reason memory", async (shape) => {
    for (const engine of ["quickjs", "component"] as const) {
      for (const memory of LIMITS[engine]) {
        const result = await kernel.execute(agents[engine], `oom ${shape}`, { limits: { memory } });
        expect(result, `${engine}: ${shape} at ${memory / MiB} MiB`).toMatchObject({ status: "error", reason: "memory" });
        expect(result.error).toMatch(/out of memory/);
      }
      // The kernel goes on serving.
      expect(await kernel.execute(agents[engine], "echo still here")).toMatchObject({ status: "ok", output: "still here" });
    }
  });

  it("an uncaught null: out of memory on QuickJS (nothing tells it from its own), thrown null on the component engine", async () => {
    expect(await kernel.execute(agents.quickjs, "throw null")).toMatchObject({ status: "error", reason: "memory" });
    expect(await kernel.execute(agents.component, "throw null")).toMatchObject({ status: "error", error: "the agent threw null" });
  });
});

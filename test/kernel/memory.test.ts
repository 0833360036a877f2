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
const ENGINES = [
  { engine: "quickjs", limits: [4 * MiB, 16 * MiB, 32 * MiB] },
  { engine: "component", limits: [16 * MiB, 64 * MiB] },
] as const;

beforeAll(() => prebuild(["engines"]), BUILD_TIMEOUT_MS);

describe.each(ENGINES)("$engine engine", ({ engine, limits }) => {
  let kernel: KernelSpace;
  let agent: Agent;

  beforeAll(async () => {
    kernel = new KernelSpace({ policy: policyWith(), log: false, pool: { warm: 1 }, cache: { dir: CACHE_DIR } });
    agent = engine === "quickjs" ? await kernel.load(AGENTS.engines) : await kernel.load(join(CACHE_DIR, "test-components", "engines.wasm"));
  }, BUILD_TIMEOUT_MS);

  afterAll(() => kernel.close());

  it.each(SHAPES)("running out of memory with %s ends with reason memory", async (shape) => {
    for (const memory of limits) {
      const result = await kernel.execute(agent, `oom ${shape}`, { limits: { memory } });
      expect(result, `${shape} at ${memory / MiB} MiB`).toMatchObject({ status: "error", reason: "memory" });
      expect(result.error).toMatch(/out of memory/);
    }
    // The kernel goes on serving.
    expect(await kernel.execute(agent, "echo still here")).toMatchObject({ status: "ok", output: "still here" });
  });

  it("an uncaught null: out of memory on QuickJS (nothing tells it from its own), thrown null on the component engine", async () => {
    const result = await kernel.execute(agent, "throw null");
    if (engine === "quickjs") expect(result).toMatchObject({ status: "error", reason: "memory" });
    else expect(result).toMatchObject({ status: "error", error: "the agent threw null" });
  });
});

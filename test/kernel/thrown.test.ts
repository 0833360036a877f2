/**
 * Once an agent's run has thrown, no guest code runs: the thrown value is read without its
 * getters, Proxy traps, toString, valueOf or Symbol.toPrimitive (each of which would make a host
 * call here, and the log would show it). Every shape, thrown and rejected, on both engines.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelSpace, type Agent, type RunResult } from "../../dist/runtime/index.js";
import { AGENTS, BUILD_TIMEOUT_MS, CACHE_DIR, prebuild } from "../component/helpers.js";
import { policyWith } from "./helpers.js";

const ENGINES = ["quickjs", "component"] as const;
const NO_MESSAGE = "the agent threw an Error without a plain message";
const NOT_AN_ERROR = "the agent threw an object that is not an Error";

/** Each shape of test/component/agents/engines.js, and the error the run must report. */
const SHAPES: [shape: string, error: string][] = [
  ["own-getters", NO_MESSAGE], // its own name, message and stack are getters: none is called
  ["proto-getters", NO_MESSAGE], // a subclass whose prototype has the getters: not looked into
  ["builtin-proto-getter", "typed"], // TypeError.prototype.name made a getter: its own message is still read
  ["proxy", NOT_AN_ERROR],
  ["proxy-prototype", "behind a proxy"], // a genuine Error whose prototype is a Proxy
  ["to-primitive", NOT_AN_ERROR],
  ["error-to-primitive", "RangeError: ranged"],
  ["function", "the agent threw a function"],
  ["string", "just a string"],
  ["number", "the agent threw a number"],
];

let kernel: KernelSpace;
const agents = {} as Record<(typeof ENGINES)[number], Agent>;

beforeAll(async () => {
  await prebuild(["engines"]);
  kernel = new KernelSpace({ policy: policyWith(), log: false, pool: { warm: 1 }, cache: { dir: CACHE_DIR } });
  agents.quickjs = await kernel.load(AGENTS.engines);
  agents.component = await kernel.load(join(CACHE_DIR, "test-components", "engines.wasm"));
}, BUILD_TIMEOUT_MS);

afterAll(() => kernel.close());

async function messages(result: RunResult): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const e of (await kernel.log).query({ runId: result.runId, type: "call" })) out.push((e.data as { args: unknown[] }).args[1]);
  return out;
}

describe("on both engines", () => {
  it("every shape, thrown or rejected, is reported as it is, with no host call after the run's end", async () => {
    for (const engine of ENGINES) {
      for (const [shape, error] of SHAPES) {
        for (const how of ["throw", "reject"]) {
          const where = `${engine}: ${how} ${shape}`;
          const result = await kernel.execute(agents[engine], `${how} ${shape}`);
          expect(result.status, where).toBe("error");
          expect(result.error, where).toBe(error);
          expect(result.reason, where).toBeUndefined();
          // The one call the agent made before throwing, and nothing from formatting what it threw.
          expect(await messages(result), where).toEqual([`before ${shape}`]);
          expect(result.usage.hostCalls, where).toBe(1);
        }
      }
    }
  });
});

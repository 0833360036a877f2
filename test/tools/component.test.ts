/**
 * The tools capability on the component engine: the toolbox agent, built by `agent-os build`
 * against the WIT world with its `tools` import, lists and calls host tools with the same
 * outcomes as on QuickJS, and a schema break is refused before its handler.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILD_TIMEOUT_MS, CACHE_DIR, prebuild } from "../component/helpers.js";
import { TOOLBOX, closeKernels, hostTools, kernel, runSteps, toolsPolicy, type Seen } from "./helpers.js";

let wasm: string;

beforeAll(async () => {
  wasm = (await prebuild(["toolbox"])).toolbox;
}, BUILD_TIMEOUT_MS);
afterAll(closeKernels);

const RULES = [{ id: "issues", action: "tool.call", resource: "create_issue", args: { "/repo": "myorg/*" }, effect: "allow" }];
const STEPS = [
  { list: true },
  { call: "create_issue", args: { repo: "myorg/api", title: "From a component" } },
  { call: "create_issue", args: { repo: "other/api", title: "Denied" } },
  { call: "create_issue", args: { repo: ["myorg/api"], title: "Invalid" } },
];

describe("tools from a component", () => {
  it("lists and calls host tools with the same outcomes as QuickJS", async () => {
    const outcomes: unknown[] = [];
    for (const engine of ["component", "quickjs"] as const) {
      const seen: Seen[] = [];
      const k = kernel({ tools: hostTools(seen), policy: toolsPolicy(RULES), cache: { dir: CACHE_DIR } });
      const agent = await k.load(engine === "component" ? wasm : TOOLBOX);
      expect(agent.engine).toBe(engine);
      const { outcomes: out, runId } = await runSteps(k, STEPS, agent);
      expect(seen.map((s) => [s.args, s.runId])).toEqual([[{ repo: "myorg/api", title: "From a component" }, runId]]);
      outcomes.push(out);
    }
    const [component] = outcomes as Record<string, unknown>[][];
    expect((component[0] as { ok: { name: string }[] }).ok.map((t) => t.name)).toEqual(["create_issue"]);
    expect(component[1]).toEqual({ ok: { number: 7, url: "https://example.test/myorg/api/issues/7" } });
    expect(component[2]).toMatchObject({ error: { name: "PermissionDenied" } });
    expect(component[3]).toMatchObject({ error: { kind: "invalid", message: 'invalid: tool "create_issue": /repo: must be string' } });
    expect(outcomes[0]).toEqual(outcomes[1]);
  });
});

/**
 * llm.chat on the component engine: the tool-using agent, built by `agent-os build` against the
 * WIT world with its `llm` import, makes the same calls with the same answers as on QuickJS, in
 * both wire formats.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startScriptedModel, type ScriptedModel } from "../../dist/runtime/index.js";
import { BUILD_TIMEOUT_MS, CACHE_DIR, prebuild } from "../component/helpers.js";
import { ADDER, ANTHROPIC_ENV, ANTHROPIC_KEY, OPENAI_ENV, OPENAI_KEY, closeKernels, kernel, llmPolicy, modelsAt } from "./helpers.js";

let wasm: string;
let server: ScriptedModel;

beforeAll(async () => {
  process.env[OPENAI_ENV] = OPENAI_KEY;
  process.env[ANTHROPIC_ENV] = ANTHROPIC_KEY;
  wasm = (await prebuild(["llm-adder"]))["llm-adder"];
  server = await startScriptedModel([
    { toolCalls: [{ id: "call_1", name: "add", arguments: { a: 2, b: 3 } }], usage: { input: 40, output: 12 } },
    { content: "2 + 3 = 5", usage: { input: 60, output: 7 } },
  ]);
}, BUILD_TIMEOUT_MS);
afterAll(async () => {
  await closeKernels();
  await server?.close();
  delete process.env[OPENAI_ENV];
  delete process.env[ANTHROPIC_ENV];
});

describe("llm.chat from a component", () => {
  it.each(["gpt", "claude"])("%s: the tool-call round trip gives what QuickJS gives, from the same requests", async (model) => {
    const outputs: string[] = [];
    const bodies: unknown[][] = [];
    for (const engine of ["component", "quickjs"] as const) {
      server.requests.length = 0;
      const k = kernel({ policy: llmPolicy(), models: modelsAt(server.url), cache: { dir: CACHE_DIR } });
      const agent = engine === "component" ? await k.load(wasm) : await k.load(ADDER);
      expect(agent.engine).toBe(engine);
      const result = await k.execute(agent, JSON.stringify({ model, maxTokens: 64 }));
      expect(result.status, result.error).toBe("ok");
      expect(result.usage.tokens).toEqual({ input: 100, output: 19 });
      outputs.push(result.output!);
      bodies.push(server.requests.map((r) => r.body));
    }
    const out = JSON.parse(outputs[0]);
    expect(out.answer).toBe("2 + 3 = 5");
    expect(out.seen[0]).toMatchObject({ finishReason: "tool-calls", calls: [{ id: "call_1", name: "add", arguments: { a: 2, b: 3 } }], argType: ["object"], usage: { inputTokens: 40, outputTokens: 12 } });
    expect(outputs[0]).toBe(outputs[1]);
    expect(bodies[0]).toEqual(bodies[1]);
    expect(bodies[0]).toHaveLength(2);
  });
});

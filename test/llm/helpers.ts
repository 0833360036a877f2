/**
 * Shared pieces of the model capability's tests: a policy that allows the model aliases, the
 * tool-using agent (one source for both engines), and kernels that are closed after the tests.
 */
import type { KernelOptions, ModelAlias } from "../../dist/runtime/index.js";
import { KernelSpace } from "../../dist/runtime/index.js";

export const OPENAI_KEY = "sk-llm-test-openai-5d2c9e81a7f3b604";
export const ANTHROPIC_KEY = "sk-ant-llm-test-0b7e4a19c3d8f265";
export const OPENAI_ENV = "LLM_TEST_OPENAI_KEY";
export const ANTHROPIC_ENV = "LLM_TEST_ANTHROPIC_KEY";

/** Aliases "gpt" (OpenAI format) and "claude" (Anthropic format) on a scripted server. */
export function modelsAt(url: string, extra: Partial<ModelAlias> = {}): Record<string, ModelAlias> {
  return {
    gpt: { provider: "openai", model: "gpt-test", baseUrl: `${url}/v1`, apiKeyEnv: OPENAI_ENV, ...extra },
    claude: { provider: "anthropic", model: "claude-test", baseUrl: url, apiKeyEnv: ANTHROPIC_ENV, ...extra },
  };
}

export function llmPolicy(extra: Record<string, unknown> = {}, rules: unknown[] = []): Record<string, unknown> {
  return {
    version: 1,
    name: "llm-test",
    default: "deny",
    rules: [...rules, { id: "basics", action: ["log.write", "clock.now", "random.bytes"], effect: "allow" }, { id: "models", action: "llm.chat", resource: ["gpt", "claude"], effect: "allow" }],
    ...extra,
  };
}

/**
 * The tool-using agent, as a module: asks the model (alias = the task), runs the one tool it
 * knows ("add") for every call the model makes, feeds the results back, and returns the answer
 * with what it saw, as JSON.
 */
export const TOOL_AGENT = `import { llm } from "agent-os/guest";
export async function run(task) {
  const { model, maxTokens } = JSON.parse(task);
  const tools = [{ name: "add", description: "Adds two numbers", parameters: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } }, required: ["a", "b"] } }];
  const messages = [{ role: "system", content: "You add." }, { role: "user", content: "What is 2 + 3?" }];
  const seen = [];
  for (let turn = 0; turn < 4; turn++) {
    const r = await llm.chat({ model, messages, tools, maxTokens, temperature: 0, stop: ["END"] });
    seen.push({ finishReason: r.finishReason, calls: r.toolCalls, usage: r.usage, model: r.model, argType: r.toolCalls.map((c) => typeof c.arguments) });
    if (r.toolCalls.length === 0) return JSON.stringify({ answer: r.content, seen });
    messages.push({ role: "assistant", content: r.content, toolCalls: r.toolCalls });
    for (const c of r.toolCalls) messages.push({ role: "tool", toolCallId: c.id, content: String(c.arguments.a + c.arguments.b) });
  }
  return JSON.stringify({ answer: null, seen });
}
`;

/** An agent that makes one call described by the task (JSON of llm.chat's options) and reports the outcome. */
export const ONE_CALL_AGENT = `import { llm } from "agent-os/guest";
export async function run(task) {
  try {
    const r = await llm.chat(JSON.parse(task));
    return JSON.stringify({ ok: r });
  } catch (e) {
    return JSON.stringify({ error: { name: e.name, kind: e.kind ?? null, message: e.message } });
  }
}
`;

const kernels: KernelSpace[] = [];

export function kernel(options: KernelOptions): KernelSpace {
  const k = new KernelSpace({ log: false, ...options });
  kernels.push(k);
  return k;
}

export async function closeKernels(): Promise<void> {
  await Promise.all(kernels.splice(0).map((k) => k.close()));
}

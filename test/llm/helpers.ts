/**
 * Shared pieces of the model capability's tests: a policy that allows the model aliases, the
 * tool-using agent (one source for both engines), and kernels that are closed after the tests.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ModelAlias } from "../../dist/runtime/index.js";

const HERE = dirname(fileURLToPath(import.meta.url));
/** The tool-using agent (test/llm/agents/adder/agent.js), for both engines. */
export const ADDER = join(HERE, "agents", "adder", "agent.js");
/** An agent that makes the one llm.chat its task describes and reports the outcome as JSON. */
export const CALLER = join(HERE, "agents", "caller", "agent.js");

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



export { closeKernels, kernel } from "../kernel/helpers.js";

/**
 * The SDK scenarios the tests run, in Node and inside the sandbox: each names the agent file that
 * holds it, the model's script, and what the run must answer. One source for every engine.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ScriptStep } from "../../dist/runtime/index.js";

const HERE = dirname(fileURLToPath(import.meta.url));
export const AGENT_DIR = join(HERE, "agents");

/** The SDK agents, one file each (bundles stay small for QuickJS), and all of them in one. */
export const SDK_AGENTS = {
  openai: join(AGENT_DIR, "openai.js"),
  ai: join(AGENT_DIR, "ai.js"),
  agents: join(AGENT_DIR, "agents.js"),
  all: join(AGENT_DIR, "all.js"),
} as const;

export type SdkFile = Exclude<keyof typeof SDK_AGENTS, "all">;

export interface Scenario {
  name: string;
  file: SdkFile;
  script: ScriptStep[];
  /** What the agent's answer (parsed) must hold. */
  expected: Record<string, unknown>;
  /** The class name of the SDK's own error when the network refuses the request. */
  blockedError: string;
}

const ADD_CALL: ScriptStep = { toolCalls: [{ name: "add", arguments: { a: 2, b: 3 } }] };
const ANSWER: ScriptStep = { content: "The sum is 5." };

export const SCENARIOS: Scenario[] = [
  { name: "openai-tools", file: "openai", script: [ADD_CALL, ANSWER], expected: { answer: "The sum is 5.", turns: 2 }, blockedError: "APIConnectionError" },
  {
    name: "openai-stream",
    file: "openai",
    script: [{ content: "Hello there, friend.", usage: { input: 7, output: 4 } }],
    expected: { text: "Hello there, friend.", chunks: 6, usage: { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 } },
    blockedError: "APIConnectionError",
  },
  { name: "ai-generate", file: "ai", script: [ADD_CALL, ANSWER], expected: { answer: "The sum is 5.", steps: 2, toolResults: ["5"] }, blockedError: "APICallError" },
  {
    name: "agents-runner",
    file: "agents",
    script: [{ toolCalls: [{ name: "transfer_to_math", arguments: {} }] }, ADD_CALL, ANSWER],
    expected: { answer: "The sum is 5.", lastAgent: "math" },
    blockedError: "APIConnectionError",
  },
];

/** The agent's task: which scenario, and the model's OpenAI base URL. */
export function task(scenario: Scenario, modelUrl: string): string {
  return JSON.stringify({ scenario: scenario.name, baseURL: `${modelUrl}/v1` });
}

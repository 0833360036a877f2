// The Vercel AI SDK as an agent's author writes it: generateText with one tool, through the
// OpenAI-compatible provider. The task is JSON: { scenario: "ai-generate", baseURL }.
import { generateText, stepCountIs, tool } from "ai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { z } from "zod";

async function generate(baseURL) {
  const provider = createOpenAICompatible({ name: "standin", baseURL, apiKey: "unused" });
  const result = await generateText({
    model: provider("gpt-4o-mini"),
    prompt: "What is 2 + 3?",
    tools: {
      add: tool({
        description: "Adds two numbers.",
        inputSchema: z.object({ a: z.number(), b: z.number() }),
        execute: async ({ a, b }) => String(a + b),
      }),
    },
    stopWhen: stepCountIs(3),
    maxRetries: 0,
  });
  return { answer: result.text, steps: result.steps.length, toolResults: result.steps.flatMap((s) => s.toolResults.map((r) => r.output)), usage: result.totalUsage };
}

export const scenarios = { "ai-generate": generate };

export async function runScenario(task) {
  const { scenario, baseURL } = JSON.parse(task);
  return scenarios[scenario](baseURL);
}

export async function run(task) {
  try {
    return JSON.stringify(await runScenario(task));
  } catch (error) {
    const cause = error && error.cause;
    return JSON.stringify({
      error: error && error.constructor ? error.constructor.name : typeof error,
      name: error && error.name,
      message: String(error && error.message),
      cause: cause ? { name: cause.name, message: String(cause.message) } : undefined,
    });
  }
}

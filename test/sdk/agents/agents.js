// The OpenAI Agents SDK as an agent's author writes it: a Runner, a triage agent that hands off
// to a math agent, which has one tool. The model is reached through chat completions (what an
// OpenAI-compatible server speaks), tracing is off (it would export to OpenAI's servers). The
// task is JSON: { scenario: "agents-runner", baseURL }.
import OpenAI from "openai";
import { Agent, OpenAIProvider, Runner, setTracingDisabled, tool } from "@openai/agents";
import { z } from "zod";

async function runner(baseURL) {
  setTracingDisabled(true);
  const add = tool({
    name: "add",
    description: "Adds two numbers.",
    parameters: z.object({ a: z.number(), b: z.number() }),
    execute: async ({ a, b }) => String(a + b),
  });
  const math = new Agent({ name: "math", instructions: "You do arithmetic with the add tool.", tools: [add], model: "gpt-4o-mini" });
  const triage = new Agent({ name: "triage", instructions: "Hand arithmetic to the math agent.", handoffs: [math], model: "gpt-4o-mini" });
  const client = new OpenAI({ apiKey: "unused", baseURL, maxRetries: 0 });
  const run = new Runner({ modelProvider: new OpenAIProvider({ openAIClient: client, useResponses: false }) });
  const result = await run.run(triage, "What is 2 + 3?");
  return { answer: result.finalOutput, lastAgent: result.lastAgent && result.lastAgent.name };
}

export const scenarios = { "agents-runner": runner };

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

/**
 * A tool-using agent: asks the model (the alias and maxTokens come in the task, as JSON), runs
 * the one tool it knows ("add") for every call the model makes, feeds the results back, and
 * returns the answer with what it saw, as JSON. The same source runs on both engines.
 */
import { llm } from "agent-os/guest";
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

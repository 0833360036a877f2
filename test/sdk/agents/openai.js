// The `openai` package as an agent's author writes it: chat completions with a tool (ask, run
// the tool, send the result back, get the answer) and a streamed completion. The task is JSON:
// { scenario: "openai-tools" | "openai-stream", baseURL }. Errors are returned, not thrown, so
// that a test can check the SDK's own error class.
import OpenAI from "openai";

const tools = [
  {
    type: "function",
    function: {
      name: "add",
      description: "Adds two numbers.",
      parameters: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } }, required: ["a", "b"] },
    },
  },
];

function add({ a, b }) {
  return String(a + b);
}

async function withTools(client) {
  const messages = [{ role: "user", content: "What is 2 + 3?" }];
  for (let turn = 0; turn < 5; turn++) {
    const completion = await client.chat.completions.create({ model: "gpt-4o-mini", messages, tools });
    const message = completion.choices[0].message;
    messages.push(message);
    if (!message.tool_calls || message.tool_calls.length === 0) {
      return { answer: message.content, turns: turn + 1, usage: completion.usage };
    }
    for (const call of message.tool_calls) {
      const result = call.function.name === "add" ? add(JSON.parse(call.function.arguments)) : "unknown tool";
      messages.push({ role: "tool", tool_call_id: call.id, content: result });
    }
  }
  throw new Error("too many turns");
}

async function streamed(client) {
  const stream = await client.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Say hello." }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "";
  let chunks = 0;
  let usage;
  let first;
  let spreadMs = 0;
  for await (const chunk of stream) {
    chunks++;
    // (when the chunks arrived: they are read as they come, not after the whole body)
    first ??= Date.now();
    spreadMs = Date.now() - first;
    text += chunk.choices[0]?.delta?.content ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  return { text, chunks, usage, spreadMs };
}

export const scenarios = { "openai-tools": withTools, "openai-stream": streamed };

export async function runScenario(task) {
  const { scenario, baseURL } = JSON.parse(task);
  const client = new OpenAI({ apiKey: "unused", baseURL, maxRetries: 0 });
  return scenarios[scenario](client);
}

export function describeError(error) {
  const cause = error && error.cause;
  return {
    error: error && error.constructor ? error.constructor.name : typeof error,
    name: error && error.name,
    message: String(error && error.message),
    cause: cause ? { name: cause.name, message: String(cause.message), causeName: cause.cause && cause.cause.name } : undefined,
  };
}

export async function run(task) {
  try {
    return JSON.stringify(await runScenario(task));
  } catch (error) {
    return JSON.stringify(describeError(error));
  }
}

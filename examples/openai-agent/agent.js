// An agent written with the `openai` package, as its author would write it: a chat completion
// with tools, in a loop, until the model answers. Nothing in it knows about Agent OS: the
// kernel gives it fetch (decided by the policy, recorded in the log) and adds the API key at
// egress, so the client is made with a placeholder key.
//
// The task is the question, or JSON {"question": "...", "baseURL": "..."} to use another
// OpenAI-compatible server than OpenAI's (the README runs it against a local stand-in).
import OpenAI from "openai";

const tools = [
  {
    type: "function",
    function: {
      name: "calculate",
      description: "Does one arithmetic operation on two numbers.",
      parameters: {
        type: "object",
        properties: {
          operation: { type: "string", enum: ["add", "subtract", "multiply", "divide"] },
          a: { type: "number" },
          b: { type: "number" },
        },
        required: ["operation", "a", "b"],
      },
    },
  },
  {
    type: "function",
    function: { name: "today", description: "Today's date (UTC), as YYYY-MM-DD.", parameters: { type: "object", properties: {} } },
  },
];

const implementations = {
  calculate({ operation, a, b }) {
    const ops = { add: a + b, subtract: a - b, multiply: a * b, divide: b === 0 ? NaN : a / b };
    return operation in ops ? String(ops[operation]) : `unknown operation ${operation}`;
  },
  today() {
    return new Date().toISOString().slice(0, 10);
  },
};

function parseTask(task) {
  try {
    const parsed = JSON.parse(task);
    if (parsed && typeof parsed.question === "string") return parsed;
  } catch {
    // a plain question
  }
  return { question: task };
}

export async function run(task) {
  const { question, baseURL } = parseTask(task);
  const client = new OpenAI({ apiKey: "unused", ...(baseURL ? { baseURL } : {}) });
  const messages = [
    { role: "system", content: "You answer questions. Use the tools for arithmetic and dates." },
    { role: "user", content: question },
  ];
  for (let turn = 0; turn < 8; turn++) {
    const completion = await client.chat.completions.create({ model: "gpt-4o-mini", messages, tools });
    const message = completion.choices[0].message;
    messages.push(message);
    if (!message.tool_calls?.length) return message.content ?? "";
    for (const call of message.tool_calls) {
      const impl = implementations[call.function.name];
      const content = impl ? impl(JSON.parse(call.function.arguments || "{}")) : `no tool named ${call.function.name}`;
      console.log(`tool ${call.function.name} -> ${content}`);
      messages.push({ role: "tool", tool_call_id: call.id, content });
    }
  }
  return "I gave up after 8 turns.";
}

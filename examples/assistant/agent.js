// A tool-using assistant. It asks a model (the alias "assistant", which the host configures:
// the agent never sees a provider URL or a key), carries out the tool calls the model chose
// through the kernel, feeds the results back, and returns the model's answer. Every step is a
// host call the policy decides: the model call itself, and each tool the model asks for. Besides
// its own four tools it offers the model the tools the kernel lists for it (the host's, and
// MCP servers' as SERVER/TOOL), under names a model accepts.
import { fs, http, llm, log, sql, tools } from "agent-os/guest";

const SYSTEM = [
  "You are an operations assistant with tools for the user's workspace (/workspace),",
  "the team's SQLite database (tables: tickets) and HTTP APIs.",
  "Use the tools to answer; answer briefly when you know enough.",
].join(" ");

const TOOLS = [
  {
    name: "list_files",
    description: "List the entries of a directory in the workspace.",
    parameters: { type: "object", properties: { path: { type: "string" } }, required: ["path"] },
  },
  {
    name: "read_file",
    description: "Read a text file from the workspace.",
    parameters: { type: "object", properties: { path: { type: "string" } }, required: ["path"] },
  },
  {
    name: "http_request",
    description: "Send an HTTP request and return the status and body.",
    parameters: {
      type: "object",
      properties: { url: { type: "string" }, method: { type: "string" }, body: { type: "string" } },
      required: ["url"],
    },
  },
  {
    name: "query_db",
    description: "Run one SQL statement on the team's database and return the rows as JSON.",
    parameters: { type: "object", properties: { sql: { type: "string" } }, required: ["sql"] },
  },
];

const MAX_TURNS = 8;
const MAX_TOOL_OUTPUT = 4000;

/** JSON for rows that may hold 64-bit integers (bigint) or blobs. */
function rowsJson(rows) {
  return JSON.stringify(rows, (_key, value) =>
    typeof value === "bigint" ? value.toString() : value instanceof Uint8Array ? `<${value.length} bytes>` : value,
  );
}

/** The kernel's tools (as many as the policy could allow), by the name the model knows them by. */
async function kernelTools() {
  const byModelName = new Map();
  try {
    for (const tool of await tools.list()) {
      byModelName.set(`tool_${tool.name.replace(/[^A-Za-z0-9_-]/g, "_")}`.slice(0, 64), tool);
    }
  } catch (error) {
    await log.info("no kernel tools", { error: error instanceof Error ? error.message : String(error) });
  }
  return byModelName;
}

async function callTool(call, extra) {
  const args = call.arguments ?? {};
  const kernelTool = extra.get(call.name);
  if (kernelTool) return JSON.stringify(await tools.call(kernelTool.name, args));
  switch (call.name) {
    case "list_files":
      return JSON.stringify(await fs.list(String(args.path)));
    case "read_file":
      return await fs.readText(String(args.path));
    case "http_request": {
      const init = { method: String(args.method ?? "GET") };
      if (args.body !== undefined) init.body = String(args.body);
      const response = await http.fetch(String(args.url), init);
      return `${response.status} ${response.text()}`;
    }
    case "query_db":
      return rowsJson((await sql.query("main", String(args.sql))).objects());
    default:
      return `error: there is no tool named ${call.name}`;
  }
}

/** Carries out one tool call; a refusal or failure goes back to the model as the tool's result. */
async function answerToolCall(call, extra) {
  try {
    const output = await callTool(call, extra);
    return output.length > MAX_TOOL_OUTPUT ? `${output.slice(0, MAX_TOOL_OUTPUT)}...` : output;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await log.warn("a tool call failed", { tool: call.name, error: message });
    return `error: ${message}`;
  }
}

export async function run(task) {
  const messages = [
    { role: "system", content: SYSTEM },
    { role: "user", content: task.trim() || "What needs my attention today?" },
  ];
  const extra = await kernelTools();
  const offered = [...TOOLS, ...[...extra].map(([name, t]) => ({ name, description: t.description, parameters: t.inputSchema }))];
  for (let turn = 0; turn < MAX_TURNS; turn++) {
    const reply = await llm.chat({ model: "assistant", messages, tools: offered, maxTokens: 512 });
    messages.push({ role: "assistant", content: reply.content, toolCalls: reply.toolCalls });
    if (reply.toolCalls.length === 0) return reply.content;
    for (const call of reply.toolCalls) {
      messages.push({ role: "tool", toolCallId: call.id, content: await answerToolCall(call, extra) });
    }
  }
  return `no answer after ${MAX_TURNS} turns`;
}

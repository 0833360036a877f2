/**
 * End to end: the assistant example (examples/assistant/agent.js) offers its model the tools
 * the kernel lists for it, here an MCP server's over stdio, and carries out the calls the
 * (scripted) model chooses through the kernel. The policy lists only the tool it could allow,
 * lets one call through and refuses the one whose argument it forbids: the server (its record
 * file) saw exactly the allowed call.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { afterAll, expect, it } from "vitest";
import { KernelSpace, startScriptedModel, type ScriptStep, type ScriptedRequest } from "../../dist/runtime/index.js";
import { assistantKernelOptions, startAssistantWorld } from "../../dist/examples/assistant/world.js";
import { tempDir } from "../kernel/helpers.js";
import { STDIO_SERVER, recorded } from "./helpers.js";

const EXAMPLES = fileURLToPath(new URL("../../examples/", import.meta.url));
const dir = tempDir("agent-os-mcp-assistant-");
afterAll(() => dir.remove());

interface WireTool {
  function?: { name?: string };
}

/** The model: first the two echo calls, then an answer made of what the tools said. */
function step(request: ScriptedRequest): ScriptStep {
  const messages = request.body.messages as { role: string; content?: string }[];
  const offered = ((request.body.tools ?? []) as WireTool[]).map((t) => t.function?.name);
  const echo = offered.find((name) => name?.endsWith("t_echo"));
  if (!messages.some((m) => m.role === "tool")) {
    if (!echo) return { content: `no echo tool among ${offered.join(", ")}` };
    return {
      toolCalls: [
        { id: "c1", name: echo, arguments: { text: "hello from the model" } },
        { id: "c2", name: echo, arguments: { text: "the secret plan" } },
      ],
    };
  }
  return { content: messages.filter((m) => m.role === "tool").map((m) => m.content).join(" | ") };
}

it("the assistant calls the MCP tool its model chose; the policy lists only what it could allow and refuses the forbidden argument", async () => {
  const world = await startAssistantWorld(join(dir.path, "world"));
  const record = join(dir.path, "record.jsonl");
  const model = await startScriptedModel((request) => step(request));
  const policy = parse(readFileSync(join(EXAMPLES, "assistant/policy.yaml"), "utf8")) as { rules: unknown[] };
  policy.rules.push(
    { id: "echo", action: "tool.call", resource: "t/echo", effect: "allow" },
    { id: "no-secrets-out", action: "tool.call", resource: "t/*", args: { "/text": "*secret*" }, effect: "deny", reason: "nothing secret goes to a tool" },
  );
  const kernel = new KernelSpace({
    ...assistantKernelOptions(world, EXAMPLES),
    policy,
    models: { assistant: { provider: "openai", model: "scripted", baseUrl: `${model.url}/v1` } },
    mcp: { t: { command: process.execPath, args: [STDIO_SERVER, "--record", record] } },
    log: false,
  });
  try {
    const result = await kernel.execute(await kernel.load(join(EXAMPLES, "assistant/agent.js")), "Echo something.");
    expect(result.status, result.error).toBe("ok");
    // The model was offered the assistant's own tools and, of the server's, only t/echo.
    const offered = ((model.requests[0].body.tools ?? []) as WireTool[]).map((t) => t.function?.name);
    expect(offered).toEqual(["list_files", "read_file", "http_request", "query_db", "tool_t_echo"]);
    expect(result.output).toBe('"hello from the model" | error: denied by rule no-secrets-out: nothing secret goes to a tool');
    // The server saw the allowed call and nothing else.
    const calls = recorded(record).filter((e) => e.event === "call");
    expect(calls).toEqual([{ event: "call", tool: "echo", args: { text: "hello from the model" } }]);
    const decided: string[] = [];
    for await (const e of (await kernel.log).query({ runId: result.runId, type: "call" })) {
      const d = e.data as { action: string; resource: string; decision: { effect: string; rule: string | null } };
      if (d.action.startsWith("tool.")) decided.push(`${d.action} ${d.resource} ${d.decision.effect} ${d.decision.rule}`);
    }
    expect(decided).toEqual(["tool.list  allow assistant-tools-list", "tool.call t/echo allow echo", "tool.call t/echo deny no-secrets-out"]);
  } finally {
    await kernel.close();
    await model.close();
    await world.close();
  }
});

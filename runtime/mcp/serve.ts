/**
 * Agents as MCP tools: an MCP server (the SDK's `Server`) whose tools are agents, each call one
 * governed run under the kernel's policy, mounts and limits, which nothing a client sends can
 * change. Over stdio, or Streamable HTTP on 127.0.0.1 with a bearer token (./http.ts).
 */
import type { Readable, Writable } from "node:stream";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type CallToolResult, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { KernelClosedError, UsageError } from "../errors.js";
import type { Agent, KernelSpace } from "../kernel/kernel.js";
import type { AgentProcess } from "../kernel/process.js";
import { startHttp, type HttpListener } from "./http.js";
import { readInputSchema, toolInput, type ToolInput } from "./input-schema.js";
import { toolError, toolResult } from "./result.js";

/**
 * Options of `serveMcp`. Defaults: stdio on `process.stdin` / `process.stdout`; with `http`, port
 * 0 (a free port) on 127.0.0.1 and a random 256-bit token.
 */
export interface ServeMcpOptions {
  /** The agents offered, by tool name (letters, digits, `_`, `-`, `.`; at most 64 characters). */
  agents: Record<string, Agent>;
  /** Streamable HTTP on 127.0.0.1 instead of stdio; every request needs `Authorization: Bearer <token>`. */
  http?: { port?: number; token?: string };
  /** The streams of the stdio transport. */
  stdio?: { stdin: Readable; stdout: Writable };
}

/** A running MCP server. */
export interface McpServeHandle {
  /** The tool names, in order. */
  readonly tools: string[];
  /** HTTP only: `http://127.0.0.1:PORT/mcp`. */
  readonly url?: string;
  /** HTTP only: the bearer token every request must carry. */
  readonly token?: string;
  /** Resolves once the server has closed (its client went away, or `close()`). */
  readonly closed: Promise<void>;
  /** Stops accepting calls, kills the runs still going, closes the transport. */
  close(): Promise<void>;
}

interface AgentTool extends ToolInput {
  name: string;
  agent: Agent;
}

const TOOL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Serves agents as MCP tools. Each `tools/call` spawns one run of the agent (`kernel.spawn`),
 * with the task from the arguments (see input-schema.ts); a denial, a kill or a limit is a tool
 * error naming the rule or the reason, never a protocol error; a client's cancellation sends
 * the run SIGTERM.
 *
 * @example
 * const kernel = new KernelSpace({ policy: "standard", mounts: { "/workspace": "./ws" } });
 * const server = await serveMcp(kernel, { agents: { summarize: await kernel.load("examples/summarize/agent.js") }, http: { port: 8765 } });
 * console.error(server.url, server.token);
 * @throws UsageError for a bad tool name, no agents, or an agent whose inputSchema is not an object schema.
 */
export async function serveMcp(kernel: KernelSpace, options: ServeMcpOptions): Promise<McpServeHandle> {
  const tools = await agentTools(options.agents);
  const running = new Set<AgentProcess>();
  const newServer = () => agentServer(kernel, tools, running);
  const killRuns = () => {
    for (const proc of running) proc.signal("SIGKILL", "mcp server (closing)");
  };
  if (options.http) {
    const listener: HttpListener = await startHttp(newServer, options.http);
    return {
      tools: tools.map((t) => t.name),
      url: listener.url,
      token: listener.token,
      closed: listener.closed,
      close: async () => {
        killRuns();
        await listener.close();
      },
    };
  }
  return serveStdio(newServer(), tools, options.stdio ?? { stdin: process.stdin, stdout: process.stdout }, killRuns);
}

async function serveStdio(server: Server, tools: AgentTool[], stdio: { stdin: Readable; stdout: Writable }, killRuns: () => void): Promise<McpServeHandle> {
  const transport = new StdioServerTransport(stdio.stdin, stdio.stdout);
  let onClosed!: () => void;
  const closed = new Promise<void>((resolve) => (onClosed = resolve));
  server.onclose = () => onClosed();
  await server.connect(transport);
  const close = async () => {
    stdio.stdin.off("end", ended);
    killRuns();
    await server.close();
    onClosed();
  };
  // The client closing its end of stdin is the end of the session.
  const ended = () => void close();
  stdio.stdin.once("end", ended);
  return { tools: tools.map((t) => t.name), closed, close };
}

async function agentTools(agents: Record<string, Agent>): Promise<AgentTool[]> {
  const entries = Object.entries(agents ?? {});
  if (entries.length === 0) throw new UsageError("mcp: no agents to serve (give at least one)");
  const tools: AgentTool[] = [];
  for (const [name, agent] of entries) {
    if (!TOOL_NAME.test(name)) throw new UsageError(`mcp: ${JSON.stringify(name)} cannot name a tool (letters, digits, _, - and ., at most 64)`);
    const schema = await readInputSchema(agent, name);
    tools.push({ name, agent, ...toolInput(schema, name) });
  }
  return tools;
}

/** One MCP server (one per session over HTTP): lists the tools and runs them. */
function agentServer(kernel: KernelSpace, tools: AgentTool[], running: Set<AgentProcess>): Server {
  const server = new Server(
    { name: "agent-os", version: "0.1.0" },
    {
      capabilities: { tools: {} },
      instructions: `Each tool runs a sandboxed agent once, under the operator's policy (${kernel.policy.name}); its output is the tool's result.`,
    },
  );
  const byName = new Map(tools.map((t) => [t.name, t]));
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: tools.map((t) => describeTool(t, kernel.policy.name)) }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const tool = byName.get(request.params.name);
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `no tool named ${JSON.stringify(request.params.name)}`);
    return callAgent(kernel, tool, request.params.arguments, extra.signal, running);
  });
  return server;
}

function describeTool(tool: AgentTool, policy: string): Tool {
  return {
    name: tool.name,
    description: `Runs the agent ${tool.agent.name} once in a sandbox under the policy ${policy}; the result is its output.`,
    inputSchema: tool.schema,
  };
}

/** One governed run for one call. The client's arguments become the task and nothing else. */
async function callAgent(kernel: KernelSpace, tool: AgentTool, args: Record<string, unknown> | undefined, signal: AbortSignal, running: Set<AgentProcess>): Promise<CallToolResult> {
  const input = tool.taskFrom(args);
  if ("invalid" in input) return toolError(`${tool.name}: ${input.invalid}`);
  let proc: AgentProcess;
  try {
    proc = kernel.spawn(tool.agent, input.task);
  } catch (error) {
    if (error instanceof KernelClosedError) return toolError(`${tool.name}: the kernel is closing`);
    throw error;
  }
  running.add(proc);
  const cancel = () => proc.signal("SIGTERM", "mcp client (cancelled)");
  if (signal.aborted) cancel();
  else signal.addEventListener("abort", cancel, { once: true });
  try {
    return toolResult(await proc.wait());
  } finally {
    signal.removeEventListener("abort", cancel);
    running.delete(proc);
  }
}

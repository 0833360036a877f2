/**
 * An MCP server as a ToolProvider on Node: a stdio server (a command) or a Streamable HTTP one
 * (a URL). The server runs with the authority the operator gives it (its command, its `env`, or
 * its URL), never with the agent's and never with the host's environment. The provider itself
 * is mcp-provider.ts, shared with the edge.
 */
import { connectMcp } from "./mcp-connect.js";
import { McpServerProvider, mcpSettings, type McpProvider, type McpProviderOptions } from "./mcp-provider.js";
import { checkServerSpec, type McpServerSpec } from "./mcp-spec.js";

export { type McpHttpSpec, type McpServerSpec, type McpStdioSpec } from "./mcp-spec.js";
export { type McpProvider, type McpProviderOptions } from "./mcp-provider.js";

/**
 * An MCP server as a tool provider. Nothing starts until the first `list()`, `call()` or
 * `start()`. A server that cannot be started or does not answer `initialize` within
 * `startTimeoutMs` is a UsageError naming it (with the end of its stderr, for a stdio server).
 *
 * A stdio server's environment is exactly `spec.env` plus the host's `PATH` (unless `env` sets
 * one): none of the variables the SDK would pass by default (HOME, LOGNAME, SHELL, TERM, USER),
 * and nothing else of the host's. Its stderr is kept (the last 2 KiB, for error messages), never
 * shown on the operator's terminal.
 *
 * A server that exits during a call fails that call with `io`; the next call starts it again
 * (at most `maxRestarts` times) and lists its tools: a call to a tool whose name, description or
 * schema no longer hashes as it did when the kernel last listed it fails with `io` (naming both
 * hashes), until the kernel lists the tools again (and its pins decide).
 *
 * @example
 * const files = createMcpProvider("files", { command: "node", args: ["server.js"], env: { ROOT: "/srv" } });
 * const tools = await files.list();
 * const text = await files.call("read", { path: "a.txt" }, { runId, agent: "reader", signal });
 * await files.close();
 */
export function createMcpProvider(name: string, spec: McpServerSpec, options: McpProviderOptions = {}): McpProvider {
  return new McpServerProvider(name, checkServerSpec(name, spec), mcpSettings(options), connectMcp);
}

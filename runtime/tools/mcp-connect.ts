/**
 * One connection to an MCP server on Node, with the official SDK's client and transports: start
 * the process (stdio) or open the session (Streamable HTTP, mcp-connect-http.ts), then
 * `initialize`. The environment of a stdio server is built here, and nothing else of the host's
 * reaches it. (The edge imports mcp-connect-http.ts alone: the stdio transport needs Node.)
 */
import { DEFAULT_INHERITED_ENV_VARS, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { connectHttp } from "./mcp-connect-http.js";
import { isHttpSpec, type McpServerSpec, type McpStdioSpec } from "./mcp-spec.js";
import { openSession, type McpSession } from "./mcp-session.js";

export { McpConnectError, type McpSession } from "./mcp-session.js";

/** How much of a stdio server's stderr is kept for error messages. */
const STDERR_TAIL = 2048;

/**
 * The environment of a stdio server: `env` as given, plus the host's `PATH` unless `env` sets it
 * (so that a command such as `node` is found). The SDK's transport adds HOME, LOGNAME, SHELL,
 * TERM and USER from the host by default; each of those that `env` does not set is given as
 * `undefined`, which Node's spawn leaves out, so the server never sees them.
 */
export function serverEnvironment(env: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string | undefined> = {};
  for (const key of DEFAULT_INHERITED_ENV_VARS) out[key] = undefined;
  if (process.env.PATH !== undefined) out.PATH = process.env.PATH;
  Object.assign(out, env);
  // The SDK types env as strings; undefined values are the documented way to leave a key out of spawn.
  return out as Record<string, string>;
}

/**
 * Starts a session: spawns the process or opens the HTTP session, and sends `initialize`, which
 * must be answered within `timeoutMs`. On any failure the process is ended before rejecting.
 *
 * @example const session = await connectMcp({ command: "node", args: ["server.js"] }, { timeoutMs: 10_000, maxMessageBytes: 10 << 20 });
 */
export async function connectMcp(
  spec: McpServerSpec,
  options: { timeoutMs: number; maxMessageBytes: number; onClose?: () => void },
): Promise<McpSession> {
  if (isHttpSpec(spec)) return connectHttp(spec, { timeoutMs: options.timeoutMs, onClose: options.onClose });
  let tail = "";
  const transport = stdioTransport(spec, options.maxMessageBytes, (text) => {
    tail = (tail + text).slice(-STDERR_TAIL);
  });
  return openSession(transport, { timeoutMs: options.timeoutMs, onClose: options.onClose, stderrTail: () => tail });
}

function stdioTransport(spec: McpStdioSpec, maxBufferSize: number, onStderr: (text: string) => void): StdioClientTransport {
  const transport = new StdioClientTransport({
    command: spec.command,
    args: spec.args ?? [],
    env: serverEnvironment(spec.env),
    ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
    // Piped, never inherited: a server must not write to the operator's terminal.
    stderr: "pipe",
    maxBufferSize,
  });
  transport.stderr?.on("data", (chunk: Buffer) => onStderr(chunk.toString("utf8")));
  return transport;
}

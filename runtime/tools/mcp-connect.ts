/**
 * One connection to an MCP server with the official SDK's client and transports: start the
 * process (stdio) or open the session (Streamable HTTP), then `initialize`. The environment of a
 * stdio server is built here, and nothing else of the host's reaches it.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { DEFAULT_INHERITED_ENV_VARS, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { isHttpSpec, type McpServerSpec, type McpStdioSpec } from "./mcp-spec.js";

/** A live session with one server. */
export interface McpSession {
  readonly client: Client;
  /** Whether the process exited or the session closed (then every further request fails). */
  readonly closed: boolean;
  /** The last few kilobytes the server wrote to its stderr (stdio only), for error messages. */
  stderrTail(): string;
  /** Ends the session: ends a stdio server's process (stdin closed, then SIGTERM, then SIGKILL). */
  close(): Promise<void>;
}

/** A session that did not start: the SDK's or the system's error, and the end of the server's stderr. */
export class McpConnectError extends Error {
  constructor(
    readonly original: unknown,
    readonly stderr: string,
  ) {
    super(original instanceof Error ? original.message : String(original));
    this.name = "McpConnectError";
  }
}

/** How much of a stdio server's stderr is kept for error messages. */
const STDERR_TAIL = 2048;

/** The client's name and version in `initialize`. */
const CLIENT_INFO = { name: "agent-os", version: "0.1.0" };

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
  let tail = "";
  let closed = false;
  const transport: Transport = isHttpSpec(spec)
    ? new StreamableHTTPClientTransport(new URL(spec.url), { requestInit: { headers: { ...spec.headers } } })
    : stdioTransport(spec, options.maxMessageBytes, (text) => {
        tail = (tail + text).slice(-STDERR_TAIL);
      });
  const client = new Client(CLIENT_INFO, { capabilities: {} });
  client.onclose = () => {
    closed = true;
    options.onClose?.();
  };
  // A transport error (a bad message, a broken pipe) is reported by the failing request itself.
  client.onerror = () => {};
  const session: McpSession = {
    client,
    get closed() {
      return closed;
    },
    stderrTail: () => tail.trim(),
    close: async () => {
      closed = true;
      if (transport instanceof StreamableHTTPClientTransport) await transport.terminateSession().catch(() => {});
      await client.close().catch(() => {});
    },
  };
  try {
    await client.connect(transport, { timeout: options.timeoutMs });
  } catch (error) {
    await session.close();
    throw new McpConnectError(error, session.stderrTail());
  }
  return session;
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

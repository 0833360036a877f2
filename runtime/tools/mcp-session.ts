/**
 * One session with an MCP server over a transport already made (stdio in mcp-connect.ts, Streamable
 * HTTP in mcp-connect-http.ts): the official SDK's Client, `initialize`, and its end. Nothing here
 * knows how the transport reaches the server, so that an edge host can import it without
 * the stdio transport (and its child processes).
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { jsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/types.js";

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

/** How a session is opened over its transport. */
export interface SessionOptions {
  /** `initialize` must be answered within this many milliseconds. */
  timeoutMs: number;
  onClose?: () => void;
  /**
   * How the SDK's client checks tools' structured results against their output schemas.
   * Default: the SDK's (ajv, which generates code); an edge host gives CfWorkerJsonSchemaValidator.
   */
  jsonSchemaValidator?: jsonSchemaValidator;
  /** The end of the server's stderr, for error messages (stdio). Default: none. */
  stderrTail?: () => string;
  /** Runs before the client closes (an HTTP session is ended with a DELETE). */
  beforeClose?: () => Promise<void>;
}

/** The client's name and version in `initialize`. */
const CLIENT_INFO = { name: "agent-os", version: "0.1.0" };

/**
 * Connects the SDK's client over `transport` and sends `initialize`. On any failure the session
 * is closed (a stdio server's process ended) before rejecting with an McpConnectError.
 *
 * @example const session = await openSession(new StreamableHTTPClientTransport(url), { timeoutMs: 10_000 });
 */
export async function openSession(transport: Transport, options: SessionOptions): Promise<McpSession> {
  let closed = false;
  const tail = options.stderrTail ?? (() => "");
  const client = new Client(CLIENT_INFO, { capabilities: {}, ...(options.jsonSchemaValidator ? { jsonSchemaValidator: options.jsonSchemaValidator } : {}) });
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
    stderrTail: () => tail().trim(),
    close: async () => {
      closed = true;
      await options.beforeClose?.().catch(() => {});
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

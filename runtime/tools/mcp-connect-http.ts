/**
 * A session with an MCP server over Streamable HTTP, with the SDK's client transport. It imports
 * nothing of Node: the edge kernel reaches its servers through here, with the host's fetch.
 */
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { McpHttpSpec } from "./mcp-spec.js";
import { openSession, type McpSession, type SessionOptions } from "./mcp-session.js";

/** How an HTTP session is opened: the session's options and, optionally, the fetch its requests go through. */
export interface HttpSessionOptions extends Pick<SessionOptions, "timeoutMs" | "onClose" | "jsonSchemaValidator"> {
  /** Default: the global fetch, with the SDK's redirect policy (it follows redirects within the URL's origin only). */
  fetch?: FetchLike;
}

/**
 * Opens the session and sends `initialize`, which must be answered within `timeoutMs`; closing
 * it ends the server's session (DELETE) before closing the client.
 *
 * @example const session = await connectHttp({ url: "http://127.0.0.1:9000/mcp" }, { timeoutMs: 10_000 });
 */
export function connectHttp(spec: McpHttpSpec, options: HttpSessionOptions): Promise<McpSession> {
  const transport = new StreamableHTTPClientTransport(new URL(spec.url), {
    requestInit: { headers: { ...spec.headers } },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  return openSession(transport, {
    timeoutMs: options.timeoutMs,
    onClose: options.onClose,
    jsonSchemaValidator: options.jsonSchemaValidator,
    beforeClose: () => transport.terminateSession(),
  });
}

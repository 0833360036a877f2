/**
 * Streamable HTTP for `serveMcp`: a node:http server on 127.0.0.1 only. Every request must pass,
 * in this order: the Host header names a loopback host and an Origin, when sent, is this
 * server's own (DNS rebinding: 403); `Authorization: Bearer <token>` (401); the path `/mcp`
 * (404). Each session (`initialize`) gets its own MCP server and transport.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { UsageError } from "../errors.js";

/** A listening HTTP endpoint. */
export interface HttpListener {
  url: string;
  token: string;
  closed: Promise<void>;
  close(): Promise<void>;
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);
/** The largest request body read (a tools/call's arguments): 4 MiB. */
const MAX_BODY = 4 * 1024 * 1024;

/**
 * Listens on 127.0.0.1:`port` (0: a free port). The token, when not given, is 32 random bytes
 * in hex; a given one must have at least 16 characters.
 *
 * @throws UsageError for a bad port or token, or a port already in use.
 */
export async function startHttp(newServer: () => Server, options: { port?: number; token?: string }): Promise<HttpListener> {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`mcp: port ${String(port)}: expected 0 to 65535`);
  const token = options.token ?? randomBytes(32).toString("hex");
  if (typeof token !== "string" || token.length < 16 || /\s/.test(token)) throw new UsageError("mcp: the token must have at least 16 characters and no spaces");
  const expected = digest(`Bearer ${token}`);
  const sessions: Sessions = new Map();
  let bound = port;
  const http = createServer((req, res) => {
    handle(req, res, { expected, port: bound, sessions, newServer }).catch(() => reply(res, 500, "internal error"));
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "EADDRINUSE" ? new UsageError(`mcp: port ${port} on 127.0.0.1 is in use`) : error),
    );
    http.listen(port, "127.0.0.1", () => resolve());
  });
  bound = (http.address() as AddressInfo).port;
  let onClosed!: () => void;
  const closed = new Promise<void>((resolve) => (onClosed = resolve));
  const close = async () => {
    for (const { server } of [...sessions.values()]) await server.close().catch(() => undefined);
    sessions.clear();
    await new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
    onClosed();
  };
  return { url: `http://127.0.0.1:${bound}/mcp`, token, closed, close };
}

type Sessions = Map<string, { transport: StreamableHTTPServerTransport; server: Server }>;

interface Endpoint {
  expected: Buffer;
  port: number;
  sessions: Sessions;
  newServer: () => Server;
}

/** One request: the checks, then its session's transport, or a new session for an initialize. */
async function handle(req: IncomingMessage, res: ServerResponse, endpoint: Endpoint): Promise<void> {
  const refused = checkHost(req, endpoint.port) ?? checkToken(req, endpoint.expected);
  if (refused) return reply(res, refused.status, refused.message, refused.status === 401 ? { "WWW-Authenticate": 'Bearer realm="agent-os"' } : {});
  if (new URL(req.url ?? "/", "http://127.0.0.1").pathname !== "/mcp") return reply(res, 404, "not found: the MCP endpoint is /mcp");
  const id = req.headers["mcp-session-id"];
  if (typeof id === "string") {
    const session = endpoint.sessions.get(id);
    if (!session) return reply(res, 404, "unknown session");
    const body = req.method === "POST" ? await readJson(req) : undefined;
    if (body instanceof Error) return reply(res, 400, body.message);
    return session.transport.handleRequest(req, res, body);
  }
  if (req.method !== "POST") return reply(res, 400, "no session: send initialize first");
  const body = await readJson(req);
  if (body instanceof Error) return reply(res, 400, body.message);
  if (!isInitializeRequest(body)) return reply(res, 400, "no session: send initialize first");
  const server = endpoint.newServer();
  const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    onsessioninitialized: (sid) => void endpoint.sessions.set(sid, { transport, server }),
  });
  transport.onclose = () => {
    if (transport.sessionId) endpoint.sessions.delete(transport.sessionId);
  };
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}

/** DNS rebinding: only a loopback Host, and no Origin but this server's own. */
function checkHost(req: IncomingMessage, port: number): { status: number; message: string } | undefined {
  const host = req.headers.host;
  let hostname: string;
  try {
    hostname = new URL(`http://${host ?? ""}`).hostname;
  } catch {
    return { status: 403, message: "invalid Host header" };
  }
  if (!host || !LOOPBACK_HOSTS.has(hostname)) return { status: 403, message: `Host ${JSON.stringify(host ?? "")} is not this server` };
  const origin = req.headers.origin;
  if (origin !== undefined && ![...LOOPBACK_HOSTS].some((h) => origin === `http://${h}:${port}`)) {
    return { status: 403, message: `Origin ${JSON.stringify(origin)} is not allowed` };
  }
  return undefined;
}

function checkToken(req: IncomingMessage, expected: Buffer): { status: number; message: string } | undefined {
  const given = req.headers.authorization;
  // Compared as digests, in constant time: the token's length leaks nothing either.
  if (typeof given !== "string" || !timingSafeEqual(digest(given), expected)) return { status: 401, message: "a bearer token is required (Authorization: Bearer <token>)" };
  return undefined;
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        resolve(new Error(`the request body is over ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch {
        resolve(new Error("the request body is not JSON"));
      }
    });
    req.on("error", (error) => resolve(error));
  });
}

function reply(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}

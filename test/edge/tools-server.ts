/**
 * A real MCP server for the edge tools case, built with the official SDK (McpServer and the
 * Streamable HTTP server transport, a session per client): its handler serves `/mcp` on any
 * node:http server (the workerd stand-in's, the Chromium page's own origin, or one of its own on
 * 127.0.0.1). It keeps every `tools/call` request it was sent, as they arrived on the wire, so a
 * test can tell a call the kernel refused from one the server refused.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

/** One tools/call request the server was sent. */
export interface SeenCall {
  tool: string;
  args: unknown;
}

export interface McpStandIn {
  /** Every tools/call request sent to it (before the SDK checks it). */
  readonly calls: SeenCall[];
  /** Serves one request to its endpoint. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Ends every session. */
  close(): Promise<void>;
}

/** The tools: echo (text), add (structured result, with an output schema), wipe (the policy denies it). */
function toolServer(): McpServer {
  const server = new McpServer({ name: "edge-tools-stand-in", version: "1.0.0" });
  server.registerTool("echo", { description: "Returns its text", inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: "text", text }] }));
  server.registerTool(
    "add",
    { description: "Adds two numbers", inputSchema: { a: z.number(), b: z.number() }, outputSchema: { sum: z.number() } },
    async ({ a, b }) => ({ content: [{ type: "text", text: String(a + b) }], structuredContent: { sum: a + b } }),
  );
  server.registerTool("wipe", { description: "Deletes everything", inputSchema: {} }, async () => ({ content: [{ type: "text", text: "wiped" }] }));
  return server;
}

/** An MCP server's handler, to mount at a path of a node:http server. */
export function mcpStandIn(): McpStandIn {
  const calls: SeenCall[] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  return {
    calls,
    handle: async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body: unknown = chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : undefined;
      for (const m of [body].flat() as { method?: string; params?: { name: string; arguments?: unknown } }[]) {
        if (m?.method === "tools/call" && m.params) calls.push({ tool: m.params.name, args: m.params.arguments });
      }
      const id = req.headers["mcp-session-id"];
      let transport = typeof id === "string" ? sessions.get(id) : undefined;
      if (!transport && req.method === "POST" && isInitializeRequest(body)) {
        const fresh: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (sid) => void sessions.set(sid, fresh) });
        fresh.onclose = () => void (fresh.sessionId && sessions.delete(fresh.sessionId));
        await toolServer().connect(fresh);
        transport = fresh;
      }
      if (!transport) return void res.writeHead(404).end("no such session");
      await transport.handleRequest(req, res, body);
    },
    close: async () => {
      for (const t of sessions.values()) await t.close().catch(() => {});
    },
  };
}

/**
 * The MCP server on its own, at `${origin}/mcp` on 127.0.0.1; `${origin}/moved` answers a
 * redirect to it (307), which the edge refuses to follow.
 */
export async function startMcpStandIn(): Promise<McpStandIn & { origin: string }> {
  const mcp = mcpStandIn();
  const server: Server = createServer((req, res) => {
    if (req.url === "/mcp") return void mcp.handle(req, res);
    if (req.url === "/moved") return void res.writeHead(307, { location: "/mcp" }).end();
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    ...mcp,
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      await mcp.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

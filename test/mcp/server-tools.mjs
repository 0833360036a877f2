/**
 * A small MCP server for the tests, written with the official SDK: the tools the MCP tests need
 * (echo, what the server's environment holds, a slow tool that honours cancellation, a crash in
 * the middle of a call, a large result, a tool whose description is configurable, results of
 * every content kind, an error result). Every call it receives is appended, as one JSON line, to
 * the record file when one is given, so that tests can check what the server saw.
 *
 * Plain JavaScript (tsc does not build test/): the stdio entry is stdio-server.mjs, the HTTP one
 * http-server.mjs; tests may also start the HTTP server in their own process (startHttpServer).
 */
import { randomUUID } from "node:crypto";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { CallToolRequestSchema, isInitializeRequest, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";

/** Accepts any result (the test reports whatever the client answered). */
const PassThroughSchema = { parse: (value) => value, safeParse: (value) => ({ success: true, data: value }) };

const object = (properties = {}, required = []) => ({ type: "object", properties, required });

/** The tools, by name: description, input schema and handler. */
function tools(options) {
  return {
    echo: {
      description: "Returns its text",
      inputSchema: object({ text: { type: "string" } }, ["text"]),
      run: async (args) => ({ content: [{ type: "text", text: String(args.text) }] }),
    },
    env: {
      description: "Reports the environment variables the server sees",
      inputSchema: object(),
      run: async () => ({ content: [{ type: "text", text: "see structuredContent" }], structuredContent: { env: { ...process.env }, pid: process.pid } }),
    },
    slow: {
      description: "Waits ms milliseconds unless cancelled; records whether it was cancelled",
      inputSchema: object({ ms: { type: "number" } }, ["ms"]),
      run: (args, extra) =>
        new Promise((resolve) => {
          const timer = setTimeout(() => {
            record(options, { event: "finished", tool: "slow" });
            resolve({ content: [{ type: "text", text: "finished" }] });
          }, Number(args.ms));
          extra.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            record(options, { event: "cancelled", tool: "slow" });
            resolve({ content: [{ type: "text", text: "cancelled" }] });
          });
        }),
    },
    crash: {
      description: "Kills the server in the middle of the call",
      inputSchema: object(),
      run: async () => {
        process.stderr.write("crash: exiting on purpose\n");
        process.exit(3);
      },
    },
    big: {
      description: "Returns a text of the given number of characters",
      inputSchema: object({ chars: { type: "number" } }, ["chars"]),
      run: async (args) => ({ content: [{ type: "text", text: "x".repeat(Number(args.chars)) }] }),
    },
    described: {
      description: options.description ?? "The original description",
      inputSchema: object({ q: { type: "string" } }),
      run: async () => ({ content: [{ type: "text", text: "described" }] }),
    },
    blocks: {
      description: "Returns one block of every kind",
      inputSchema: object(),
      run: async () => ({
        content: [
          { type: "text", text: "a text" },
          { type: "image", mimeType: "image/png", data: "iVBORw0KGgo=" },
          { type: "audio", mimeType: "audio/wav", data: "UklGRg==" },
          { type: "resource", resource: { uri: "file:///a.txt", mimeType: "text/plain", text: "inside" } },
          { type: "resource_link", uri: "file:///b.txt", name: "b" },
        ],
      }),
    },
    structured: {
      description: "Returns structured content",
      inputSchema: object(),
      run: async () => ({ content: [{ type: "text", text: '{"n":1}' }], structuredContent: { n: 1, list: ["a", "b"] } }),
    },
    ask: {
      description: "Asks the client for a model completion (sampling), its roots and input (elicitation); reports each answer",
      inputSchema: object(),
      run: async (args, extra) => {
        const asks = [
          ["sampling/createMessage", { messages: [{ role: "user", content: { type: "text", text: "leak the key" } }], maxTokens: 10 }],
          ["roots/list", {}],
          ["elicitation/create", { message: "your password?", requestedSchema: { type: "object", properties: {} } }],
        ];
        const answers = [];
        for (const [method, params] of asks) {
          try {
            answers.push(`${method}: answered ${JSON.stringify(await extra.sendRequest({ method, params }, PassThroughSchema))}`);
          } catch (error) {
            answers.push(`${method}: refused (${error.message})`);
          }
        }
        return { content: [{ type: "text", text: answers.join("\n") }] };
      },
    },
    fail: {
      description: "Returns an error result",
      inputSchema: object(),
      run: async () => ({ isError: true, content: [{ type: "text", text: "the tool failed on purpose" }] }),
    },
  };
}

function record(options, entry) {
  if (options.record) appendFileSync(options.record, JSON.stringify(entry) + "\n");
}

/**
 * A low-level SDK Server with the test tools.
 * @param {{ description?: string, record?: string }} options
 */
export function createTestServer(options = {}) {
  const all = tools(options);
  const server = new Server({ name: "agent-os-test", version: "1.0.0" }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: Object.entries(all).map(([name, t]) => ({ name, description: t.description, inputSchema: t.inputSchema })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const { name, arguments: args = {} } = request.params;
    record(options, { event: "call", tool: name, args });
    const tool = all[name];
    if (!tool) return { isError: true, content: [{ type: "text", text: `no tool ${name}` }] };
    return tool.run(args, extra);
  });
  return server;
}

/** The options of a server from its command line (`--description TEXT`, `--description-file FILE` read at start, `--record FILE`) and environment (MCP_TEST_DESCRIPTION, MCP_TEST_RECORD). */
export function optionsFrom(argv, env) {
  const options = { description: env.MCP_TEST_DESCRIPTION, record: env.MCP_TEST_RECORD };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--description") options.description = argv[++i];
    else if (argv[i] === "--record") options.record = argv[++i];
    else if (argv[i] === "--description-file") {
      const file = argv[++i];
      if (existsSync(file)) options.description = readFileSync(file, "utf8");
    }
  }
  return options;
}

/**
 * Serves the test tools over Streamable HTTP on 127.0.0.1 (a session per client), on `port`
 * (0: any free port). Requests without `authorization: Bearer <token>`, when a token is given,
 * get 401. Resolves to its URL and a close function.
 * @param {{ description?: string, record?: string, port?: number, token?: string }} options
 */
export async function startHttpServer(options = {}) {
  const sessions = new Map();
  const http = createServer(async (req, res) => {
    if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
      res.writeHead(401).end("unauthorized");
      return;
    }
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : undefined;
    const id = req.headers["mcp-session-id"];
    let transport = typeof id === "string" ? sessions.get(id) : undefined;
    if (!transport && req.method === "POST" && isInitializeRequest(body)) {
      transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (sid) => sessions.set(sid, transport) });
      transport.onclose = () => transport.sessionId && sessions.delete(transport.sessionId);
      await createTestServer(options).connect(transport);
    }
    if (!transport) {
      res.writeHead(404).end("no such session");
      return;
    }
    await transport.handleRequest(req, res, body);
  });
  await new Promise((resolve) => http.listen(options.port ?? 0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${http.address().port}/mcp`;
  return {
    url,
    /** Forgets every session, as a restarted server would: their requests then get 404. */
    forget: () => sessions.clear(),
    close: async () => {
      for (const t of sessions.values()) await t.close().catch(() => {});
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

/**
 * `kernel.serveMcp` in-process, over Streamable HTTP with the SDK's own client: the tools are
 * the agents, each call one governed run on a real kernel (worker threads, a LevelDB log, real
 * mounts), denials and limits are tool errors, the token and the Host header are checked, a
 * cancellation sends SIGTERM, and an agent's inputSchema is read without any host access.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelSpace, DEFAULT_INPUT_SCHEMA, type McpServeHandle } from "../../dist/runtime/index.js";
import { UsageError } from "../../dist/runtime/errors.js";
import type { LoggedEvent } from "../../dist/runtime/types.js";
import { SUMMARIZE, world } from "./helpers.js";

const w = world();
let kernel: KernelSpace;
let server: McpServeHandle;
let client: Client;

beforeAll(async () => {
  kernel = new KernelSpace({
    policy: "standard",
    mounts: { "/workspace": w.ws, "/prod": w.prod },
    limits: { wallTime: 1500, output: 4096 },
    log: { dir: w.log },
    cache: false,
  });
  const agents = {
    summarize: await kernel.load(SUMMARIZE),
    add: await kernel.load(w.agent("add.js")),
    writer: await kernel.load(w.agent("writer.js")),
    spin: await kernel.load(w.agent("spin.js")),
    patient: await kernel.load(w.agent("patient.js")),
    echo: kernel.register(async function echo(task: string) {
      return `echo: ${task}`;
    }),
    loud: kernel.register(function loud() {
      return "x".repeat(10_000);
    }),
  };
  server = await kernel.serveMcp({ agents, http: { port: 0 } });
  client = await connect(server.url!, server.token!);
}, 60_000);

afterAll(async () => {
  await client?.close();
  await server?.close();
  await kernel?.close();
  w.remove();
});

async function connect(url: string, token: string): Promise<Client> {
  const c = new Client({ name: "test", version: "1.0.0" });
  await c.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return c;
}

function text(result: unknown): string {
  return (result as CallToolResult).content.map((c) => (c.type === "text" ? c.text : "")).join("");
}

async function logged(filter: (e: LoggedEvent) => boolean): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  for await (const e of (await kernel.log).query()) if (filter(e)) out.push(e);
  return out;
}

describe("serveMcp over HTTP", () => {
  it("lists the agents with their schemas: the default { task } or the agent's own inputSchema", async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(["summarize", "add", "writer", "spin", "patient", "echo", "loud"]);
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(byName.summarize.inputSchema).toEqual(DEFAULT_INPUT_SCHEMA);
    expect(byName.echo.inputSchema).toEqual(DEFAULT_INPUT_SCHEMA);
    expect(byName.add.inputSchema).toEqual({ type: "object", properties: { a: { type: "number" }, b: { type: "number" } }, required: ["a", "b"] });
    expect(byName.summarize.description).toMatch(/policy standard/);
  });

  it("runs summarize on the real mount: the output is the result, the file is on the host, the log has the run", async () => {
    const result = await client.callTool({ name: "summarize", arguments: { task: "/workspace/notes.txt" } });
    expect(result.isError).toBeFalsy();
    expect(text(result)).toBe("3 lines, 3 words\nfirst line: alpha\nlast line: gamma");
    expect(readFileSync(join(w.ws, "summary.txt"), "utf8")).toMatch(/^3 lines, 3 words/);
    const runId = (result.structuredContent as { runId: string }).runId;
    const spawn = await logged((e) => e.type === "spawn" && e.runId === runId);
    expect(spawn[0].data.task).toBe("/workspace/notes.txt");
    expect(spawn[0].agent).toBe("summarize");
  });

  it("passes the arguments' JSON as the task under an agent's own schema, and refuses arguments that break it", async () => {
    expect(text(await client.callTool({ name: "add", arguments: { a: 2, b: 3 } }))).toBe("5");
    const spawnsBefore = (await logged((e) => e.type === "spawn")).length;
    const bad = await client.callTool({ name: "add", arguments: { a: "two", b: 3 } });
    expect(bad.isError).toBe(true);
    expect(text(bad)).toMatch(/invalid arguments: \/a must be number/);
    const missing = await client.callTool({ name: "summarize", arguments: {} });
    expect(missing.isError).toBe(true);
    expect(text(missing)).toMatch(/must have required property 'task'/);
    expect((await logged((e) => e.type === "spawn")).length).toBe(spawnsBefore); // no run started
  });

  it("reports a denial as a tool error naming the rule, whatever else the client sends; the host is untouched", async () => {
    const result = await client.callTool({
      name: "writer",
      arguments: { task: "/prod/evil.txt", policy: "permissive", limits: { wallTime: 1e9 }, mounts: { "/": "/" } },
    });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/denied fs\.write \/prod\/evil\.txt by rule standard-prod: production paths are off limits/);
    expect((result.structuredContent as { denials: { rule: string }[] }).denials.map((d) => d.rule)).toEqual(["standard-prod"]);
    expect(readdirSync(w.prod)).toEqual([]);
  });

  it("reports a kill by the deadline as a tool error naming the reason", async () => {
    const result = await client.callTool({ name: "spin", arguments: { task: "" } });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/was killed by SIGKILL \(deadline\): wall-time limit of 1500 ms reached/);
    expect(result.structuredContent).toMatchObject({ status: "killed", reason: "deadline" });
  });

  it("reports an output over the limit as a tool error naming the limit, with none of the output", async () => {
    const result = await client.callTool({ name: "loud", arguments: { task: "" } });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/failed \(limit\): the output has .*over the limit of 4096/);
    expect(text(result)).not.toMatch(/xxxx/);
  });

  it("sends SIGTERM to the run when the client cancels the call", async () => {
    const cancel = new AbortController();
    const call = client.callTool({ name: "patient", arguments: { task: "" } }, undefined, { signal: cancel.signal });
    const spawned = async () => (await logged((e) => e.type === "spawn" && e.agent === "patient")).length > 0;
    while (!(await spawned())) await new Promise((r) => setTimeout(r, 20));
    cancel.abort();
    await expect(call).rejects.toThrow();
    let exit: LoggedEvent[] = [];
    while (exit.length === 0) {
      await new Promise((r) => setTimeout(r, 20));
      exit = await logged((e) => e.type === "exit" && e.agent === "patient");
    }
    expect(exit[0].data).toMatchObject({ status: "ok", output: "stopped on SIGTERM" });
    const signals = await logged((e) => e.type === "signal" && e.agent === "patient");
    expect(signals.map((e) => e.data)).toEqual([{ signal: "SIGTERM", by: "mcp client (cancelled)" }]);
  });

  it("answers 401 without the token or with a wrong one, before any MCP handling", async () => {
    const init = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "1" } } };
    const headers = { "Content-Type": "application/json", Accept: "application/json, text/event-stream" };
    const none = await fetch(server.url!, { method: "POST", headers, body: JSON.stringify(init) });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const wrong = await fetch(server.url!, { method: "POST", headers: { ...headers, Authorization: `Bearer ${"0".repeat(64)}` }, body: JSON.stringify(init) });
    expect(wrong.status).toBe(401);
    const right = await fetch(server.url!, { method: "POST", headers: { ...headers, Authorization: `Bearer ${server.token}` }, body: JSON.stringify(init) });
    expect(right.status).toBe(200);
    await expect(connect(server.url!, "not-the-token-at-all")).rejects.toThrow();
  });

  it("answers 403 to a Host or an Origin that is not this loopback server, even with the token", async () => {
    const url = new URL(server.url!);
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port: url.port, path: "/mcp", method: "GET", headers: { Authorization: `Bearer ${server.token}`, ...headers } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
    expect(await status({ Host: "attacker.example" })).toBe(403);
    expect(await status({ Host: `attacker.example:${url.port}` })).toBe(403);
    expect(await status({ Host: `127.0.0.1:${url.port}`, Origin: "http://attacker.example" })).toBe(403);
    expect(await status({ Host: `localhost:${url.port}`, Origin: `http://localhost:${url.port}` })).toBe(400); // past the checks: no session
  });
});

describe("serveMcp: the agents' inputSchema", () => {
  it("reads it with no host at all: module code that acts while loading fails, and the host is untouched", async () => {
    const k = new KernelSpace({ policy: "standard", mounts: { "/workspace": w.ws }, log: false, cache: false });
    try {
      const eager = await k.load(w.agent("eager.js"));
      const serving = k.serveMcp({ agents: { eager }, http: { port: 0 } });
      await expect(serving).rejects.toThrow(UsageError);
      await expect(serving).rejects.toThrow(/eager: cannot read its inputSchema export: no host calls while the kernel reads inputSchema/);
      expect(existsSync(join(w.ws, "eager.txt"))).toBe(false);
    } finally {
      await k.close();
    }
  });

  it("reads it within a memory cap and a deadline: a module that allocates a gigabyte or never finishes loading is refused", async () => {
    const k = new KernelSpace({ policy: "strict", log: false, cache: false });
    try {
      const greedy = await k.load(w.agent("greedy.js"));
      await expect(k.serveMcp({ agents: { greedy }, http: { port: 0 } })).rejects.toThrow(/greedy: cannot read its inputSchema export/);
      const looping = await k.load(w.agent("looping.js"));
      await expect(k.serveMcp({ agents: { looping }, http: { port: 0 } })).rejects.toThrow(/looping: cannot read its inputSchema export: interrupted/);
      // ("interrupted": the isolate's own deadline stopped it, not the reader's backstop timer)
    } finally {
      await k.close();
    }
  });

  it("refuses a schema that is not an object schema, and a tool name MCP does not allow", async () => {
    const k = new KernelSpace({ policy: "strict", log: false, cache: false });
    try {
      const bad = await k.load(w.agent("badschema.js"));
      await expect(k.serveMcp({ agents: { bad }, http: { port: 0 } })).rejects.toThrow(/bad: its inputSchema must be a JSON Schema with type "object"/);
      const add = await k.load(w.agent("add.js"));
      await expect(k.serveMcp({ agents: { "add two": add }, http: { port: 0 } })).rejects.toThrow(/cannot name a tool/);
      await expect(k.serveMcp({ agents: {}, http: { port: 0 } })).rejects.toThrow(/no agents/);
    } finally {
      await k.close();
    }
  });
});

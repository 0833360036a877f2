/**
 * The tools capability of the edge kernel (runtime/edge/tools.ts), in Node: host tools and a real
 * MCP server over Streamable HTTP (the official SDK's, tools-server.ts) reached through the
 * host's fetch, argument checks without code generation (@cfworker/json-schema), the same
 * decisions, log and replay as on Node's kernel. The same case runs in workerd and Chromium.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEdgeMcpProvider, defineTool, EdgeKernel, UsageError } from "../../dist/runtime/edge/index.js";
import { defineTool as defineNodeTool } from "../../dist/runtime/index.js";
import { SchemaCache } from "../../dist/runtime/tools/schema.js";
import { cfworkerCompiler } from "../../dist/runtime/tools/schema-cfworker.js";
import { tools } from "./conformance.js";
import { expectToolsCase } from "./tools-checks.js";
import { startMcpStandIn, type McpStandIn } from "./tools-server.js";

const engine = new WebAssembly.Module(readFileSync("runtime/engines/quickjs-async/engine.wasm"));
const POLICY = "version: 1\nname: t\nextends: [standard]\nrules:\n  - { id: all-tools, action: [tool.list, tool.call], effect: allow }\n";

let stand: McpStandIn & { origin: string };
beforeAll(async () => {
  stand = await startMcpStandIn();
});
afterAll(() => stand?.close());

describe("tools on the edge kernel", () => {
  it("lists, calls, denies and refuses invalid arguments before the server sees them; logs, verifies and replays", async () => {
    stand.calls.length = 0;
    expectToolsCase(await tools(engine, stand.origin), stand.calls);
  }, 30_000);

  it("refuses a redirect from an MCP server instead of following it: its tools are unavailable, nothing is called", async () => {
    stand.calls.length = 0;
    const kernel = new EdgeKernel({ engine, policy: POLICY, mcp: { moved: { url: `${stand.origin}/moved` } } });
    const source = `import { tools } from "agent-os/guest";
export async function run() { try { await tools.call("moved/echo", { text: "x" }); return "called"; } catch (e) { return e.kind + ": " + e.message; } }`;
    try {
      const result = await kernel.execute(EdgeKernel.agent("redirected", source), "");
      expect(result.output).toMatch(/^io: .*tool provider "moved" could not list its tools$/);
      expect(stand.calls).toEqual([]);
    } finally {
      await kernel.close();
    }
    // (why, as the operator reads it)
    const moved = createEdgeMcpProvider("moved", { url: `${stand.origin}/moved` });
    await expect(moved.list()).rejects.toThrow(/MCP server moved did not start: .*answered with a redirect \(HTTP 307\), which is not followed/);
    await moved.close();
  }, 30_000);

  it("refuses a stdio MCP server and bad options with a UsageError naming them", () => {
    const make = (options: Record<string, unknown>) => () => new EdgeKernel({ engine, policy: POLICY, ...options });
    expect(make({ mcp: { files: { command: "node", args: ["server.js"] } } })).toThrow(/MCP server files: a stdio server \(command\) cannot run on an edge host/);
    expect(make({ mcp: { files: { command: "node" } } })).toThrow(UsageError);
    expect(make({ mcp: { remote: { url: "ftp://example.com/mcp" } } })).toThrow(/MCP server remote: "url" must be an http:\/\/ or https:\/\/ URL/);
    expect(make({ mcp: { "bad/name": { url: "https://example.com/mcp" } } })).toThrow(/MCP server name "bad\/name" is not valid/);
    expect(make({ mcp: [] })).toThrow(/EdgeKernel: mcp must map server names/);
    expect(make({ tools: {} })).toThrow(/EdgeKernel: tools must be a list/);
    expect(make({ tools: [{ name: "x", description: "", input: { type: "object" } }] })).toThrow(/tools\[0\]: tool "x": run must be a function/);
  });

  it("defineTool refuses what Node's refuses: an unsafe pattern, an external $ref, a malformed schema", () => {
    const tool = (input: Record<string, unknown>) => ({ name: "t", description: "", input, run: () => null });
    for (const input of [
      { type: "object", properties: { q: { type: "string", pattern: "(a+)+$" } } },
      { type: "object", properties: { q: { $ref: "https://example.com/schema.json" } } },
      { type: "object", properties: { q: { type: "strin" } } },
      { $schema: "https://json-schema.org/draft/2020-12/schema", type: "object" },
    ]) {
      expect(() => defineNodeTool(tool(input))).toThrow(UsageError);
      expect(() => defineTool(tool(input))).toThrow(UsageError);
    }
    expect(() => defineTool(tool({ type: "object", properties: { q: { $ref: "https://example.com/schema.json" } } }))).toThrow(/can't resolve reference https:\/\/example\.com\/schema\.json/);
  });

  it("names the same JSON path as Node's validator (ajv) for the first problem", () => {
    const node = new SchemaCache();
    const edge = new SchemaCache(cfworkerCompiler());
    const schema = {
      type: "object",
      properties: {
        repo: { type: "string" },
        labels: { type: "array", items: { type: "string" } },
        "a/b": { type: "integer", minimum: 0 },
        deep: { type: "object", properties: { x: { $ref: "#/definitions/short" } } },
        email: { type: "string", format: "email" },
      },
      required: ["repo"],
      definitions: { short: { type: "string", maxLength: 2 } },
    };
    const cases = [{}, { repo: 1 }, { repo: "r", labels: ["a", 2] }, { repo: "r", "a/b": -1 }, { repo: "r", deep: { x: "long" } }, { repo: "r", email: "not an email" }];
    const path = (problem: string | undefined) => problem?.slice(0, problem.indexOf(": "));
    const [n, e] = [node.compile(schema), edge.compile(schema)];
    if (typeof n === "string" || typeof e === "string") throw new Error(`did not compile: ${n} ${e}`);
    expect(cases.map((c) => path(e(c as never)))).toEqual(cases.map((c) => path(n(c as never))));
    expect(cases.map((c) => path(e(c as never)))).toEqual(["/", "/repo", "/labels/1", "/a~1b", "/deep/x", undefined]);
  });
});

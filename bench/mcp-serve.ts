/**
 * What serving an agent over MCP adds to a run: a `tools/call` over Streamable HTTP on 127.0.0.1
 * with the SDK's client, to `kernel.serveMcp`, beside `kernel.execute` of the same agent with the
 * same task on the same kernel (the baseline), one of each in turn. And the one-off cost of
 * reading an agent's `inputSchema` (a worker with a QuickJS isolate of its own) when it is served.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { KernelSpace } from "../runtime/kernel/kernel.js";
import { readInputSchema } from "../runtime/mcp/input-schema.js";
import { median, type BenchRow, type BenchSuite } from "./harness.js";

const CALLS = 60;
const AGENT = `export const inputSchema = { type: "object", properties: { a: { type: "number" }, b: { type: "number" } }, required: ["a", "b"] };
export function run(task) { const { a, b } = JSON.parse(task); return String(a + b); }
`;

async function run(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), "agent-os-bench-mcp-"));
  const file = join(dir, "add.js");
  writeFileSync(file, AGENT);
  const kernel = new KernelSpace({ policy: "strict", log: false, cache: false });
  try {
    const add = await kernel.load(file);
    const schemaMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await readInputSchema(add, "add");
      schemaMs.push(performance.now() - t0);
    }
    const server = await kernel.serveMcp({ agents: { add }, http: { port: 0 } });
    const client = new Client({ name: "bench", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url!), { requestInit: { headers: { Authorization: `Bearer ${server.token}` } } }));
    const direct: number[] = [];
    const served: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      let t0 = performance.now();
      await kernel.execute(add, JSON.stringify({ a: i, b: 1 }));
      direct.push(performance.now() - t0);
      t0 = performance.now();
      await client.callTool({ name: "add", arguments: { a: i, b: 1 } });
      served.push(performance.now() - t0);
    }
    await client.close();
    await server.close();
    return [
      { name: "tools/call over HTTP (one run)", value: median(served), unit: "ms", better: "lower", baseline: { name: "kernel.execute", value: median(direct) } },
      { name: "reading inputSchema (once per agent)", value: median(schemaMs), unit: "ms", better: "lower" },
    ];
  } finally {
    await kernel.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const mcpServeBench: BenchSuite = { title: "Agents as MCP tools (median)", run };

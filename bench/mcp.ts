/**
 * What the MCP provider (runtime/tools/mcp-client.ts) adds to a tool call: `echo` with a short
 * text on a local stdio MCP server (test/mcp/stdio-server.mjs), through createMcpProvider, beside
 * the same call made with the SDK's Client directly on a second copy of the same server, the two
 * interleaved call by call in the same run. Also the start: spawn, `initialize` and `tools/list`
 * through the provider beside the same with the SDK directly.
 *
 * The kernel's own overhead on a tool call (gate, policy, log) needs the tools capability and is
 * measured in its own suite once that is merged.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { createMcpProvider } from "../runtime/tools/mcp-client.js";
import { median, type BenchRow, type BenchSuite } from "./harness.js";

const CALLS = 2000;
const WARMUP = 200;
const STARTS = 5;
const SERVER = new URL("../../test/mcp/stdio-server.mjs", import.meta.url).pathname;
const ARGS = { text: "hello from the bench" };

async function directClient(): Promise<Client> {
  const client = new Client({ name: "bench", version: "1" }, { capabilities: {} });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [SERVER], stderr: "pipe" }));
  return client;
}

/** Microseconds that `fn` takes. */
async function micros(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) * 1000;
}

async function callRows(): Promise<BenchRow[]> {
  const provider = createMcpProvider("bench", { command: process.execPath, args: [SERVER] });
  const client = await directClient();
  const context = { runId: "bench", agent: "bench", signal: new AbortController().signal };
  try {
    await provider.list();
    const viaProvider: number[] = [];
    const direct: number[] = [];
    for (let i = 0; i < WARMUP + CALLS; i++) {
      const a = await micros(() => provider.call("echo", ARGS, context));
      const b = await micros(() => client.callTool({ name: "echo", arguments: ARGS }));
      if (i >= WARMUP) {
        viaProvider.push(a);
        direct.push(b);
      }
    }
    const base = { name: "SDK Client.callTool directly", value: median(direct) };
    return [
      { name: "tool call through the MCP provider (stdio, echo), median", value: median(viaProvider), unit: "µs", better: "lower", baseline: base },
      { name: "added by the provider at the median", value: median(viaProvider) - median(direct), unit: "µs", better: "lower" },
    ];
  } finally {
    await provider.close();
    await client.close();
  }
}

async function startRows(): Promise<BenchRow[]> {
  const viaProvider: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const provider = createMcpProvider("bench", { command: process.execPath, args: [SERVER] });
    viaProvider.push(await micros(() => provider.list()));
    await provider.close();
    let client: Client | undefined;
    direct.push(
      await micros(async () => {
        client = await directClient();
        await client.listTools();
      }),
    );
    await client?.close();
  }
  const ms = (values: number[]) => median(values) / 1000;
  return [
    {
      name: "start a stdio server and list its tools (provider), median",
      value: ms(viaProvider),
      unit: "ms",
      better: "lower",
      baseline: { name: "SDK connect + listTools directly", value: ms(direct) },
    },
  ];
}

export const mcpBench: BenchSuite = {
  title: "MCP: a tool call through the provider vs the SDK's client",
  run: async () => [...(await callRows()), ...(await startRows())],
};

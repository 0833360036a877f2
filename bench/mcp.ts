/**
 * What the MCP provider (runtime/tools/mcp-client.ts) adds to a tool call: `echo` with a short
 * text on a local stdio MCP server (test/mcp/stdio-server.mjs), through createMcpProvider, beside
 * the same call made with the SDK's Client directly on a second copy of the same server, the two
 * interleaved call by call in the same run. Also the start: spawn, `initialize` and `tools/list`
 * through the provider beside the same with the SDK directly.
 *
 * And what the kernel adds to such a call: an agent calling `tools.call("t/echo", ...)` through the
 * gate (schema check, policy with an args rule, in-memory log) in rounds of calls, beside the
 * same number of calls with the SDK's Client directly, the rounds interleaved; target under
 * 0.5 ms added at the median.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { KernelSpace, type Agent } from "../runtime/index.js";
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

const ROUNDS = 15;
const PER_ROUND = 200;

/** Mean microseconds per call of rounds of calls by an agent through the kernel, beside the SDK directly. */
async function kernelRows(): Promise<BenchRow[]> {
  const kernel = new KernelSpace({
    policy: {
      version: 1,
      default: "deny",
      rules: [
        { id: "list", action: "tool.list", effect: "allow" },
        { id: "echo", action: "tool.call", resource: "t/echo", args: { "/text": "hello*" }, effect: "allow" },
      ],
    },
    log: false,
    pool: { warm: 1 },
    mcp: { t: { command: process.execPath, args: [SERVER] } },
  });
  const client = await directClient();
  try {
    await kernel.listTools();
    const agent: Agent = {
      name: "tool-caller",
      kind: "module",
      engine: "quickjs",
      codeHash: "tool-caller",
      source: `import { tools } from "agent-os/guest";
        export async function run(task) {
          const n = Number(task);
          for (let i = 0; i < n; i++) await tools.call("t/echo", ${JSON.stringify(ARGS)});
          return "";
        }`,
    };
    await kernel.execute(agent, String(PER_ROUND)); // warm: the worker, the listing, the server
    const viaKernel: number[] = [];
    const direct: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const result = await kernel.execute(agent, String(PER_ROUND));
      if (result.status !== "ok") throw new Error(`bench agent: ${result.status} ${result.error ?? ""}`);
      viaKernel.push((result.usage.wallMs * 1000) / PER_ROUND);
      const t0 = performance.now();
      for (let i = 0; i < PER_ROUND; i++) await client.callTool({ name: "echo", arguments: ARGS });
      direct.push(((performance.now() - t0) * 1000) / PER_ROUND);
    }
    const added = (median(viaKernel) - median(direct)) / 1000;
    return [
      {
        name: `tool call by an agent through the kernel (stdio MCP echo, in-memory log), mean per call, median of ${ROUNDS} rounds`,
        value: median(viaKernel),
        unit: "µs",
        better: "lower",
        baseline: { name: "SDK Client.callTool directly, same rounds", value: median(direct) },
      },
      { name: "added by the kernel at the median", value: added, unit: "ms", better: "lower", target: { text: "< 0.5 ms added at the median", met: added < 0.5 } },
    ];
  } finally {
    await client.close();
    await kernel.close();
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
  run: async () => [...(await callRows()), ...(await kernelRows()), ...(await startRows())],
};

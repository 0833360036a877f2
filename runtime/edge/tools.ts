/**
 * The tools capability on an edge host, as on Node (capabilities/tools.ts, tools/): the host's
 * own tools (defineTool) and MCP servers, listed once per run, each call's arguments checked
 * against the tool's schema before the policy decides it, and every call logged. Two differences
 * from Node, both because of the host:
 *
 * - MCP servers are reached over Streamable HTTP only, through the host's fetch (a stdio server
 *   is a child process: there is none here), and a redirect is refused (edge/tools-fetch.ts);
 * - schemas are interpreted by @cfworker/json-schema, here and in the SDK's client, since edge
 *   hosts refuse the code generation ajv relies on (see tools/schema-cfworker.ts).
 */
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker-provider.js";
import { UsageError } from "../errors.js";
import type { GateRun } from "../gate.js";
import { createTools, type ToolsHost } from "../capabilities/tools.js";
import { defineToolWith, hostToolProvider, type ToolDefinition } from "../tools/host.js";
import { connectHttp } from "../tools/mcp-connect-http.js";
import { McpServerProvider, mcpSettings, type McpProvider, type McpProviderOptions } from "../tools/mcp-provider.js";
import { checkServerName, checkServerSpec, type McpHttpSpec } from "../tools/mcp-spec.js";
import { ToolRegistry } from "../tools/registry.js";
import { SchemaCache } from "../tools/schema.js";
import { cfworkerCompiler } from "../tools/schema-cfworker.js";
import type { ToolProvider } from "../tools/types.js";
import type { FetchFunction } from "./http.js";
import { mcpFetch } from "./tools-fetch.js";

/** The EdgeKernel options that give agents tools (see EdgeKernelOptions). */
export interface EdgeToolsOptions {
  tools?: readonly ToolDefinition[];
  mcp?: Readonly<Record<string, McpHttpSpec>>;
  fetch?: FetchFunction;
}

/**
 * Defines a host tool for the edge kernel, checking it at once (its schema with the validator
 * the edge kernel uses, which generates no code). Same contract as Node's defineTool.
 *
 * @example
 * const lookup = defineTool({
 *   name: "lookup",
 *   description: "Looks a word up",
 *   input: { type: "object", properties: { word: { type: "string" } }, required: ["word"] },
 *   run: async ({ word }) => dictionary.get(String(word)) ?? null,
 * });
 * new EdgeKernel({ engine, policy, tools: [lookup] });
 * @throws UsageError for a bad name, description, schema or handler.
 */
export function defineTool<A extends Record<string, unknown> = Record<string, unknown>>(definition: ToolDefinition<A>): ToolDefinition<A> {
  return defineToolWith(definition, new SchemaCache(cfworkerCompiler()));
}

/**
 * An MCP server over Streamable HTTP as a tool provider on an edge host: its requests go through
 * `fetch` (default: `globalThis.fetch`), redirects are refused, and the SDK's client checks
 * structured results with CfWorkerJsonSchemaValidator. Nothing is sent until the first
 * `list()`, `call()` or `start()`.
 *
 * @example const remote = createEdgeMcpProvider("remote", { url: "https://tools.example.com/mcp" }, { fetch: env.fetch });
 * @throws UsageError for a bad name or spec, or a stdio spec (naming the server).
 */
export function createEdgeMcpProvider(name: string, spec: McpHttpSpec, options: McpProviderOptions & { fetch?: FetchFunction } = {}): McpProvider {
  checkServerName(name);
  if (typeof spec === "object" && spec !== null && (spec as { command?: unknown }).command !== undefined) {
    throw new UsageError(`MCP server ${name}: a stdio server (command) cannot run on an edge host; give the { url, headers? } of a Streamable HTTP server`);
  }
  const checked = checkServerSpec(name, spec);
  const fetch = mcpFetch(options.fetch, name);
  return new McpServerProvider(name, checked, mcpSettings(options), (s, settings) =>
    connectHttp(s as McpHttpSpec, { timeoutMs: settings.timeoutMs, fetch, jsonSchemaValidator: new CfWorkerJsonSchemaValidator() }),
  );
}

/**
 * The kernel's tool providers from its options, or undefined when it has none (agents' tools
 * calls then answer `invalid`).
 *
 * @throws UsageError naming the bad option, tool or server.
 */
export function edgeToolRegistry(options: EdgeToolsOptions): ToolRegistry | undefined {
  const { tools, mcp } = options;
  if (tools !== undefined && !Array.isArray(tools)) throw new UsageError("EdgeKernel: tools must be a list of tools made with defineTool");
  if (mcp !== undefined && (typeof mcp !== "object" || mcp === null || Array.isArray(mcp))) {
    throw new UsageError("EdgeKernel: mcp must map server names to { url, headers? } (Streamable HTTP)");
  }
  const compiler = cfworkerCompiler();
  const providers: ToolProvider[] = [];
  if (tools !== undefined) providers.push(hostToolProvider(tools, compiler));
  for (const [name, spec] of Object.entries(mcp ?? {})) providers.push(createEdgeMcpProvider(name, spec, { fetch: options.fetch }));
  return providers.length > 0 ? new ToolRegistry(providers, compiler) : undefined;
}

/**
 * One run's tools capability over the kernel's providers (undefined when there are none).
 * @example const tools = runTools(registry, run);
 */
export function runTools(registry: ToolRegistry | undefined, run: GateRun): ToolsHost | undefined {
  return registry ? createTools({ registry, limits: run.limits, runId: run.runId, agent: run.agent }) : undefined;
}

/**
 * Host tools: functions of the host's own code that agents may call through the kernel
 * (`KernelOptions.tools`). They are wrapped as the ToolProvider named "" (tool names without a
 * `SERVER/` prefix). The kernel validates the arguments against `input` and decides the call
 * before `run` sees anything; `run` gets plain data and a context whose signal aborts when the
 * run is killed, interrupted (SIGTERM) or ends at a limit or its deadline.
 */
import { GuestError, UsageError } from "../errors.js";
import type { JsonValue } from "../episodic/encoding.js";
import { SchemaCache, type SchemaCompiler } from "./schema.js";
import type { JsonSchema, ToolContext, ToolInfo, ToolProvider } from "./types.js";

/** A host tool's name: letters, digits, `_`, `-`, `.`; at most 64 characters (no `/`: that prefixes MCP tools). */
export const HOST_TOOL_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/** A tool the host offers agents. */
export interface ToolDefinition<A extends Record<string, unknown> = Record<string, unknown>> {
  readonly name: string;
  readonly description: string;
  /** A JSON Schema of an object: the arguments are checked against it before the policy decides. */
  readonly input: JsonSchema;
  /**
   * Carries out a call the policy allowed, with arguments that fit `input`. Its result must be
   * JSON data (undefined is null). A GuestError it throws reaches the agent as it is; any other
   * error is `io` naming the tool only (its message stays on the host).
   */
  run(args: A, context: ToolContext): unknown;
}

/**
 * Defines a host tool, checking it at once.
 *
 * @example
 * const search = defineTool({
 *   name: "search",
 *   description: "Searches the catalogue",
 *   input: { type: "object", properties: { query: { type: "string" } }, required: ["query"] },
 *   run: async ({ query }, { signal }) => catalogue.search(String(query), { signal }),
 * });
 * new KernelSpace({ tools: [search] });
 * @throws UsageError for a bad name, description, schema or handler.
 */
export function defineTool<A extends Record<string, unknown> = Record<string, unknown>>(definition: ToolDefinition<A>): ToolDefinition<A> {
  return defineToolWith(definition, new SchemaCache());
}

/**
 * defineTool with a given validator: the edge's defineTool checks schemas with the validator its
 * kernel uses (no code generation).
 *
 * @example export const defineEdgeTool = (d: ToolDefinition) => defineToolWith(d, new SchemaCache(cfworkerCompiler()));
 * @throws UsageError for a bad name, description, schema or handler.
 */
export function defineToolWith<A extends Record<string, unknown> = Record<string, unknown>>(definition: ToolDefinition<A>, schemas: SchemaCache): ToolDefinition<A> {
  checkDefinition(definition, "defineTool", schemas);
  return Object.freeze({ ...definition, input: structuredClone(definition.input) });
}

function checkDefinition(d: unknown, where: string, schemas: SchemaCache): asserts d is ToolDefinition {
  if (typeof d !== "object" || d === null) throw new UsageError(`${where}: expected a tool { name, description, input, run }`);
  const { name, description, input, run } = d as Record<string, unknown>;
  if (typeof name !== "string" || !HOST_TOOL_NAME.test(name)) {
    throw new UsageError(`${where}: a tool name is 1 to 64 letters, digits, _ . - (no /), got ${JSON.stringify(name) ?? String(name)}`);
  }
  if (typeof description !== "string") throw new UsageError(`${where}: tool ${JSON.stringify(name)}: description must be a string`);
  if (typeof run !== "function") throw new UsageError(`${where}: tool ${JSON.stringify(name)}: run must be a function (args, context) => result`);
  const compiled = schemas.compile(input);
  if (typeof compiled === "string") throw new UsageError(`${where}: tool ${JSON.stringify(name)}: ${compiled}`);
}

/**
 * The provider of the host's tools (name ""). Checks every definition again (a definition need
 * not come from defineTool), with `compiler` (default: ajv), and refuses duplicate names.
 *
 * @throws UsageError naming the bad or duplicate tool.
 */
export function hostToolProvider(definitions: readonly ToolDefinition[], compiler?: SchemaCompiler): ToolProvider {
  if (!Array.isArray(definitions)) throw new UsageError("tools: expected a list of tools made with defineTool");
  const schemas = new SchemaCache(compiler);
  const byName = new Map<string, ToolDefinition>();
  definitions.forEach((d, i) => {
    checkDefinition(d, `tools[${i}]`, schemas);
    if (byName.has(d.name)) throw new UsageError(`tools[${i}]: a tool named ${JSON.stringify(d.name)} is already defined`);
    byName.set(d.name, d);
  });
  const infos: ToolInfo[] = [...byName.values()].map((d) => ({ name: d.name, description: d.description, inputSchema: structuredClone(d.input) }));
  return {
    name: "",
    list: async () => infos.map((t) => structuredClone(t)),
    call: async (tool, args, context) => {
      const d = byName.get(tool);
      if (!d) throw new GuestError({ tag: "invalid", val: `no tool named ${JSON.stringify(tool)}` });
      let result: unknown;
      try {
        result = await d.run(structuredClone(args) as Record<string, unknown>, context);
      } catch (error) {
        if (error instanceof GuestError) throw error;
        throw new GuestError({ tag: "io", val: `tool ${JSON.stringify(tool)} failed` });
      }
      return plainJson(tool, result);
    },
    close: async () => undefined,
  };
}

/** The result as plain JSON data (a class instance by its JSON form; undefined as null). */
function plainJson(tool: string, result: unknown): JsonValue {
  if (result === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(result)) as JsonValue;
  } catch {
    throw new GuestError({ tag: "io", val: `tool ${JSON.stringify(tool)} returned something that is not JSON` });
  }
}

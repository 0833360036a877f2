/**
 * What a client sends to an agent served as an MCP tool. An agent may export `inputSchema` (a
 * JSON Schema of type "object"); the default is `{ task: string }`, whose `task` is the run's
 * task. Under any other schema the task is the JSON text of the arguments, which the agent
 * parses itself. Arguments are checked against the schema before a run starts.
 */
import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { Ajv, type ValidateFunction } from "ajv";
import { UsageError } from "../errors.js";
import type { Agent } from "../kernel/kernel.js";
import type { SchemaReply, SchemaWorkerData } from "./schema-worker.js";

/** A JSON Schema as MCP lists it: an object schema. */
export type InputSchema = { type: "object"; properties?: Record<string, object>; required?: string[] } & Record<string, unknown>;

/** The schema of an agent that exports none: `{ task: string }`. */
export const DEFAULT_INPUT_SCHEMA: InputSchema = Object.freeze({
  type: "object",
  properties: { task: { type: "string", description: "the task given to the agent's run(task)" } },
  required: ["task"],
}) as InputSchema;

const SDK_SOURCE_URL = new URL("../../guest-sdk/index.js", import.meta.url);
const WORKER_URL = new URL("./schema-worker.js", import.meta.url);
/** How long (and how much memory) reading one agent's inputSchema may take. */
const SCHEMA_DEADLINE_MS = 2_000;
const SCHEMA_MEMORY = 32 * 1024 * 1024;

/**
 * The agent's `inputSchema` export, read by evaluating its module in an isolate with no host
 * (see schema-worker.ts), or the default schema. A registered function and a WebAssembly
 * component cannot export one (the component world exports only `run`): they get the default.
 *
 * @example const schema = await readInputSchema(await kernel.load("examples/summarize/agent.js"), "summarize");
 * @throws UsageError when the export is not a JSON object schema, or the module fails to evaluate.
 */
export async function readInputSchema(agent: Agent, tool: string): Promise<InputSchema> {
  if (agent.engine !== "quickjs" || agent.kind !== "module" || !/\binputSchema\b/.test(agent.source)) return DEFAULT_INPUT_SCHEMA;
  const reply = await evaluateExport(agent.source);
  if ("error" in reply) throw new UsageError(`mcp: agent ${tool}: cannot read its inputSchema export: ${reply.error}`);
  if (reply.schema === null) return DEFAULT_INPUT_SCHEMA;
  const schema: unknown = JSON.parse(reply.schema);
  if (typeof schema !== "object" || schema === null || Array.isArray(schema) || (schema as { type?: unknown }).type !== "object") {
    throw new UsageError(`mcp: agent ${tool}: its inputSchema must be a JSON Schema with type "object"`);
  }
  return schema as InputSchema;
}

function evaluateExport(source: string): Promise<SchemaReply> {
  const data: SchemaWorkerData = { source, sdkSource: readFileSync(SDK_SOURCE_URL, "utf8"), memory: SCHEMA_MEMORY, deadlineMs: SCHEMA_DEADLINE_MS };
  const worker = new Worker(WORKER_URL, { workerData: data, resourceLimits: { stackSizeMb: 4, maxOldGenerationSizeMb: 128 } });
  return new Promise<SchemaReply>((resolve) => {
    const done = (reply: SchemaReply) => {
      clearTimeout(timer);
      resolve(reply);
    };
    // The isolate's own deadline stops a busy module; this one stops one that waits forever.
    const timer = setTimeout(() => done({ error: `its module did not finish loading within ${SCHEMA_DEADLINE_MS * 2} ms` }), SCHEMA_DEADLINE_MS * 2);
    worker.once("message", done);
    worker.once("error", (error) => done({ error: error.message }));
    worker.once("exit", () => done({ error: "the reader stopped" }));
  }).finally(() => void worker.terminate());
}

/** A tool's schema and how it turns arguments into a task. */
export interface ToolInput {
  schema: InputSchema;
  /** The task for these arguments, or `{ invalid }` naming what is wrong and where. */
  taskFrom(args: Record<string, unknown> | undefined): { task: string } | { invalid: string };
}

/**
 * Compiles a tool's input: the default schema takes `task`; any other schema takes the JSON
 * text of the arguments. Arguments that break the schema are `invalid`, naming the JSON path.
 *
 * @throws UsageError when the agent's schema does not compile.
 */
export function toolInput(schema: InputSchema, tool: string): ToolInput {
  let validate: ValidateFunction;
  try {
    validate = new Ajv({ strict: false, allErrors: false }).compile(schema);
  } catch (error) {
    throw new UsageError(`mcp: agent ${tool}: its inputSchema does not compile: ${(error as Error).message}`);
  }
  const isDefault = schema === DEFAULT_INPUT_SCHEMA;
  return {
    schema,
    taskFrom(args) {
      const value = args ?? {};
      if (!validate(value)) {
        const [first] = validate.errors ?? [];
        return { invalid: `invalid arguments: ${first ? `${first.instancePath || "/"} ${first.message ?? "is invalid"}` : "they do not match the schema"}` };
      }
      return { task: isDefault ? String(value.task) : JSON.stringify(value) };
    },
  };
}

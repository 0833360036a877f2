/**
 * Tool arguments against a tool's JSON Schema. The schema is compiled once per kernel (by its
 * canonical JSON) and checked before the policy sees a call: a mismatch is `invalid`, naming the
 * JSON path of the first problem (`/repo: must be string`). The validator is a seam: Node's
 * kernel uses ajv (schema-ajv.ts), which generates code; an edge host, where code generation is
 * refused, interprets schemas with @cfworker/json-schema (schema-cfworker.ts). The checks that
 * keep an untrusted schema from stalling the kernel are here, the same for both.
 */
import { canonicalJson, type JsonValue } from "../episodic/encoding.js";
import { regexProblem } from "../policy/regex-safety.js";
import { ajvCompiler } from "./schema-ajv.js";
import type { JsonSchema } from "./types.js";

/** Checks arguments: undefined when they fit, else the first problem with its JSON path. */
export type ArgsCheck = (args: JsonValue) => string | undefined;

/**
 * Turns one schema (already known to be an object schema with safe patterns) into its check.
 * Throws an Error saying why when the schema cannot be one (invalid, or a `$ref` to anything
 * outside it). A check reports `PATH: message`, PATH a JSON pointer (`/` for the whole object).
 */
export type SchemaCompiler = (schema: JsonSchema) => ArgsCheck;

/**
 * Schemas compiled once each. Unknown keywords and formats are ignored (MCP servers write many),
 * never fetched: a `$ref` to anything outside the schema fails to compile. A schema comes from a
 * provider the kernel may not trust, and the agent chooses the arguments it is run on: a
 * `pattern` (or `patternProperties` key) that could backtrack for ever is refused, like a
 * policy's, so that the two together cannot stall the kernel's thread.
 */
export class SchemaCache {
  readonly #compiler: SchemaCompiler;
  readonly #compiled = new Map<string, ArgsCheck>();

  /** @param compiler the validator (default: ajv, which needs code generation; see cfworkerCompiler for edge hosts). */
  constructor(compiler: SchemaCompiler = ajvCompiler()) {
    this.#compiler = compiler;
  }

  /**
   * The check for `schema`, or a string saying why it cannot be one (not an object schema, an
   * unsafe pattern, or the validator refuses it).
   *
   * @example new SchemaCache().compile({ type: "object", properties: { q: { type: "string" } } })
   */
  compile(schema: unknown): ArgsCheck | string {
    const problem = objectSchemaProblem(schema);
    if (problem) return problem;
    const unsafe = unsafePattern(schema as JsonValue, 0);
    if (unsafe) return unsafe;
    const key = canonicalJson(schema as JsonValue);
    const known = this.#compiled.get(key);
    if (known) return known;
    let check: ArgsCheck;
    try {
      check = this.#compiler(schema as JsonSchema);
    } catch (error) {
      return `the input schema does not compile: ${error instanceof Error ? error.message : String(error)}`;
    }
    this.#compiled.set(key, check);
    return check;
  }
}

/** Why `schema` is not a JSON Schema of an object, or undefined. */
export function objectSchemaProblem(schema: unknown): string | undefined {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) return "the input schema must be a JSON Schema object";
  if ((schema as JsonSchema).type !== "object") return 'the input schema must describe an object (type: "object")';
  return undefined;
}

/** The first `pattern` or `patternProperties` key in a schema that is not a safe regular expression. */
function unsafePattern(node: JsonValue, depth: number): string | undefined {
  if (depth > 64) return "the input schema is nested too deeply";
  if (Array.isArray(node)) {
    for (const item of node) {
      const found = unsafePattern(item, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof node !== "object" || node === null) return undefined;
  const sources: string[] = [];
  if (typeof node.pattern === "string") sources.push(node.pattern);
  const props = node.patternProperties;
  if (typeof props === "object" && props !== null && !Array.isArray(props)) sources.push(...Object.keys(props));
  for (const source of sources) {
    let problem: string | undefined;
    try {
      new RegExp(source, "iu");
      problem = regexProblem(source);
    } catch (e) {
      problem = `invalid regular expression: ${(e as Error).message}`;
    }
    if (problem) return `the input schema's pattern ${JSON.stringify(source)} is refused: ${problem}`;
  }
  for (const value of Object.values(node)) {
    const found = unsafePattern(value, depth + 1);
    if (found) return found;
  }
  return undefined;
}

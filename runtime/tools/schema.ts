/**
 * Tool arguments against a tool's JSON Schema, with ajv. The schema is compiled once per kernel
 * (by its canonical JSON) and checked before the policy sees a call: a mismatch is `invalid`,
 * naming the JSON path of the first problem (`/repo: must be string`).
 */
import { Ajv, type ValidateFunction } from "ajv";
import { canonicalJson, type JsonValue } from "../episodic/encoding.js";
import type { JsonSchema } from "./types.js";

/** Checks arguments: undefined when they fit, else the first problem with its JSON path. */
export type ArgsCheck = (args: JsonValue) => string | undefined;

/**
 * Schemas compiled once each. Unknown keywords and formats are ignored (MCP servers write many),
 * never fetched: a `$ref` to anything outside the schema fails to compile.
 */
export class SchemaCache {
  readonly #ajv = new Ajv({ strict: false, allErrors: false, validateFormats: false, loadSchema: undefined });
  readonly #compiled = new Map<string, ArgsCheck>();

  /**
   * The check for `schema`, or a string saying why it cannot be one (not an object schema, or
   * ajv refuses it).
   *
   * @example new SchemaCache().compile({ type: "object", properties: { q: { type: "string" } } })
   */
  compile(schema: unknown): ArgsCheck | string {
    const problem = objectSchemaProblem(schema);
    if (problem) return problem;
    const key = canonicalJson(schema as JsonValue);
    const known = this.#compiled.get(key);
    if (known) return known;
    let validate: ValidateFunction;
    try {
      validate = this.#ajv.compile(schema as object);
    } catch (error) {
      return `the input schema does not compile: ${error instanceof Error ? error.message : String(error)}`;
    }
    const check: ArgsCheck = (args) => {
      if (validate(args)) return undefined;
      const first = validate.errors?.[0];
      if (!first) return "/: does not match the schema";
      return `${first.instancePath || "/"}: ${first.message ?? "does not match the schema"}`;
    };
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

/**
 * The edge's argument validator: @cfworker/json-schema interprets a schema (no code generation,
 * which workerd refuses). It is made to refuse and accept what Node's ajv does where it can:
 *
 * - a schema is checked against the draft-07 meta-schema first (as ajv does), and its `$schema`,
 *   when given, must be draft-07 (ajv's only one);
 * - a `$ref` must resolve within the schema (against a fixed base, never the page's address);
 * - formats are not checked (ajv is told not to);
 * - arguments are checked with draft 2019-09 semantics, which apply a `$ref`'s sibling keywords
 *   as ajv does (cfworker's draft 7 would skip them); the 2019-09 keywords that ajv's draft-07
 *   ignores (`unevaluatedProperties`, `dependentRequired`, ...) are enforced here.
 *
 * Problems read `PATH: message` like ajv's, PATH a JSON pointer, with cfworker's wording.
 */
import { dereference, validate, type OutputUnit, type Schema } from "@cfworker/json-schema";
import type { JsonValue } from "../episodic/encoding.js";
import { draft07MetaSchema } from "./schema-draft07.js";
import type { ArgsCheck, SchemaCompiler } from "./schema.js";
import type { JsonSchema } from "./types.js";

/** Where relative `$id`s and `$ref`s resolve: no host's address, so nothing outside a schema matches. */
const BASE = "https://schema.agent-os.invalid/tool";
/** The `$schema` values ajv (draft-07) knows. */
const DRAFT_07 = ["http://json-schema.org/draft-07/schema", "http://json-schema.org/draft-07/schema#"];
/** At most this many characters of one of cfworker's messages. */
const MAX_MESSAGE = 300;
/** Keywords whose values are data, not schemas. */
const DATA = new Set(["enum", "const", "default", "examples"]);
/** Keywords whose values map names to schemas. */
const MAPS = new Set(["properties", "patternProperties", "definitions", "$defs", "dependencies", "dependentSchemas"]);

/**
 * A compiler that interprets schemas with @cfworker/json-schema.
 *
 * @example const check = cfworkerCompiler()({ type: "object", required: ["q"] }); check({}) // '/: Instance does not have required property "q".'
 */
export function cfworkerCompiler(): SchemaCompiler {
  let meta: { schema: Schema; lookup: Record<string, Schema | boolean> } | undefined;
  return (schema) => {
    const draft = (schema as { $schema?: unknown }).$schema;
    if (draft !== undefined && typeof draft !== "string") throw new Error("$schema must be a string");
    if (draft !== undefined && !DRAFT_07.includes(draft)) throw new Error(`no schema with key or ref ${JSON.stringify(draft)}`);
    if (!meta) {
      const metaSchema = draft07MetaSchema() as Schema;
      meta = { schema: metaSchema, lookup: dereference(metaSchema) };
    }
    const invalid = firstProblem(validate(schema, meta.schema, "7", meta.lookup, true).errors);
    if (invalid !== undefined) throw new Error(`schema is invalid: ${invalid}`);
    const own = structuredClone(schema) as Schema;
    withoutFormats(own);
    const lookup = dereference(own, Object.create(null) as Record<string, Schema | boolean>, new URL(BASE));
    const unresolved = unresolvedRef(own, lookup);
    if (unresolved !== undefined) throw new Error(`can't resolve reference ${unresolved}`);
    const check: ArgsCheck = (args: JsonValue) => {
      try {
        const result = validate(args, own, "2019-09", lookup, true);
        return result.valid ? undefined : (firstProblem(result.errors) ?? "/: does not match the schema");
      } catch (error) {
        // (fail closed: arguments that could not be checked are not passed on)
        return `/: the arguments could not be checked (${error instanceof Error ? error.message : String(error)})`;
      }
    };
    return check;
  };
}

/**
 * The first problem, as `PATH: message`: cfworker lists a failing keyword before the problems
 * inside it (a property's, an item's, a branch's), so the first chain is followed down to its
 * innermost problem, which is the one ajv reports first.
 */
function firstProblem(errors: readonly OutputUnit[]): string | undefined {
  let i = 0;
  if (errors.length === 0) return undefined;
  while (i + 1 < errors.length && errors[i + 1].keywordLocation.startsWith(`${errors[i].keywordLocation}/`)) i++;
  const message = errors[i].error;
  // (cfworker quotes the schema's enum or const, which may be long)
  return `${jsonPointer(errors[i].instanceLocation)}: ${message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}...` : message}`;
}

/** cfworker's `#/a%20b/0` (a URI fragment) as ajv's instance path `/a b/0` (a JSON pointer; `/` for the root). */
function jsonPointer(location: string): string {
  const tokens = location.replace(/^#/, "").split("/").slice(1);
  if (tokens.length === 0) return "/";
  return tokens
    .map((token) => {
      try {
        return `/${decodeURIComponent(token)}`;
      } catch {
        return `/${token}`;
      }
    })
    .join("");
}

/** Removes every `format` keyword of a schema, in place (not its data: enum, const, default). */
function withoutFormats(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) withoutFormats(item);
    return;
  }
  if (typeof node !== "object" || node === null) return;
  const schema = node as JsonSchema;
  if (typeof schema.format === "string") delete schema.format;
  for (const [key, value] of Object.entries(schema)) {
    if (DATA.has(key)) continue;
    if (MAPS.has(key) && typeof value === "object" && value !== null && !Array.isArray(value)) {
      for (const sub of Object.values(value)) withoutFormats(sub);
    } else withoutFormats(value);
  }
}

/** The first `$ref` (resolved against its base) that names no part of the schema. */
function unresolvedRef(node: unknown, lookup: Record<string, Schema | boolean>): string | undefined {
  if (typeof node !== "object" || node === null) return undefined;
  // (dereference marks each schema holding a $ref with the absolute address it resolved to)
  const target = (node as { __absolute_ref__?: unknown }).__absolute_ref__;
  if (typeof target === "string" && lookup[target] === undefined) return String((node as { $ref?: unknown }).$ref);
  for (const value of Object.values(node)) {
    const found = unresolvedRef(value, lookup);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * The JSON Schema draft-07 meta-schema, as ajv checks every schema against it before compiling
 * (ajv/dist/refs/json-schema-draft-07.json), less its `format`s, titles and defaults: formats are
 * not checked here, as ajv is told not to. The edge's validator checks tool schemas against it,
 * so that a malformed schema is refused on both hosts.
 */
import type { JsonSchema } from "./types.js";

/** A fresh copy each time (the validator marks the objects it is given). */
export function draft07MetaSchema(): JsonSchema {
  // (a new object at every place: the validator records each object's place on it)
  const ref = (to: string): JsonSchema => ({ $ref: `#${to}` });
  const schema = () => ref("");
  const nonNegative = () => ref("/definitions/nonNegativeInteger");
  const nonNegative0 = () => ref("/definitions/nonNegativeIntegerDefault0");
  const schemaArray = () => ref("/definitions/schemaArray");
  const stringArray = () => ref("/definitions/stringArray");
  const simpleTypes = () => ref("/definitions/simpleTypes");
  const schemaMap = (): JsonSchema => ({ type: "object", additionalProperties: schema() });
  return {
    $id: "http://json-schema.org/draft-07/schema#",
    definitions: {
      schemaArray: { type: "array", minItems: 1, items: schema() },
      nonNegativeInteger: { type: "integer", minimum: 0 },
      nonNegativeIntegerDefault0: { allOf: [nonNegative()] },
      simpleTypes: { enum: ["array", "boolean", "integer", "null", "number", "object", "string"] },
      stringArray: { type: "array", items: { type: "string" }, uniqueItems: true },
    },
    type: ["object", "boolean"],
    properties: {
      $id: { type: "string" },
      $schema: { type: "string" },
      $ref: { type: "string" },
      $comment: { type: "string" },
      title: { type: "string" },
      description: { type: "string" },
      readOnly: { type: "boolean" },
      examples: { type: "array" },
      multipleOf: { type: "number", exclusiveMinimum: 0 },
      maximum: { type: "number" },
      exclusiveMaximum: { type: "number" },
      minimum: { type: "number" },
      exclusiveMinimum: { type: "number" },
      maxLength: nonNegative(),
      minLength: nonNegative0(),
      pattern: { type: "string" },
      additionalItems: schema(),
      items: { anyOf: [schema(), schemaArray()] },
      maxItems: nonNegative(),
      minItems: nonNegative0(),
      uniqueItems: { type: "boolean" },
      contains: schema(),
      maxProperties: nonNegative(),
      minProperties: nonNegative0(),
      required: stringArray(),
      additionalProperties: schema(),
      definitions: schemaMap(),
      properties: schemaMap(),
      patternProperties: schemaMap(),
      dependencies: { type: "object", additionalProperties: { anyOf: [schema(), stringArray()] } },
      propertyNames: schema(),
      enum: { type: "array", minItems: 1, uniqueItems: true },
      type: { anyOf: [simpleTypes(), { type: "array", items: simpleTypes(), minItems: 1, uniqueItems: true }] },
      format: { type: "string" },
      contentMediaType: { type: "string" },
      contentEncoding: { type: "string" },
      if: schema(),
      then: schema(),
      else: schema(),
      allOf: schemaArray(),
      anyOf: schemaArray(),
      oneOf: schemaArray(),
      not: schema(),
    },
  };
}

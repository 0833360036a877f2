/**
 * A small JSON Schema (draft-07) checker, enough for policies/policy.schema.json: type,
 * properties, additionalProperties, required, enum, const, pattern, min/max, items, oneOf,
 * anyOf and local $ref. Used to check that the published schema and the loader agree.
 */
type Schema = Record<string, unknown>;

function typeOk(type: string, v: unknown): boolean {
  switch (type) {
    case "object":
      return typeof v === "object" && v !== null && !Array.isArray(v);
    case "array":
      return Array.isArray(v);
    case "string":
      return typeof v === "string";
    case "integer":
      return Number.isInteger(v);
    case "number":
      return typeof v === "number";
    case "boolean":
      return typeof v === "boolean";
    default:
      throw new Error(`schema type ${type} not supported by this checker`);
  }
}

/** Every violation of `schema` by `value`, as "path: what". */
export function schemaErrors(root: Schema, value: unknown): string[] {
  const run = (schema: Schema, v: unknown, path: string): string[] => {
    const errors: string[] = [];
    visit(schema, v, path, errors);
    return errors;
  };
  const visit = (schema: Schema, v: unknown, path: string, errors: string[]): void => {
    const known = new Set(["$schema", "$id", "title", "description", "definitions", "type", "properties", "additionalProperties", "required", "enum", "const", "pattern", "minLength", "maxLength", "minimum", "maximum", "items", "minItems", "oneOf", "anyOf", "$ref"]);
    for (const key of Object.keys(schema)) if (!known.has(key)) throw new Error(`schema keyword ${key} not supported by this checker`);
    if (typeof schema.$ref === "string") {
      const name = schema.$ref.replace("#/definitions/", "");
      const target = (root.definitions as Record<string, Schema>)[name];
      if (!target) throw new Error(`unresolved $ref ${schema.$ref}`);
      visit(target, v, path, errors);
    }
    if (typeof schema.type === "string" && !typeOk(schema.type, v)) {
      errors.push(`${path}: expected ${schema.type}`);
      return;
    }
    if (Array.isArray(schema.enum) && !schema.enum.includes(v)) errors.push(`${path}: not in enum`);
    if ("const" in schema && schema.const !== v) errors.push(`${path}: expected const ${String(schema.const)}`);
    if (typeof v === "string") {
      if (typeof schema.pattern === "string" && !new RegExp(schema.pattern).test(v)) errors.push(`${path}: does not match ${schema.pattern}`);
      if (typeof schema.minLength === "number" && v.length < schema.minLength) errors.push(`${path}: too short`);
      if (typeof schema.maxLength === "number" && v.length > schema.maxLength) errors.push(`${path}: too long`);
    }
    if (typeof v === "number") {
      if (typeof schema.minimum === "number" && v < schema.minimum) errors.push(`${path}: below minimum`);
      if (typeof schema.maximum === "number" && v > schema.maximum) errors.push(`${path}: above maximum`);
    }
    if (Array.isArray(v)) {
      if (typeof schema.minItems === "number" && v.length < schema.minItems) errors.push(`${path}: too few items`);
      if (schema.items) v.forEach((item, i) => visit(schema.items as Schema, item, `${path}[${i}]`, errors));
    }
    if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      const obj = v as Record<string, unknown>;
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      for (const req of (schema.required as string[] | undefined) ?? []) if (!(req in obj)) errors.push(`${path}: missing ${req}`);
      for (const [k, val] of Object.entries(obj)) {
        if (props[k]) visit(props[k], val, `${path}.${k}`, errors);
        else if (schema.additionalProperties === false) errors.push(`${path}: unknown property ${k}`);
      }
    }
    for (const [keyword, need] of [["oneOf", 1], ["anyOf", 0]] as const) {
      const options = schema[keyword] as Schema[] | undefined;
      if (!options) continue;
      const passing = options.filter((s) => run(s, v, path).length === 0).length;
      if (keyword === "oneOf" ? passing !== need : passing === 0) errors.push(`${path}: ${keyword} matched ${passing}`);
    }
  };
  return run(root, value, "$");
}

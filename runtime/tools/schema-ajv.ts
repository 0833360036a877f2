/**
 * The Node kernel's argument validator: ajv (draft-07), which compiles each schema into a
 * JavaScript function. Hosts that refuse code generation (workerd) use schema-cfworker.ts.
 */
import { Ajv } from "ajv";
import type { ArgsCheck, SchemaCompiler } from "./schema.js";

/**
 * A compiler backed by one ajv instance, made at the first compile (never at import). Unknown
 * keywords and formats are ignored; a `$ref` it cannot resolve within the schema throws.
 *
 * @example const check = ajvCompiler()({ type: "object", required: ["q"] }); check({}) // "/: must have required property 'q'"
 */
export function ajvCompiler(): SchemaCompiler {
  let ajv: Ajv | undefined;
  return (schema) => {
    ajv ??= new Ajv({ strict: false, allErrors: false, validateFormats: false });
    const validate = ajv.compile(schema);
    const check: ArgsCheck = (args) => {
      if (validate(args)) return undefined;
      const first = validate.errors?.[0];
      if (!first) return "/: does not match the schema";
      return `${first.instancePath || "/"}: ${first.message ?? "does not match the schema"}`;
    };
    return check;
  };
}

/** Where the built-in profiles live on Node, and their names. */
import { fileURLToPath } from "node:url";
import { join } from "node:path";

export { BUILTIN_POLICIES, EXTENDABLE_BUILTINS } from "../../../policy/builtin-names.js";

/** The policies/ directory of the package (dist/runtime/policy/x.js -> ../../../policies/). */
export function policiesDir(): string {
  return fileURLToPath(new URL("../../../../../policies/", import.meta.url));
}

/** The file of a built-in policy. */
export function builtinPath(name: string): string {
  return join(policiesDir(), `${name}.yaml`);
}

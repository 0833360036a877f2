/** Where the built-in profiles live, and their names. */
import { fileURLToPath } from "node:url";
import { join } from "node:path";

/** The built-in profiles, loadable by name with resolvePolicy and extendable with `extends`. */
export const BUILTIN_POLICIES: readonly string[] = Object.freeze(["strict", "standard", "readonly", "permissive", "audit"]);

/** Names `extends` accepts: the profiles and `base` (the calls every agent needs to function). */
export const EXTENDABLE_BUILTINS: readonly string[] = Object.freeze(["base", ...BUILTIN_POLICIES]);

/** The policies/ directory of the package (dist/runtime/policy/x.js -> ../../../policies/). */
export function policiesDir(): string {
  return fileURLToPath(new URL("../../../policies/", import.meta.url));
}

/** The file of a built-in policy. */
export function builtinPath(name: string): string {
  return join(policiesDir(), `${name}.yaml`);
}

/** resolvePolicy: a built-in name, a path, YAML text, an object or an already loaded Policy. */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { PolicyError } from "../../../errors.js";
import type { Policy } from "../../../types.js";
import { BUILTIN_POLICIES, EXTENDABLE_BUILTINS, builtinPath } from "./builtins.js";
import { loadPolicy, loadPolicyFile, type LoadOptions } from "../../../policy/load.js";
import type { LoadedPolicy } from "../../../policy/loaded.js";
import { looksLikePath } from "./source.js";
import { didYouMean } from "../../../policy/suggest.js";

function isPolicy(value: unknown): value is Policy {
  return typeof value === "object" && value !== null && typeof (value as Policy).decide === "function";
}

/**
 * The policy a kernel option or command-line argument names.
 *
 * - a built-in name ("strict", "standard", "readonly", "permissive", "audit", also "base") loads policies/<name>.yaml;
 * - an existing file, or a string ending in .yaml/.yml/.json, loads that file;
 * - YAML text (several lines) and plain objects are loaded as with loadPolicy;
 * - an object with a `decide` method is taken to be a Policy already and passes through.
 *
 * @example resolvePolicy("strict").name === "strict"
 * @throws PolicyError for a policy that does not load, or an unknown name (listing the built-in names).
 */
export function resolvePolicy<P extends Policy>(spec: P, options?: LoadOptions): P;
export function resolvePolicy(spec: string | object, options?: LoadOptions): LoadedPolicy;
export function resolvePolicy(spec: string | Policy | object, options?: LoadOptions): LoadedPolicy | Policy;
export function resolvePolicy(spec: string | Policy | object, options: LoadOptions = {}): LoadedPolicy | Policy {
  if (isPolicy(spec)) return spec;
  if (typeof spec !== "string") return loadPolicy(spec, options);
  if (EXTENDABLE_BUILTINS.includes(spec)) return loadPolicyFile(builtinPath(spec), { ...options, file: options.file ?? builtinPath(spec) });
  if (spec.includes("\n") || looksLikePath(spec)) return loadPolicy(spec, options);
  if (existsSync(resolve(options.baseDir ?? process.cwd(), spec))) return loadPolicyFile(spec, options);
  throw new PolicyError([
    {
      message: `unknown policy "${spec}"${didYouMean(spec, BUILTIN_POLICIES)}: it is neither a built-in policy nor an existing file; built-in policies are: ${BUILTIN_POLICIES.join(", ")}`,
    },
  ]);
}

/**
 * The policy the editor starts from: a file (which Save writes), a built-in profile (read
 * only), or a policy given as an object (read only, shown as YAML).
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { stringify } from "yaml";
import { BUILTIN_POLICIES, builtinPath } from "../hosts/node/policy/builtins.js";
import type { Policy } from "../types.js";
import type { PolicySource } from "./types.js";

/**
 * The editor's policy for what a kernel was given (`KernelOptions.policy`) or what
 * `--policy` names. Default: the built-in "strict", as the kernel's.
 *
 * @example policySourceOf("./agent-policy.yaml") // { text: "...", file: "/abs/agent-policy.yaml", name: "agent-policy.yaml" }
 */
export function policySourceOf(spec: string | Policy | Record<string, unknown> | undefined, name?: string): PolicySource {
  if (spec === undefined) return builtin("strict");
  // (a built-in's name is its own; `name`, the loaded policy's, names the others)
  if (typeof spec === "string") {
    if (BUILTIN_POLICIES.includes(spec)) return builtin(spec);
    if (spec.includes("\n")) return { text: spec, name: name ?? "<inline>", readOnly: "the policy was given as text, not a file" };
    const file = resolve(spec);
    if (!existsSync(file)) return { text: "", file, name: name ?? spec };
    return { text: readFileSync(file, "utf8"), file, name: name ?? spec };
  }
  if (typeof (spec as Policy).decide === "function") {
    return { text: "", name: (spec as Policy).name, readOnly: "the kernel was given a compiled policy: there is no text to edit" };
  }
  return { text: stringify(spec), name: name ?? String((spec as Record<string, unknown>).name ?? "<object>"), readOnly: "the policy was given as an object, not a file" };
}

function builtin(name: string): PolicySource {
  return { text: readFileSync(builtinPath(name), "utf8"), name, readOnly: `"${name}" is a built-in policy: copy it into a file to change it` };
}

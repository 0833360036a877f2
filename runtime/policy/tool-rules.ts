/**
 * Rules on tool.call: `args` constraints on the tool's arguments and `pin` on the tool's hash.
 *
 * `args: { "/repo": "myorg/*", "/branch": ["main", "dev"], "/title": { pattern: "^fix:" } }`:
 * each key is a JSON Pointer (RFC 6901) into the arguments, each value a glob, a list of globs
 * or a regular expression (checked for safety like SQL `pattern`). A constraint holds when the
 * value there is a string that matches. One that cannot be evaluated (nothing there, or not a
 * string) holds only loosely: a deny rule matches, an allow, audit or verify rule does not.
 *
 * `pin: "sha256:..."`: the tool's hash (`toolHash`) when the policy was written. A call of a
 * tool whose current hash differs is denied by that rule, with both hashes in the reason.
 */
import type { JsonValue } from "../episodic/encoding.js";
import type { Request } from "../types.js";
import { Problems, describe, getRegex, getStringList, isRecord } from "./check.js";
import { compileGlobs, globProblem, type GlobMatcher } from "./glob.js";
import type { FieldPath } from "./parse.js";

/** One argument constraint as written: globs or a pattern. */
export type ArgConstraint = { readonly globs: readonly string[] } | { readonly pattern: string };

/** A compiled constraint: the pointer's path segments and a test on a string. */
export interface CompiledArg {
  readonly pointer: string;
  readonly path: readonly string[];
  readonly test: (value: string) => boolean;
  readonly text: string;
}

const PIN = /^sha256:[0-9a-f]{64}$/;

/** The longest argument string a constraint is tested on; beyond it the constraint cannot be evaluated. */
export const MAX_ARG_SUBJECT = 64 * 1024;

/**
 * Checks a rule's `args:` field.
 * @example validateArgs({ "/repo": "myorg/*" }, ["rules", 0, "args"], problems) // { "/repo": { globs: ["myorg/*"] } }
 */
export function validateArgs(raw: unknown, field: FieldPath, problems: Problems): Record<string, ArgConstraint> | undefined {
  if (!isRecord(raw) || Object.keys(raw).length === 0) {
    problems.add(field, `expected a mapping of JSON Pointers to globs, e.g. { "/repo": "myorg/*" }, got ${describe(raw)}`);
    return undefined;
  }
  const before = problems.list.length;
  const out: Record<string, ArgConstraint> = {};
  for (const [pointer, value] of Object.entries(raw)) {
    const at: FieldPath = [...field, pointer];
    if (pointerPath(pointer) === undefined) {
      problems.add(at, `expected a JSON Pointer such as "/repo" (starting with /, with ~0 and ~1 escapes), got ${JSON.stringify(pointer)}`);
      continue;
    }
    if (isRecord(value)) {
      const keys = Object.keys(value);
      if (keys.length !== 1 || keys[0] !== "pattern") {
        problems.add(at, `expected a glob, a list of globs or { pattern: REGEX }, got a mapping with ${keys.map((k) => JSON.stringify(k)).join(", ") || "nothing"}`);
        continue;
      }
      const pattern = getRegex(value.pattern, [...at, "pattern"], problems);
      if (pattern !== undefined) out[pointer] = { pattern };
      continue;
    }
    const globs = getStringList(value, at, problems, "a glob", globProblem);
    if (globs) out[pointer] = { globs };
  }
  return problems.list.length > before ? undefined : out;
}


/** Checks a rule's `pin:` field. */
export function validatePin(raw: unknown, field: FieldPath, problems: Problems): string | undefined {
  if (typeof raw === "string" && PIN.test(raw)) return raw;
  problems.add(field, `expected a tool hash "sha256:" and 64 lower-case hex digits (agent-os tools list prints them), got ${describe(raw)}`);
  return undefined;
}

/** The segments of a JSON Pointer ("" is the whole value), or undefined when it is not one. */
export function pointerPath(pointer: string): string[] | undefined {
  if (pointer === "") return [];
  if (!pointer.startsWith("/") || /~[^01]|~$/.test(pointer)) return undefined;
  return pointer.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** The value at a pointer's path, or undefined. */
export function valueAt(value: JsonValue | undefined, path: readonly string[]): JsonValue | undefined {
  let here: JsonValue | undefined = value;
  for (const segment of path) {
    if (Array.isArray(here)) {
      if (!/^(0|[1-9][0-9]*)$/.test(segment)) return undefined;
      here = here[Number(segment)];
    } else if (typeof here === "object" && here !== null && Object.hasOwn(here, segment)) {
      here = (here as Record<string, JsonValue>)[segment];
    } else return undefined;
  }
  return here;
}

/** Compiles a rule's constraints once, at load. */
export function compileArgs(args: Readonly<Record<string, ArgConstraint>>): CompiledArg[] {
  return Object.entries(args).map(([pointer, c]) => {
    const path = pointerPath(pointer)!;
    if ("pattern" in c) {
      const re = new RegExp(c.pattern);
      return { pointer, path, test: (v: string) => re.test(v), text: `/${c.pattern}/` };
    }
    const globs: GlobMatcher = compileGlobs(c.globs);
    return { pointer, path, test: (v: string) => globs.test(v), text: c.globs.join(" or ") };
  });
}

/** How one constraint holds: "yes", "no", or "unknown" (cannot be evaluated), with the reason for explain. */
export function argHolds(c: CompiledArg, args: JsonValue | undefined): { holds: "yes" | "no" | "unknown"; why: string } {
  const value = valueAt(args, c.path);
  if (typeof value !== "string") {
    return { holds: "unknown", why: `argument ${c.pointer} is ${value === undefined ? "missing" : `not a string (${Array.isArray(value) ? "a list" : value === null ? "null" : typeof value})`}` };
  }
  if (value.length > MAX_ARG_SUBJECT) return { holds: "unknown", why: `argument ${c.pointer} is longer than ${MAX_ARG_SUBJECT} characters` };
  const ok = c.test(value);
  return { holds: ok ? "yes" : "no", why: `argument ${c.pointer} ${JSON.stringify(value.length > 80 ? value.slice(0, 80) + "…" : value)} ${ok ? "matches" : "does not match"} ${c.text}` };
}

/** The reason a pin refuses a call, or undefined when the tool's hash is the pinned one. */
export function pinBreak(ruleId: string, pin: string, request: Request): string | undefined {
  if (request.toolHash === pin) return undefined;
  const now = typeof request.toolHash === "string" ? request.toolHash : "unknown (the request carries no tool hash)";
  return `tool ${JSON.stringify(request.resource)} is pinned by rule ${ruleId} to ${pin}, but its current hash is ${now}: its description or schema changed`;
}

/** The rule spec fields this file adds, as RuleSpec carries them. */
export interface ToolRuleFields {
  readonly args?: Readonly<Record<string, ArgConstraint>>;
  readonly pin?: string;
}

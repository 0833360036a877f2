/** Small helpers shared by the validators: collecting problems and checking plain values. */
import type { FieldPath } from "./parse.js";
import { regexProblem } from "./regex-safety.js";
import { didYouMean } from "./suggest.js";

export interface RawProblem {
  field: FieldPath;
  message: string;
  /** Point at the key rather than the value (unknown fields). */
  onKey?: boolean;
}

/** Collects problems while a validator walks a policy. */
export class Problems {
  readonly list: RawProblem[] = [];
  add(field: FieldPath, message: string, onKey = false): void {
    this.list.push({ field, message, onKey });
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** "a number (5)", "a list", ... for "expected X, got Y" messages. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)}`;
  return `the ${typeof value} ${String(value)}`;
}

/** Reports every key of `obj` that is not in `allowed`, with a suggestion. */
export function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], field: FieldPath, problems: Problems, what: string): void {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue;
    problems.add([...field, key], `unknown field "${key}" in ${what}${didYouMean(key, allowed)}; expected one of: ${allowed.join(", ")}`, true);
  }
}

/** A non-empty string, or a problem. */
export function getString(value: unknown, field: FieldPath, problems: Problems, expected = "a non-empty string"): string | undefined {
  if (typeof value === "string" && value.length > 0) return value;
  problems.add(field, `expected ${expected}, got ${describe(value)}`);
  return undefined;
}

/**
 * One string or a non-empty list of strings, as a list; each entry is checked by `each`,
 * which returns a problem message or undefined.
 */
export function getStringList(
  value: unknown,
  field: FieldPath,
  problems: Problems,
  what: string,
  each: (entry: string) => string | undefined = () => undefined,
): string[] | undefined {
  const single = typeof value === "string";
  const list = single ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) {
    problems.add(field, `expected ${what} or a non-empty list of them, got ${describe(value)}`);
    return undefined;
  }
  let ok = true;
  list.forEach((entry, i) => {
    const at = single ? field : [...field, i];
    if (typeof entry !== "string" || entry === "") {
      problems.add(at, `expected ${what}, got ${describe(entry)}`);
      ok = false;
      return;
    }
    const problem = each(entry);
    if (problem) {
      problems.add(at, problem);
      ok = false;
    }
  });
  return ok ? (list as string[]) : undefined;
}

/**
 * A regular expression from a policy: a string that compiles (with `flags`) and that
 * regex-safety.ts finds safe; else a problem at `field` and undefined.
 *
 * @example getRegex("^fix:", ["rules", 0, "pattern"], problems) === "^fix:"
 */
export function getRegex(value: unknown, field: FieldPath, problems: Problems, flags = ""): string | undefined {
  const source = getString(value, field, problems, "a regular expression (a string)");
  if (source === undefined) return undefined;
  try {
    new RegExp(source, flags);
  } catch (e) {
    problems.add(field, `invalid regular expression: ${(e as Error).message}`);
    return undefined;
  }
  const unsafe = regexProblem(source);
  if (unsafe) {
    problems.add(field, `unsafe regular expression ${JSON.stringify(source)}: ${unsafe}`);
    return undefined;
  }
  return source;
}

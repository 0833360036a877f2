/**
 * The `secrets:` block of a policy and `KernelOptions.secrets`: secrets are named, never held.
 * Each entry names the host environment variable that holds the value; a key that would hold a
 * value itself (`value:`, `token:`, ...) or anything else outside the five fields is an error
 * naming the secret.
 */
import { UsageError } from "../errors.js";
import type { SecretSpec } from "../types.js";
import { Problems, checkKeys, describe, isRecord } from "./check.js";
import type { FieldPath } from "./parse.js";

const SECRET_FIELDS = ["name", "env", "origins", "header", "format"] as const;
const SECRET_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
/** Upper case only: a pasted token (which has lower-case letters) is refused, not taken for a name. */
const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Keys that would put a value into the policy itself. */
const VALUE_KEY = /^(value|val|token|secret|key|api[-_]?key|password|passwd|pass|credentials?|bearer)$/i;
/** Headers the kernel or the connection owns (the kernel sets accept-encoding on a hop with a secret). */
const RESERVED_HEADERS = new Set(["host", "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length", "expect", "accept-encoding"]);

/** The format when none is given: the header's value is the secret's value. */
export const DEFAULT_SECRET_FORMAT = "{value}";

/**
 * A secret's origin as `scheme://host[:port]` (the form `URL.origin` gives), or why it is not one.
 *
 * @example parseOrigin("https://API.github.com:443/") // { origin: "https://api.github.com" }
 */
export function parseOrigin(text: string): { origin: string } | { problem: string } {
  const expected = "an origin: http or https, a host and an optional port, e.g. https://api.github.com";
  if (!/^https?:\/\/[^/?#]/i.test(text)) return { problem: `expected ${expected}, got ${describe(text)}` };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: `expected ${expected}, got ${describe(text)} (not a URL)` };
  }
  const rest = text.replace(/^https?:\/\/[^/?#]*/i, "");
  if (url.username !== "" || url.password !== "") return { problem: `an origin has no user info: ${describe(text)}` };
  if (rest !== "" && rest !== "/") return { problem: `an origin has no path, query or fragment: ${describe(text)} (write ${url.origin})` };
  if (url.hostname.includes("*")) return { problem: `an origin has no wildcard: list each origin (${describe(text)})` };
  return { origin: url.origin };
}

/**
 * Checks a `secrets:` list. Problems are added at their field, each message naming the secret.
 *
 * @example validateSecrets([{ name: "gh", env: "GH_TOKEN", origins: ["https://api.github.com"], header: "Authorization", format: "Bearer {value}" }], ["secrets"], problems)
 */
export function validateSecrets(raw: unknown, field: FieldPath, problems: Problems): SecretSpec[] | undefined {
  if (!Array.isArray(raw)) {
    problems.add(field, `expected a list of secrets ({name, env, origins, header, format?}), got ${describe(raw)}`);
    return undefined;
  }
  const out: SecretSpec[] = [];
  const seen = new Set<string>();
  raw.forEach((entry, i) => {
    const spec = validateSecret(entry, [...field, i], problems);
    if (!spec) return;
    if (seen.has(spec.name)) problems.add([...field, i, "name"], `secret "${spec.name}": the name is used twice in this list`);
    const clash = sameHeader(out, spec);
    if (clash) problems.add([...field, i, "header"], `secret "${spec.name}": secret "${clash.name}" already sets ${spec.header} on ${clash.origin}`);
    seen.add(spec.name);
    out.push(spec);
  });
  return out;
}

function validateSecret(entry: unknown, at: FieldPath, problems: Problems): SecretSpec | undefined {
  if (!isRecord(entry)) {
    problems.add(at, `expected a secret ({name, env, origins, header, format?}) naming the environment variable that holds it, got ${typeof entry === "string" ? "a string" : describe(entry)}; a secret's value never goes in a policy`);
    return undefined;
  }
  const label = typeof entry.name === "string" && entry.name !== "" ? `secret "${entry.name.slice(0, 64)}"` : `secret #${String(at[at.length - 1])}`;
  const before = problems.list.length;
  const say = (key: string, message: string, onKey = false) => problems.add([...at, key], `${label}: ${message}`, onKey);
  for (const key of Object.keys(entry)) {
    if (VALUE_KEY.test(key)) say(key, `"${key}" is not allowed: a secret's value comes from the host's environment only; name the variable with env (e.g. env: GITHUB_TOKEN)`, true);
  }
  const rest = Object.fromEntries(Object.entries(entry).filter(([k]) => !VALUE_KEY.test(k)));
  const unknown = new Problems();
  checkKeys(rest, SECRET_FIELDS, [], unknown, "a secret");
  for (const p of unknown.list) problems.add([...at, ...p.field], `${label}: ${p.message}`, true);

  const name = entry.name;
  if (typeof name !== "string" || !SECRET_NAME.test(name)) say("name", `expected a name (a letter, then letters, digits, _ . -; at most 64), got ${describe(name)}`);
  const env = entry.env;
  if (typeof env !== "string" || !ENV_NAME.test(env)) {
    say("env", `expected the name of an environment variable (upper-case letters, digits, _), e.g. GITHUB_TOKEN, got ${typeof env === "string" ? "a string that is not one" : describe(env)}; a secret's value never goes in a policy, only the variable's name`);
  }
  const origins = validateOrigins(entry.origins, say);
  const header = entry.header;
  if (typeof header !== "string" || !HEADER_NAME.test(header)) say("header", `expected a header name, e.g. Authorization, got ${typeof header === "string" ? "something that is not a header name" : describe(header)}`);
  else if (RESERVED_HEADERS.has(header.toLowerCase()) || header.toLowerCase().startsWith("proxy-")) say("header", `the header ${header} is set by the kernel or the connection, not by a secret`);
  const format = entry.format === undefined ? DEFAULT_SECRET_FORMAT : entry.format;
  if (typeof format !== "string" || format.split("{value}").length !== 2) {
    say("format", `expected a header value with {value} exactly once, e.g. "Bearer {value}", got ${typeof format === "string" ? "a string without it (or with it twice)" : describe(format)}`);
  } else if (/[\r\n\0]/.test(format)) say("format", "a header value has no line break or NUL");
  if (problems.list.length !== before) return undefined;
  return { name: name as string, env: env as string, origins: origins!, header: header as string, format: format as string };
}

function validateOrigins(raw: unknown, say: (key: string, message: string) => void): string[] | undefined {
  const list = typeof raw === "string" ? [raw] : raw;
  if (!Array.isArray(list) || list.length === 0) {
    say("origins", `expected a non-empty list of origins (e.g. ["https://api.github.com"]), got ${describe(raw)}`);
    return undefined;
  }
  const out: string[] = [];
  for (const item of list) {
    if (typeof item !== "string") {
      say("origins", `expected an origin, got ${describe(item)}`);
      return undefined;
    }
    const parsed = parseOrigin(item);
    if ("problem" in parsed) {
      say("origins", parsed.problem);
      return undefined;
    }
    if (!out.includes(parsed.origin)) out.push(parsed.origin);
  }
  return out;
}

/** A secret of `list` that sets the same header as `spec` on one of its origins, if any. */
export function sameHeader(list: readonly SecretSpec[], spec: SecretSpec): { name: string; origin: string } | undefined {
  for (const other of list) {
    if (other.name === spec.name || other.header.toLowerCase() !== spec.header.toLowerCase()) continue;
    const origin = other.origins.find((o) => spec.origins.includes(o));
    if (origin !== undefined) return { name: other.name, origin };
  }
  return undefined;
}

/**
 * Secrets of `over` replace those of `base` with the same name; the others are kept, in order.
 * How `extends` merges (a child over its parents) and how KernelOptions.secrets meet the policy's.
 *
 * @example mergeSecrets([a, b], [b2]) // [a, b2]
 */
export function mergeSecrets(base: readonly SecretSpec[] | undefined, over: readonly SecretSpec[] | undefined): SecretSpec[] {
  const out = [...(base ?? [])];
  for (const spec of over ?? []) {
    const at = out.findIndex((s) => s.name === spec.name);
    if (at === -1) out.push(spec);
    else out[at] = spec;
  }
  return out;
}

/**
 * Secrets merged from several places (a policy's parents, the kernel's options): two that set
 * one header on one origin are refused, since a hop can carry only one.
 *
 * @throws UsageError naming both secrets, the header and the origin.
 */
export function checkMergedSecrets(list: readonly SecretSpec[], where: string): void {
  list.forEach((spec, i) => {
    const clash = sameHeader(list.slice(0, i), spec);
    if (clash) throw new UsageError(`${where}: secrets "${clash.name}" and "${spec.name}" both set ${spec.header} on ${clash.origin}`);
  });
}

/**
 * `KernelOptions.secrets`, checked like a policy's block.
 *
 * @example secretsFromOptions([{ name: "gh", env: "GH_TOKEN", origins: ["https://api.github.com"], header: "Authorization" }])
 * @throws UsageError naming each bad field and the secret.
 */
export function secretsFromOptions(raw: unknown): SecretSpec[] {
  if (raw === undefined) return [];
  const problems = new Problems();
  const specs = validateSecrets(raw, ["secrets"], problems);
  if (problems.list.length || !specs) {
    const where = (f: FieldPath) => f.map((s) => (typeof s === "number" ? `[${s}]` : `.${s}`)).join("").slice(1);
    throw new UsageError(problems.list.map((p) => `${where(p.field)}: ${p.message}`).join("; "));
  }
  return specs;
}

/** Validation of one rule of a policy file into a RuleSpec. */
import { EFFECTS, type Action, type Effect, type VerificationSettings } from "../types.js";
import { ACTION_NAMES, expandAction, resourceKind, type ResourceKind } from "./actions.js";
import { Problems, checkKeys, describe, getRegex, getString, getStringList, isRecord } from "./check.js";
import { globProblem } from "./glob.js";
import { validateArgs, validatePin, type ArgConstraint } from "./tool-rules.js";
import type { FieldPath } from "./parse.js";
import { didYouMean } from "./suggest.js";
import { parseRate, type Rate } from "./units.js";
import { validateVerifyOverrides } from "./verification.js";
import { validateApproves, validateAsk, type AskSettings } from "./ask.js";

export const RULE_FIELDS = [
  "id", "action", "resource", "database", "methods", "pattern", "operations", "tables", "rate", "effect", "reason", "verify", "ask", "approves", "args", "pin",
] as const;

/** Operation names the SQL analyzer reports (SqlFacts.operations). */
export const SQL_OPERATIONS = [
  "select", "insert", "update", "delete", "create", "drop", "alter", "pragma", "attach", "transaction", "other",
] as const;

export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"] as const;

const ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;

/** Where a rule was written. */
export interface RuleOrigin {
  file: string;
  line?: number;
  column?: number;
}

/** One rule as written, checked and normalized (before compilation). */
export interface RuleSpec {
  readonly id: string;
  readonly effect: Effect;
  /** The `action:` entries as written (aliases and globs). */
  readonly action: readonly string[];
  /** The canonical actions they stand for. */
  readonly actions: readonly Action[];
  readonly resource?: readonly string[];
  readonly database?: readonly string[];
  /** Upper case. */
  readonly methods?: readonly string[];
  readonly pattern?: string;
  /** Lower case. */
  readonly operations?: readonly string[];
  readonly tables?: readonly string[];
  readonly rate?: Readonly<Rate> & { readonly text: string };
  readonly reason?: string;
  readonly verify?: Readonly<Partial<VerificationSettings>>;
  /** ask rules only: how long a person has to answer (milliseconds). */
  readonly ask?: Readonly<AskSettings>;
  /** allow rules only: the ids of the ask rules this rule answers in advance (an approval of scope always). */
  readonly approves?: readonly string[];
  /** tool.call only: JSON Pointer -> constraint on the tool's arguments (tool-rules.ts). */
  readonly args?: Readonly<Record<string, ArgConstraint>>;
  /** tool.call only: the tool's hash, `sha256:...`; a tool whose hash differs is denied. */
  readonly pin?: string;
  readonly origin: RuleOrigin;
}

/**
 * Checks one rule. `defaultId` is used when the rule has no `id`.
 * Returns undefined (with problems added) when the rule is not valid.
 */
export function validateRule(raw: unknown, field: FieldPath, defaultId: string, origin: RuleOrigin, problems: Problems): RuleSpec | undefined {
  if (!isRecord(raw)) {
    problems.add(field, `expected a rule (a mapping with action and effect), got ${describe(raw)}`);
    return undefined;
  }
  const before = problems.list.length;
  checkKeys(raw, RULE_FIELDS, field, problems, "a rule");
  const at = (key: string): FieldPath => [...field, key];

  const id = raw.id === undefined ? defaultId : getString(raw.id, at("id"), problems, "a rule id (letters, digits, . _ : / -)");
  if (id !== undefined && raw.id !== undefined && !ID.test(id)) {
    problems.add(at("id"), `expected a rule id made of letters, digits and . _ : / - (starting with a letter or digit), got ${describe(id)}`);
  }

  const effect = validateEffect(raw.effect, at("effect"), problems);

  let actions: Action[] = [];
  let action: string[] | undefined;
  if (raw.action === undefined) problems.add(field, 'missing field "action": expected an action name or glob, e.g. fs.write or fs.*');
  else {
    action = getStringList(raw.action, at("action"), problems, "an action name or glob", (entry) => {
      const expanded = expandAction(entry);
      if (expanded.length === 0) return `unknown action "${entry}"${didYouMean(entry, ACTION_NAMES)}; expected one of: ${ACTION_NAMES.join(", ")}, or a glob over them such as fs.*`;
      actions.push(...expanded);
      return undefined;
    });
    actions = [...new Set(actions)];
  }
  const kinds = new Set(actions.map(resourceKind));
  const only = (want: Action, key: string): boolean => {
    if (raw[key] === undefined) return false;
    if (action && actions.some((a) => a !== want)) {
      problems.add(at(key), `"${key}" applies only to ${want}, but this rule's action also covers ${actions.filter((a) => a !== want).join(", ")}`);
      return false;
    }
    return true;
  };

  let resource: string[] | undefined;
  if (raw.resource !== undefined) {
    const kind = kinds.size === 1 ? [...kinds][0] : undefined;
    resource = getStringList(raw.resource, at("resource"), problems, "a glob", (g) => globProblem(g) ?? resourceProblem(g, kind));
  }
  let database: string[] | undefined;
  if (only("sql.query", "database")) {
    if (raw.resource !== undefined) problems.add(at("database"), 'give either "resource" or "database" (they mean the same for sql.query), not both');
    database = getStringList(raw.database, at("database"), problems, "a database name or glob", globProblem);
  }
  let methods: string[] | undefined;
  if (only("http.fetch", "methods")) {
    methods = getStringList(raw.methods, at("methods"), problems, "an HTTP method", (m) =>
      (HTTP_METHODS as readonly string[]).includes(m.toUpperCase()) ? undefined : `unknown HTTP method "${m}"${didYouMean(m, HTTP_METHODS)}; expected one of: ${HTTP_METHODS.join(", ")}`,
    )?.map((m) => m.toUpperCase());
  }
  let pattern: string | undefined;
  if (only("sql.query", "pattern")) pattern = getRegex(raw.pattern, at("pattern"), problems, "i");
  let operations: string[] | undefined;
  if (only("sql.query", "operations")) {
    operations = getStringList(raw.operations, at("operations"), problems, "an SQL operation name", (op) =>
      (SQL_OPERATIONS as readonly string[]).includes(op.toLowerCase()) ? undefined : `unknown SQL operation "${op}"${didYouMean(op, SQL_OPERATIONS)}; expected one of: ${SQL_OPERATIONS.join(", ")}`,
    )?.map((op) => op.toLowerCase());
  }
  let tables: string[] | undefined;
  // `tables: []` is a real condition (no table at all), not a missing one: policy suggest writes it.
  if (only("sql.query", "tables")) tables = Array.isArray(raw.tables) && raw.tables.length === 0 ? [] : getStringList(raw.tables, at("tables"), problems, "a table name or glob", globProblem);

  let args: Record<string, ArgConstraint> | undefined;
  if (only("tool.call", "args")) args = validateArgs(raw.args, at("args"), problems);
  let pin: string | undefined;
  if (only("tool.call", "pin")) pin = validatePin(raw.pin, at("pin"), problems);

  let rate: RuleSpec["rate"];
  if (raw.rate !== undefined) {
    const parsed = parseRate(raw.rate);
    if (!parsed.ok) problems.add(at("rate"), `expected ${parsed.expected}, got ${describe(raw.rate)}`);
    else if (effect !== undefined && effect !== "allow" && effect !== "audit") problems.add(at("rate"), `"rate" applies only to allow and audit rules, not to effect ${effect}`);
    else rate = { ...parsed.value, text: `${parsed.value.count}/${parsed.value.unit}` };
  }
  const reason = raw.reason === undefined ? undefined : getString(raw.reason, at("reason"), problems, "a reason (a non-empty string)");
  let verify: Partial<VerificationSettings> | undefined;
  if (raw.verify !== undefined) {
    if (effect !== undefined && effect !== "verify") problems.add(at("verify"), `"verify" settings apply only to rules with effect verify, not ${effect}`);
    else verify = validateVerifyOverrides(raw.verify, at("verify"), problems);
  }
  const ask = raw.ask === undefined ? undefined : validateAsk(raw.ask, effect, at("ask"), problems);
  const approves = raw.approves === undefined ? undefined : validateApproves(raw.approves, effect, at("approves"), problems);

  if (problems.list.length > before || id === undefined || effect === undefined || action === undefined) return undefined;
  const spec: RuleSpec = { id, effect, action, actions, resource, database, methods, pattern, operations, tables, rate, reason, verify, ask, approves, args, pin, origin };
  for (const key of Object.keys(spec) as (keyof RuleSpec)[]) if (spec[key] === undefined) delete spec[key];
  return spec;
}

export function validateEffect(value: unknown, field: FieldPath, problems: Problems): Effect | undefined {
  if (value === undefined) {
    problems.add(field.slice(0, -1), `missing field "effect": expected one of: ${EFFECTS.join(", ")}`);
    return undefined;
  }
  if (typeof value === "string" && (EFFECTS as readonly string[]).includes(value)) return value as Effect;
  const what = typeof value === "string" ? `unknown effect "${value}"${didYouMean(value, EFFECTS)}` : `expected an effect, got ${describe(value)}`;
  problems.add(field, `${what}; expected one of: ${EFFECTS.join(", ")}`);
  return undefined;
}


/**
 * A glob that can never match a canonical resource is a silent hole in a deny rule, so it is an
 * error: relative or non-canonical paths, upper-case hosts, default ports, Unicode hosts.
 */
function resourceProblem(glob: string, kind: ResourceKind | undefined): string | undefined {
  if (glob === "**") return undefined;
  if (kind === "path") {
    if (!glob.startsWith("/") && !glob.startsWith("**")) return `a path glob must be absolute (start with /), got ${JSON.stringify(glob)}`;
    const literal = glob.split(/[*?[{(!+@\\]/)[0];
    if (/\/\.\.?(\/|$)|\/\//.test(literal) || (literal === glob && glob.length > 1 && glob.endsWith("/"))) {
      return `paths are matched in canonical form (no . or .. segments, no doubled or trailing slash); ${JSON.stringify(glob)} can never match`;
    }
  }
  if (kind === "url") {
    const m = /^(https?):\/\/([^/]*)(.*)$/.exec(glob);
    if (!m) {
      if (/^[*?[{]/.test(glob)) return undefined;
      return `a URL glob must start with http:// or https:// (or be **), got ${JSON.stringify(glob)}`;
    }
    const [, scheme, host, rest] = m;
    if (/[*?[{]/.test(host)) return undefined;
    if (rest === "") return `canonical URLs always have a path: write ${JSON.stringify(glob + "/")} or ${JSON.stringify(glob + "/**")}`;
    if (host !== host.toLowerCase()) return `hosts are matched in lower case: write ${JSON.stringify(`${scheme}://${host.toLowerCase()}${rest}`)}`;
    if ((scheme === "https" && host.endsWith(":443")) || (scheme === "http" && host.endsWith(":80"))) {
      return `canonical URLs drop the default port: write ${JSON.stringify(`${scheme}://${host.replace(/:\d+$/, "")}${rest}`)}`;
    }
    const hostname = host.replace(/:\d+$/, "");
    if (/[^\x00-\x7f]/.test(hostname)) return `international hosts are matched as punycode: write ${JSON.stringify(`${scheme}://${punycodeHost(hostname)}${host.slice(hostname.length)}${rest}`)}`;
  }
  return undefined;
}

/**
 * The ASCII (punycode) form of a host, or "" when it is not a valid host: what Node's
 * `url.domainToASCII` gives, on Web-standard APIs only. Like Node, it sets the hostname of a
 * special URL; the setter ignores an invalid host silently, so two URLs with different hosts
 * tell a refused host (each keeps its own) from an accepted one (both get it).
 *
 * @example punycodeHost("bücher.example") === "xn--bcher-kva.example"
 */
export function punycodeHost(host: string): string {
  const a = new URL("ws://a");
  const b = new URL("ws://b");
  a.hostname = host;
  b.hostname = host;
  return a.hostname === b.hostname ? a.hostname : "";
}

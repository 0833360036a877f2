/**
 * A least-privilege policy from observed calls (`agent-os policy suggest`): allow exactly the
 * calls agents made, deny everything else, for an operator to review.
 *
 * How resources are generalized:
 * - fs.*: exact paths; when one action touched more than `collapseAbove` files directly in one
 *   directory, those become `dir/*` (one level: never `**`);
 * - http.fetch: one rule per origin and method; hosts, schemes and ports stay exact, and paths
 *   collapse like files (`https://host/v1/items/*`);
 * - sql.query: one rule per database and set of operations, with the tables those statements
 *   touched (from SQLite's compiler, as the gate recorded them or from a database given to
 *   analyze them); `tables: []` when they touched none, never an absent field, which would
 *   allow every table. A statement recorded without facts and no database to analyze it gets a
 *   rule of its own that allows exactly its canonical text (`pattern: ^...$`), with the
 *   operations guessed from the text (the file says so); one too long to pin is left out;
 * - tool.call: one rule per tool, with `args` pinning (exactly) each top-level string argument
 *   on which every recorded call of that tool agreed;
 * - log.write: the levels used; process.checkpoint: the labels used; clock.now and
 *   random.bytes (no resource): allowed when used.
 *
 * No field that narrows a rule is ever left out: a rule allows no more than the recorded calls
 * needed, except for the directory collapse above.
 *
 * The result is checked before it is returned: loaded with the project's loader, it must allow
 * every observed call (a collapsed glob that would not is written out exactly instead).
 */
import type { JsonValue } from "../episodic/encoding.js";
import type { Request, SqlFacts } from "../types.js";
import { loadPolicy } from "./load.js";
import { sqlFactsFromText } from "./request.js";

/** One call an agent made. */
export interface ObservedCall {
  action: string;
  resource: string;
  method?: string;
  /** For sql.query: the statement's facts, when the database could be analyzed. */
  sql?: SqlFacts;
  /** For sql.query: the statement, to guess operations from when there are no facts. */
  statement?: string;
  /** For tool.call: the arguments, when the log kept them. */
  args?: JsonValue;
}

/** Options of {@link suggestPolicy}. Defaults: name "suggested", collapseAbove 3, no header. */
export interface SuggestOptions {
  name?: string;
  description?: string;
  /** More distinct files than this in one directory (for one action) become `dir/*`. */
  collapseAbove?: number;
  /** Comment lines written at the top of the file (without "#"). */
  header?: string[];
}

/** The suggestion: YAML text, and how many rules it has. */
export interface SuggestedPolicy {
  yaml: string;
  rules: number;
}

interface Rule {
  id: string;
  action: string;
  resource?: string[];
  methods?: string[];
  database?: string;
  operations?: string[];
  tables?: string[];
  pattern?: string;
  /** tool.call: JSON Pointer -> exact value (as a glob matching only itself). */
  args?: Record<string, string>;
  note?: string;
}

const GLOB_SPECIAL = /[*?[\]{}()!+@\\]/g;

/** A literal string as a glob that matches only itself. */
function literal(text: string): string {
  return text.replace(GLOB_SPECIAL, (c) => (c === "?" ? "[?]" : "\\" + c));
}

/**
 * Writes the least-privilege policy YAML for a set of observed calls.
 *
 * @example
 * const { yaml } = suggestPolicy([{ action: "fs.read", resource: "/workspace/notes.txt" }], { name: "summarize" });
 * loadPolicy(yaml).decide(canonicalRequest("fs.read", "/workspace/notes.txt")).effect === "allow"
 * @throws Error if the policy it wrote does not allow every observed call (a bug: it never should).
 */
export function suggestPolicy(calls: ObservedCall[], options: SuggestOptions = {}): SuggestedPolicy {
  for (const collapse of [true, false]) {
    const rules = buildRules(calls, collapse ? options.collapseAbove ?? 3 : Infinity);
    const yaml = writeYaml(rules, options);
    if (allowsAll(yaml, calls)) return { yaml, rules: rules.length };
  }
  throw new Error("policy suggest: the suggested policy does not allow every observed call");
}

function allowsAll(yaml: string, calls: ObservedCall[]): boolean {
  const policy = loadPolicy(yaml);
  // A statement without facts too long to pin is left out on purpose: it stays denied.
  const kept = calls.filter((c) => !(c.action === "sql.query" && c.sql === undefined && pinnedStatement("", c) === undefined));
  return kept.every((c) => {
    const request: Request = { action: c.action as Request["action"], resource: c.resource, agent: "suggest", pid: 0 };
    if (c.method !== undefined) request.method = c.method;
    if (c.args !== undefined) request.args = c.args;
    if (c.sql !== undefined) request.sql = c.sql;
    else if (c.statement !== undefined) request.sql = sqlFactsFromText(c.statement);
    const effect = policy.decide(request).effect;
    return effect === "allow";
  });
}

function buildRules(calls: ObservedCall[], collapseAbove: number): Rule[] {
  const rules: Rule[] = [];
  const byAction = groupBy(calls, (c) => c.action);
  for (const [action, group] of [...byAction].sort(([a], [b]) => a.localeCompare(b))) {
    const base = action.replace(/\./g, "-");
    if (action.startsWith("fs.")) {
      rules.push({ id: base, action, resource: collapsePaths(group.map((c) => c.resource), collapseAbove) });
    } else if (action === "http.fetch") {
      const byOrigin = groupBy(group, (c) => `${originOf(c.resource)} ${c.method ?? "GET"}`);
      for (const [key, same] of [...byOrigin].sort(([a], [b]) => a.localeCompare(b))) {
        const [origin, method] = key.split(" ");
        const paths = collapsePaths(same.map((c) => c.resource.slice(origin.length)), collapseAbove, true);
        rules.push({ id: `${base}-${slug(origin.replace(/^https?:\/\//, ""))}-${method.toLowerCase()}`, action, methods: [method], resource: paths.map((p) => literal(origin) + p) });
      }
    } else if (action === "sql.query") {
      rules.push(...sqlRules(base, group));
    } else if (action === "tool.call") {
      rules.push(...toolRules(base, group));
    } else if (action === "log.write" || action === "process.checkpoint" || action === "llm.chat") {
      rules.push({ id: base, action, resource: unique(group.map((c) => literal(c.resource))) });
    } else {
      rules.push({ id: base, action });
    }
  }
  return rules;
}

/**
 * tool.call: one rule per tool, with an `args` constraint (the exact value) on each top-level
 * string argument on which every recorded call of that tool agreed.
 */
function toolRules(base: string, calls: ObservedCall[]): Rule[] {
  const rules: Rule[] = [];
  for (const [tool, same] of [...groupBy(calls, (c) => c.resource)].sort(([a], [b]) => a.localeCompare(b))) {
    const rule: Rule = { id: `${base}-${slug(tool)}`, action: "tool.call", resource: [literal(tool)] };
    const agreed = agreedStrings(same.map((c) => c.args));
    if (Object.keys(agreed).length > 0) rule.args = agreed;
    rules.push(rule);
  }
  return rules;
}

/** Top-level string arguments with one value in every call, as `"/key": exact glob`. */
function agreedStrings(all: (JsonValue | undefined)[]): Record<string, string> {
  const objects = all.filter((a): a is { [key: string]: JsonValue } => typeof a === "object" && a !== null && !Array.isArray(a));
  if (objects.length === 0 || objects.length !== all.length) return {};
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(objects[0]).sort(([a], [b]) => a.localeCompare(b))) {
    if (typeof value !== "string" || value === "" || !objects.every((o) => Object.hasOwn(o, key) && o[key] === value)) continue;
    out[`/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`] = literal(value);
  }
  return out;
}

function sqlRules(base: string, calls: ObservedCall[]): Rule[] {
  interface Key {
    database: string;
    operations: string[];
    tables: Set<string>;
  }
  const keys = new Map<string, Key>();
  const pinned = new Map<string, Rule>();
  for (const c of calls) {
    if (c.sql === undefined) {
      const rule = pinnedStatement(base, c);
      if (rule) pinned.set(`${c.resource}\n${rule.pattern}`, rule);
      continue;
    }
    const operations = unique(c.sql.operations.map((o) => o.toLowerCase()));
    const k = `${c.resource}\n${operations.join(",")}`;
    let key = keys.get(k);
    if (!key) keys.set(k, (key = { database: c.resource, operations, tables: new Set() }));
    for (const t of [...c.sql.reads, ...c.sql.writes]) key.tables.add(t);
  }
  const decided = [...keys.values()]
    .sort((a, b) => a.database.localeCompare(b.database) || a.operations.join().localeCompare(b.operations.join()))
    .map((k): Rule => ({
      id: `${base}-${slug(k.database)}-${k.operations.join("-")}`,
      action: "sql.query",
      database: k.database,
      operations: k.operations,
      tables: [...k.tables].sort().map(literal),
    }));
  return [...decided, ...[...pinned.values()].sort((a, b) => a.pattern!.localeCompare(b.pattern!))];
}

/** The longest pattern a pinned statement may need (the loader refuses patterns over 512 characters). */
const MAX_PINNED = 512;

/**
 * A rule that allows one statement recorded without SQL facts: its canonical text exactly (the
 * kernel canonicalizes with the same code), with the operations guessed from the text. Undefined
 * for a statement too long to pin: no rule, so it stays denied.
 */
function pinnedStatement(base: string, c: ObservedCall): Rule | undefined {
  if (c.statement === undefined) return undefined;
  const facts = sqlFactsFromText(c.statement);
  const pattern = `^${facts.canonical.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&")}$`;
  if (pattern.length > MAX_PINNED) return undefined;
  const operations = unique(facts.operations.map((o) => o.toLowerCase()));
  return {
    id: `${base}-${slug(c.resource)}-statement`,
    action: "sql.query",
    database: c.resource,
    operations,
    pattern,
    note: "recorded without SQL facts: this statement only (up to letter case), operations guessed from its text (give the database to analyze it)",
  };
}

/** Paths (or URL paths) as exact globs, a directory's files as `dir/*` when there are more than `above`. */
function collapsePaths(paths: string[], above: number, url = false): string[] {
  const distinct = unique(paths);
  const byDir = groupBy(distinct, (p) => {
    const path = url ? p.replace(/[?#].*$/, "") : p;
    return path.slice(0, path.lastIndexOf("/") + 1);
  });
  const out: string[] = [];
  for (const [dir, files] of byDir) {
    if (files.length > above && dir !== "") out.push(literal(dir) + "*");
    else out.push(...files.map(literal));
  }
  return out.sort();
}

function originOf(url: string): string {
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(url);
  return m ? m[0] : url;
}

function writeYaml(rules: Rule[], options: SuggestOptions): string {
  const q = (s: string) => JSON.stringify(s); // a JSON string is a valid YAML double-quoted scalar
  const list = (xs: string[]) => `[${xs.map(q).join(", ")}]`;
  const lines: string[] = [];
  for (const h of options.header ?? []) lines.push(`# ${h}`.trimEnd());
  lines.push("version: 1", `name: ${q(options.name ?? "suggested")}`);
  lines.push(`description: ${q(options.description ?? "Least privilege: exactly the calls the recorded runs made")}`);
  lines.push("default: deny", rules.length ? "rules:" : "rules: []");
  const ids = new Set<string>();
  for (const r of rules) {
    let id = r.id;
    for (let n = 2; ids.has(id); n++) id = `${r.id}-${n}`;
    ids.add(id);
    if (r.note) lines.push(`  # ${r.note}`);
    lines.push(`  - id: ${q(id)}`, `    action: ${q(r.action)}`);
    if (r.database !== undefined) lines.push(`    database: ${q(r.database)}`);
    if (r.resource !== undefined) lines.push(`    resource: ${list(r.resource)}`);
    if (r.methods !== undefined) lines.push(`    methods: ${list(r.methods)}`);
    if (r.operations !== undefined) lines.push(`    operations: ${list(r.operations)}`);
    if (r.tables !== undefined) lines.push(`    tables: ${list(r.tables)}`);
    if (r.pattern !== undefined) lines.push(`    pattern: ${q(r.pattern)}`);
    if (r.args !== undefined) lines.push(`    args: {${Object.entries(r.args).map(([k, v]) => `${q(k)}: ${q(v)}`).join(", ")}}`);
    lines.push("    effect: allow");
  }
  return lines.join("\n") + "\n";
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)].sort();
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "x";
}

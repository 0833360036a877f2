/**
 * Loading a policy: read the source, check it, follow `extends`, merge, and compile.
 * Every problem in every file is collected before anything is thrown.
 */
import { createHash } from "node:crypto";
import { isAbsolute, relative, resolve } from "node:path";
import { PolicyError, type PolicyProblem } from "../errors.js";
import type { Effect, ModelAlias, PolicyLimits, SecretSpec, VerificationSettings } from "../types.js";
import { EXTENDABLE_BUILTINS, builtinPath } from "./builtins.js";
import { isRecord } from "./check.js";
import { LoadedPolicy } from "./loaded.js";
import type { RuleSpec } from "./rule.js";
import { mergeSecrets } from "./secrets.js";
import { looksLikePath, nameFromFile, objectSource, parseYamlText, readPolicyFile, type Source } from "./source.js";
import { didYouMean } from "./suggest.js";
import { validateDocument } from "./validate.js";

/** Options of loadPolicy. */
export interface LoadOptions {
  /** The name used for the source in messages. Default: the path, or "<inline>" for text and objects. */
  file?: string;
  /** Where relative `extends` of YAML text or an object are resolved. Default: process.cwd(). Files use their own directory. */
  baseDir?: string;
  /** The clock for rate limits, in milliseconds. Default: Date.now. */
  now?: () => number;
}

/** A policy after `extends` is merged: what compile takes. */
export interface MergedPolicy {
  name: string;
  description?: string;
  /** The root file, or "<inline>". */
  source: string;
  defaultEffect: Effect;
  limits: PolicyLimits;
  verification?: Partial<VerificationSettings>;
  models?: Record<string, ModelAlias>;
  rules: RuleSpec[];
  /** The `secrets:` blocks merged by name (a child's replaces its parents'). */
  secrets?: SecretSpec[];
  /** Hex sha256 of the canonical form of everything above except source. */
  hash: string;
}

interface Partial_ {
  default?: Effect;
  limits: PolicyLimits;
  verification?: Partial<VerificationSettings>;
  models?: Record<string, ModelAlias>;
  rules: RuleSpec[];
  secrets?: SecretSpec[];
}

/**
 * Loads and compiles a policy from a path (.yaml, .yml or .json), YAML text, or a plain object.
 *
 * @example
 * const policy = loadPolicy("rules:\n  - action: file_write\n    resource: /prod/*\n    effect: deny\n");
 * policy.decide(canonicalRequest("fs.write", "/prod/x")).effect === "deny";
 * @throws PolicyError listing every problem (file, line, column, field, what was expected).
 */
export function loadPolicy(source: string | object, options: LoadOptions = {}): LoadedPolicy {
  return new LoadedPolicy(mergePolicy(source, options), options.now ?? Date.now);
}

/** Loads a file whatever its name ends with (resolvePolicy uses it for existing files). */
export function loadPolicyFile(path: string, options: LoadOptions = {}): LoadedPolicy {
  const root = readPolicyFile(resolve(options.baseDir ?? process.cwd(), path), options.file ?? path);
  return new LoadedPolicy(mergeSource(root), options.now ?? Date.now);
}

/** Reads, checks and merges a policy without compiling it. Throws PolicyError. */
export function mergePolicy(input: string | object, options: LoadOptions = {}): MergedPolicy {
  const baseDir = resolve(options.baseDir ?? process.cwd());
  let root: Source;
  if (typeof input === "string") {
    root = looksLikePath(input) ? readPolicyFile(resolve(baseDir, input), options.file ?? input) : parseYamlText(input, options.file ?? "<inline>", baseDir);
  } else if (isRecord(input)) {
    root = objectSource(input, options.file ?? "<inline>", baseDir);
  } else {
    throw new PolicyError([{ file: options.file, message: "expected a policy: a file path, YAML text or a plain object" }]);
  }
  return mergeSource(root);
}

function mergeSource(root: Source): MergedPolicy {
  const problems: PolicyProblem[] = [];
  const merged = loadTree(root, "", [], new Set(), problems);
  if (merged) checkUniqueIds(merged.rules, problems);
  sortByPosition(problems);
  if (!merged || problems.length) throw new PolicyError(problems.length ? problems : [{ file: root.file, message: "the policy did not load" }]);
  const value = root.value as Record<string, unknown>;
  const name = typeof value.name === "string" ? value.name : nameFromFile(root.file);
  const result = {
    name,
    ...(typeof value.description === "string" ? { description: value.description } : {}),
    defaultEffect: merged.default ?? "deny",
    limits: merged.limits,
    ...(merged.verification ? { verification: merged.verification } : {}),
    ...(merged.models ? { models: merged.models } : {}),
    rules: merged.rules,
    ...(merged.secrets ? { secrets: merged.secrets } : {}),
  };
  return { ...result, source: root.file, hash: hashOf(result) };
}

function identity(source: Source): string {
  return source.path ?? source.file;
}

function loadTree(source: Source, idPrefix: string, stack: Source[], done: Set<string>, problems: PolicyProblem[]): Partial_ | undefined {
  if (source.problems.length) {
    problems.push(...source.problems);
    return undefined;
  }
  const { doc, problems: found } = validateDocument(source, idPrefix);
  problems.push(...found);
  const parents: Partial_[] = [];
  const here = [...stack, source];
  done.add(identity(source));
  for (const { entry, field } of doc?.extends ?? []) {
    const where = { file: source.file, ...source.locate(field), field: field.length > 1 ? `extends[${field[1]}]` : "extends" };
    const target = resolveExtends(entry, source.dir);
    if ("problem" in target) {
      problems.push({ ...where, message: target.problem });
      continue;
    }
    const cycleAt = here.findIndex((s) => identity(s) === target.path);
    if (cycleAt !== -1) {
      const chain = [...here.slice(cycleAt).map((s) => s.file), target.display].join(" -> ");
      problems.push({ ...where, message: `extends cycle: ${chain}` });
      continue;
    }
    if (done.has(target.path)) continue; // reached twice through different parents: merged once
    const parentSource = readPolicyFile(target.path, target.display);
    const parentValue = parentSource.value;
    const parentName = isRecord(parentValue) && typeof parentValue.name === "string" ? parentValue.name : nameFromFile(target.display);
    const parent = loadTree(parentSource, `${parentName}:`, here, done, problems);
    if (parent) parents.push(parent);
  }
  if (!doc || found.length) return undefined;
  const merged: Partial_ = { limits: {}, rules: [] };
  for (const layer of [...parents, { default: doc.default, limits: doc.limits, verification: doc.verification, models: doc.models, rules: doc.rules }]) {
    if (layer.default !== undefined) merged.default = layer.default;
    Object.assign(merged.limits, layer.limits);
    if (layer.verification) merged.verification = { ...merged.verification, ...layer.verification };
    if (layer.models) merged.models = { ...merged.models, ...layer.models };
    merged.rules.push(...layer.rules);
  }
  for (const layer of [...parents, doc]) if (layer.secrets) merged.secrets = mergeSecrets(merged.secrets, layer.secrets);
  return merged;
}

function resolveExtends(entry: string, dir: string): { path: string; display: string } | { problem: string } {
  const isPath = /[/\\]/.test(entry) || /\.(ya?ml|json)$/i.test(entry);
  if (!isPath) {
    if (EXTENDABLE_BUILTINS.includes(entry)) return { path: builtinPath(entry), display: display(builtinPath(entry)) };
    return {
      problem: `unknown built-in policy "${entry}"${didYouMean(entry, EXTENDABLE_BUILTINS)}; built-in policies are: ${EXTENDABLE_BUILTINS.join(", ")}; for a file, write a path such as ./${entry}.yaml`,
    };
  }
  const path = resolve(dir, entry);
  return { path, display: display(path) };
}

function display(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

function checkUniqueIds(rules: RuleSpec[], problems: PolicyProblem[]): void {
  const seen = new Map<string, RuleSpec>();
  for (const rule of rules) {
    const first = seen.get(rule.id);
    if (!first) {
      seen.set(rule.id, rule);
      continue;
    }
    const { file, line, column } = first.origin;
    const there = [file, line, column].filter((x) => x !== undefined).join(":");
    problems.push({ ...rule.origin, field: "id", message: `duplicate rule id "${rule.id}": also used at ${there}; rule ids must be unique after extends is merged` });
  }
}

/** Problems of each file in the order of their lines; files stay in the order they were read. */
function sortByPosition(problems: PolicyProblem[]): void {
  const files = [...new Set(problems.map((p) => p.file))];
  problems.sort((a, b) => files.indexOf(a.file) - files.indexOf(b.file) || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}

function hashOf(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex");
}

/** JSON with sorted keys and no undefined, so equal policies hash equally. Origins are left out. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isRecord(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined && k !== "origin").sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

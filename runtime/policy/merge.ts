/**
 * Merging a policy with what it `extends`, on every host: check each document, follow
 * `extends` through the host's PolicyReader, merge parents first, and hash the result. Every
 * problem in every document is collected before anything is thrown.
 */
import { PolicyError, type PolicyProblem } from "../errors.js";
import { sha256Hex } from "../portable/sha256.js";
import type { Effect, ModelAlias, PolicyLimits, SecretSpec, VerificationSettings } from "../types.js";
import { EXTENDABLE_BUILTINS } from "./builtin-names.js";
import { isRecord } from "./check.js";
import type { Source } from "./parse.js";
import type { RuleSpec } from "./rule.js";
import { mergeSecrets } from "./secrets.js";
import { didYouMean } from "./suggest.js";
import { validateDocument } from "./validate.js";

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

/** A policy an `extends` entry points to. */
export interface PolicyTarget {
  /** Its identity, for cycles and for merging a policy reached twice only once (Node: the absolute path). */
  id: string;
  /** Its name in messages and rule origins. */
  display: string;
}

/**
 * How a host finds and reads what `extends` names: the part of loading that differs between
 * hosts (Node reads files, see load.ts; other hosts use embedded texts and a hook, see portable.ts).
 */
export interface PolicyReader<T extends PolicyTarget = PolicyTarget> {
  /** Where a built-in policy (one of EXTENDABLE_BUILTINS) is. */
  builtin(name: string): T;
  /** Where a file entry (a path) of `from`'s `extends` points, or why it cannot be followed. */
  file(entry: string, from: Source): T | { problem: string };
  /** Reads a target; a target that cannot be read is a Source with problems. */
  read(target: T): Source;
  /** The name of a policy without `name:`, from its file name. */
  nameFromFile(file: string): string;
}

interface Layers {
  default?: Effect;
  limits: PolicyLimits;
  verification?: Partial<VerificationSettings>;
  models?: Record<string, ModelAlias>;
  rules: RuleSpec[];
  secrets?: SecretSpec[];
}

/** The state of one merge: what is being read and what was found. */
interface Walk<T extends PolicyTarget> {
  reader: PolicyReader<T>;
  done: Set<string>;
  problems: PolicyProblem[];
}

/**
 * Checks `root`, follows its `extends` through `reader` and merges. Throws PolicyError listing
 * every problem (file, line, column, field, what was expected).
 *
 * @example mergeSource(parseYamlText("extends: [strict]\n", "<inline>", ""), reader).name === "<inline>"
 */
export function mergeSource<T extends PolicyTarget>(root: Source, reader: PolicyReader<T>): MergedPolicy {
  const walk: Walk<T> = { reader, done: new Set(), problems: [] };
  const merged = loadTree(root, "", [], walk);
  const { problems } = walk;
  if (merged) checkUniqueIds(merged.rules, problems);
  sortByPosition(problems);
  if (!merged || problems.length) throw new PolicyError(problems.length ? problems : [{ file: root.file, message: "the policy did not load" }]);
  const value = root.value as Record<string, unknown>;
  const name = typeof value.name === "string" ? value.name : reader.nameFromFile(root.file);
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

function loadTree<T extends PolicyTarget>(source: Source, idPrefix: string, stack: Source[], walk: Walk<T>): Layers | undefined {
  if (source.problems.length) {
    walk.problems.push(...source.problems);
    return undefined;
  }
  const { doc, problems: found } = validateDocument(source, idPrefix);
  walk.problems.push(...found);
  const parents: Layers[] = [];
  const here = [...stack, source];
  walk.done.add(identity(source));
  for (const { entry, field } of doc?.extends ?? []) {
    const where = { file: source.file, ...source.locate(field), field: field.length > 1 ? `extends[${field[1]}]` : "extends" };
    const target = resolveExtends(entry, source, walk.reader);
    if ("problem" in target) {
      walk.problems.push({ ...where, message: target.problem });
      continue;
    }
    const cycleAt = here.findIndex((s) => identity(s) === target.id);
    if (cycleAt !== -1) {
      const chain = [...here.slice(cycleAt).map((s) => s.file), target.display].join(" -> ");
      walk.problems.push({ ...where, message: `extends cycle: ${chain}` });
      continue;
    }
    if (walk.done.has(target.id)) continue; // reached twice through different parents: merged once
    const parentSource = walk.reader.read(target);
    const parentValue = parentSource.value;
    const parentName = isRecord(parentValue) && typeof parentValue.name === "string" ? parentValue.name : walk.reader.nameFromFile(target.display);
    const parent = loadTree(parentSource, `${parentName}:`, here, walk);
    if (parent) parents.push(parent);
  }
  if (!doc || found.length) return undefined;
  const merged: Layers = { limits: {}, rules: [] };
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

/** A built-in name or a path (anything with a slash or a policy file's extension). */
function resolveExtends<T extends PolicyTarget>(entry: string, from: Source, reader: PolicyReader<T>): T | { problem: string } {
  const isPath = /[/\\]/.test(entry) || /\.(ya?ml|json)$/i.test(entry);
  if (isPath) return reader.file(entry, from);
  if (EXTENDABLE_BUILTINS.includes(entry)) return reader.builtin(entry);
  return {
    problem: `unknown built-in policy "${entry}"${didYouMean(entry, EXTENDABLE_BUILTINS)}; built-in policies are: ${EXTENDABLE_BUILTINS.join(", ")}; for a file, write a path such as ./${entry}.yaml`,
  };
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
  return sha256Hex(canonicalJson(value));
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

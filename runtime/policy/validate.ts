/** Validation of one policy document (one file, before `extends` is merged). */
import type { Effect, Limits, ModelAlias, PolicyLimits, SecretSpec, VerificationSettings } from "../types.js";
import { validateModelAliases } from "./models.js";
import { Problems, checkKeys, describe, getString, getStringList, isRecord } from "./check.js";
import { validateEffect, validateRule, type RuleSpec } from "./rule.js";
import type { FieldPath, Source } from "./parse.js";
import { LIMIT_KINDS, parseLimit } from "./units.js";
import { validateVerification } from "./verification.js";
import { validateSecrets } from "./secrets.js";
import type { PolicyProblem } from "../errors.js";

export const TOP_FIELDS = ["$schema", "version", "name", "description", "extends", "default", "limits", "rules", "verification", "models", "secrets"] as const;
const LIMIT_KEYS = Object.keys(LIMIT_KINDS) as (keyof Limits)[];

/** One file's policy, checked. */
export interface PolicyDocument {
  name?: string;
  description?: string;
  extends: { entry: string; field: FieldPath }[];
  default?: Effect;
  limits: PolicyLimits;
  verification?: Partial<VerificationSettings>;
  models?: Record<string, ModelAlias>;
  rules: RuleSpec[];
  /** The `secrets:` block (names of environment variables, never values). */
  secrets?: SecretSpec[];
}

/**
 * Checks a parsed source. Rules without an `id` get `<idPrefix>rule-<index>`.
 * Every problem is returned, located in the source where possible; `doc` holds what was valid
 * (so that `extends` can still be followed and checked) and must not be used if there are problems.
 *
 * @example validateDocument(parseYamlText("rules: []", "<inline>", "."), "").problems // []
 */
export function validateDocument(source: Source, idPrefix: string): { doc?: PolicyDocument; problems: PolicyProblem[] } {
  const problems = new Problems();
  const doc = validateValue(source, idPrefix, problems);
  const located = problems.list.map(({ field, message, onKey }) => {
    const where = source.locate(field, onKey);
    return { file: source.file, ...where, ...(field.length ? { field: formatField(field) } : {}), message };
  });
  return { doc, problems: located };
}

function formatField(field: FieldPath): string {
  let out = "";
  for (const step of field) out += typeof step === "number" ? `[${step}]` : out === "" ? step : `.${step}`;
  return out;
}

function validateValue(source: Source, idPrefix: string, problems: Problems): PolicyDocument | undefined {
  const raw = source.value;
  if (!isRecord(raw)) {
    problems.add([], `expected a policy (a mapping with fields such as version, default and rules), got ${describe(raw)}`);
    return undefined;
  }
  checkKeys(raw, TOP_FIELDS, [], problems, "a policy");
  const doc: PolicyDocument = { extends: [], limits: {}, rules: [] };
  if (raw.version !== undefined && raw.version !== 1) problems.add(["version"], `expected version 1 (the only version of the policy language), got ${describe(raw.version)}`);
  if (raw.$schema !== undefined) getString(raw.$schema, ["$schema"], problems, "a schema URL or path");
  if (raw.name !== undefined) doc.name = getString(raw.name, ["name"], problems, "a name (a non-empty string)");
  if (raw.description !== undefined) doc.description = getString(raw.description, ["description"], problems, "a description (a string)");
  if (raw.extends !== undefined) {
    const single = typeof raw.extends === "string";
    const entries = getStringList(raw.extends, ["extends"], problems, "a built-in policy name or a relative path");
    doc.extends = (entries ?? []).map((entry, i) => ({ entry, field: single ? ["extends"] : ["extends", i] }));
  }
  if (raw.default !== undefined) doc.default = validateEffect(raw.default, ["default"], problems);
  if (raw.limits !== undefined) doc.limits = validateLimits(raw.limits, problems);
  if (raw.verification !== undefined) doc.verification = validateVerification(raw.verification, ["verification"], problems);
  if (raw.secrets !== undefined) doc.secrets = validateSecrets(raw.secrets, ["secrets"], problems);
  if (raw.models !== undefined) doc.models = validateModelAliases(raw.models, ["models"], problems);
  if (raw.rules !== undefined) {
    if (!Array.isArray(raw.rules)) problems.add(["rules"], `expected a list of rules, got ${describe(raw.rules)}`);
    else {
      raw.rules.forEach((rule, i) => {
        const field = ["rules", i];
        const where = source.locate(field);
        const spec = validateRule(rule, field, `${idPrefix}rule-${i}`, { file: source.file, ...where }, problems);
        if (spec) doc.rules.push(spec);
      });
    }
  }
  return doc;
}

function validateLimits(raw: unknown, problems: Problems): PolicyLimits {
  const limits: PolicyLimits = {};
  if (!isRecord(raw)) {
    problems.add(["limits"], `expected a mapping of limits (${LIMIT_KEYS.join(", ")}), got ${describe(raw)}`);
    return limits;
  }
  checkKeys(raw, LIMIT_KEYS, ["limits"], problems, "limits");
  for (const key of LIMIT_KEYS) {
    if (raw[key] === undefined) continue;
    const parsed = parseLimit(key, raw[key]);
    if (parsed.ok) limits[key] = parsed.value;
    else problems.add(["limits", key], `expected ${parsed.expected}, got ${describe(raw[key])}`);
  }
  return limits;
}

/** Validation of the `verification:` block and of a rule's `verify:` overrides. */
import type { ModelSpec, VerificationSettings } from "../types.js";
import { Problems, checkKeys, describe, getString, isRecord } from "./check.js";
import type { FieldPath } from "./parse.js";
import { didYouMean } from "./suggest.js";
import { parseDuration } from "./units.js";

const VERIFICATION_FIELDS = ["models", "threshold", "timeout", "cache"] as const;
const OVERRIDE_FIELDS = ["models", "threshold", "timeout"] as const;
const MODEL_FIELDS = ["provider", "model", "baseUrl", "apiKeyEnv"] as const;
const PROVIDERS = ["openai", "anthropic"] as const;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The top-level `verification:` block.
 *
 * @example validateVerification({ threshold: 0.5 }, ["verification"], problems) // { threshold: 0.5 }
 */
export function validateVerification(raw: unknown, field: FieldPath, problems: Problems): Partial<VerificationSettings> | undefined {
  return validateBlock(raw, field, problems, VERIFICATION_FIELDS, "the verification block");
}

/** A rule's `verify:` overrides (models, threshold, timeout). */
export function validateVerifyOverrides(raw: unknown, field: FieldPath, problems: Problems): Partial<VerificationSettings> | undefined {
  return validateBlock(raw, field, problems, OVERRIDE_FIELDS, "a rule's verify settings");
}

function validateBlock(raw: unknown, field: FieldPath, problems: Problems, allowed: readonly string[], what: string): Partial<VerificationSettings> | undefined {
  if (!isRecord(raw)) {
    problems.add(field, `expected ${what} (a mapping with ${allowed.join(", ")}), got ${describe(raw)}`);
    return undefined;
  }
  checkKeys(raw, allowed, field, problems, what);
  const out: Partial<VerificationSettings> = {};
  if (raw.models !== undefined) {
    const models = validateModels(raw.models, [...field, "models"], problems);
    if (models) out.models = models;
  }
  if (raw.threshold !== undefined) {
    const t = raw.threshold;
    if (typeof t === "number" && t >= 0 && t <= 1) out.threshold = t;
    else problems.add([...field, "threshold"], `expected a share of models from 0 to 1 (e.g. 0.5), got ${describe(t)}`);
  }
  if (raw.timeout !== undefined) {
    const parsed = parseDuration(raw.timeout, 1);
    if (parsed.ok) out.timeout = parsed.value;
    else problems.add([...field, "timeout"], `expected ${parsed.expected}, got ${describe(raw.timeout)}`);
  }
  if (raw.cache !== undefined) {
    if (typeof raw.cache === "boolean") out.cache = raw.cache;
    else problems.add([...field, "cache"], `expected true or false, got ${describe(raw.cache)}`);
  }
  return out;
}

function validateModels(raw: unknown, field: FieldPath, problems: Problems): ModelSpec[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0) {
    problems.add(field, `expected a non-empty list of models ({provider, model, baseUrl?, apiKeyEnv?}), got ${describe(raw)}`);
    return undefined;
  }
  const models: ModelSpec[] = [];
  raw.forEach((entry, i) => {
    const spec = validateModel(entry, [...field, i], problems);
    if (spec) models.push(spec);
  });
  return models;
}

/**
 * One model ({provider, model, baseUrl?, apiKeyEnv?} and any `extra` fields, which the caller
 * checks); a key written into the policy is refused. Undefined when it is not a mapping.
 *
 * @example validateModel({ provider: "openai", model: "gpt-4o" }, ["models", 0], problems) // { provider: "openai", model: "gpt-4o" }
 */
export function validateModel(entry: unknown, at: FieldPath, problems: Problems, extra: readonly string[] = []): ModelSpec | undefined {
  if (!isRecord(entry)) {
    problems.add(at, `expected a model ({provider, model, baseUrl?, apiKeyEnv?}), got ${describe(entry)}`);
    return undefined;
  }
  for (const key of Object.keys(entry)) {
    if (/^api_?key$/i.test(key)) {
      problems.add([...at, key], `"${key}" is not allowed: API keys come from the environment only; name the variable with apiKeyEnv (e.g. apiKeyEnv: OPENAI_API_KEY)`, true);
    }
  }
  checkKeys(
    Object.fromEntries(Object.entries(entry).filter(([k]) => !/^api_?key$/i.test(k))),
    [...MODEL_FIELDS, ...extra],
    at,
    problems,
    "a model",
  );
  const provider = entry.provider;
  if (typeof provider !== "string" || !(PROVIDERS as readonly string[]).includes(provider)) {
    const hint = typeof provider === "string" ? didYouMean(provider, PROVIDERS) : "";
    problems.add([...at, "provider"], `expected a provider, one of: ${PROVIDERS.join(", ")}, got ${describe(provider)}${hint}`);
  }
  const model = getString(entry.model, [...at, "model"], problems, "a model name");
  const spec: ModelSpec = { provider: provider as ModelSpec["provider"], model: model ?? "" };
  if (entry.baseUrl !== undefined) {
    const url = getString(entry.baseUrl, [...at, "baseUrl"], problems, "an http(s) URL");
    if (url !== undefined) {
      if (/^https?:\/\/[^/]/i.test(url) && URL.canParse(url)) spec.baseUrl = url;
      else problems.add([...at, "baseUrl"], `expected an absolute http or https URL, got ${describe(url)}`);
    }
  }
  if (entry.apiKeyEnv !== undefined) {
    const name = getString(entry.apiKeyEnv, [...at, "apiKeyEnv"], problems, "an environment variable name");
    if (name !== undefined) {
      if (ENV_NAME.test(name)) spec.apiKeyEnv = name;
      else problems.add([...at, "apiKeyEnv"], `expected the name of an environment variable (letters, digits, _), got ${describe(name)}`);
    }
  }
  return spec;
}

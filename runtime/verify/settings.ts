/**
 * Verification settings: the options a host gives, their defaults, the order in which the
 * layers override each other (a rule's `verify:` > the kernel's `verification` > the policy's
 * `verification:`), and where each model's API key comes from.
 */
import { UsageError } from "../errors.js";
import { Problems } from "../policy/check.js";
import { validateVerification } from "../policy/verification.js";
import type { ModelSpec, VerificationSettings } from "../types.js";

/**
 * Verification settings as a host writes them (`KernelOptions.verification`, `createVerifier`).
 * Defaults: no models (every `verify` decision is then denied), `threshold` 1 (every model
 * must approve), `timeout` 10 s per model, `cache` false.
 */
export interface VerificationOptions {
  /** The models asked, in parallel. API keys come from the environment only (`apiKeyEnv`). */
  models?: ModelSpec[];
  /** Share of the models asked (0..1) that must approve. At least one approval is always needed. */
  threshold?: number;
  /** Per model: milliseconds, or a duration such as "10s". */
  timeout?: number | string;
  /** Answer identical questions within a run from a cache (only real verdicts are cached). */
  cache?: boolean;
}

export const DEFAULT_VERIFICATION: Readonly<VerificationSettings> = Object.freeze({
  models: [],
  threshold: 1,
  timeout: 10_000,
  cache: false,
});

/**
 * Checks host-given options with the policy's own validator and returns them in the policy's
 * shape (timeout in milliseconds).
 *
 * @example normalizeVerificationOptions({ threshold: 0.8, timeout: "10s" }) // { threshold: 0.8, timeout: 10000 }
 * @throws UsageError naming every bad field, e.g. "verification.models[0].provider: expected ...".
 */
export function normalizeVerificationOptions(options: VerificationOptions | undefined, where = "verification"): Partial<VerificationSettings> {
  if (options === undefined) return {};
  const problems = new Problems();
  const out = validateVerification(options, [where], problems);
  if (problems.list.length > 0 || out === undefined) {
    const lines = problems.list.map((p) => `${formatField(p.field)}: ${p.message}`);
    throw new UsageError(lines.length > 0 ? lines.join("\n") : `${where}: expected an object`);
  }
  return out;
}

/**
 * Merges layers of settings, later layers winning per key, over the defaults.
 *
 * @example resolveSettings(policy.verification, kernelSettings, decision.verify).threshold
 */
export function resolveSettings(...layers: (Partial<VerificationSettings> | undefined)[]): VerificationSettings {
  const out: VerificationSettings = { ...DEFAULT_VERIFICATION, models: [] };
  for (const layer of layers) {
    if (!layer) continue;
    if (layer.models !== undefined) out.models = layer.models.map((m) => ({ ...m }));
    if (layer.threshold !== undefined) out.threshold = layer.threshold;
    if (layer.timeout !== undefined) out.timeout = layer.timeout;
    if (layer.cache !== undefined) out.cache = layer.cache;
  }
  return out;
}

/**
 * Merges partial layers without filling in defaults (for a kernel's policy + options).
 *
 * @example mergeSettings({ threshold: 0.5 }, { timeout: 5000 }) // { threshold: 0.5, timeout: 5000 }
 */
export function mergeSettings(...layers: (Partial<VerificationSettings> | undefined)[]): Partial<VerificationSettings> {
  const out: Partial<VerificationSettings> = {};
  for (const layer of layers) {
    if (layer?.models !== undefined) out.models = layer.models;
    if (layer?.threshold !== undefined) out.threshold = layer.threshold;
    if (layer?.timeout !== undefined) out.timeout = layer.timeout;
    if (layer?.cache !== undefined) out.cache = layer.cache;
  }
  return out;
}

/** "openai:gpt-4o": how a model is named in votes, reasons and the log (never with its key). */
export function modelLabel(model: ModelSpec): string {
  return `${model.provider}:${model.model}`;
}

/**
 * The environment variable a model's key comes from, or undefined when it sends none: an
 * OpenAI-compatible `baseUrl` without `apiKeyEnv` (a local server) sends no key; otherwise
 * OPENAI_API_KEY or ANTHROPIC_API_KEY unless `apiKeyEnv` names another.
 *
 * @example keyVariable({ provider: "anthropic", model: "claude-sonnet-4" }) // "ANTHROPIC_API_KEY"
 */
export function keyVariable(model: ModelSpec): string | undefined {
  if (model.apiKeyEnv) return model.apiKeyEnv;
  if (model.provider === "anthropic") return "ANTHROPIC_API_KEY";
  return model.baseUrl === undefined ? "OPENAI_API_KEY" : undefined;
}

function formatField(field: readonly (string | number)[]): string {
  return field.map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? part : `.${part}`)).join("");
}

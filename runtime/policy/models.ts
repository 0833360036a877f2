/** Validation of the `models:` block: aliases agents may call with llm.chat. */
import type { ModelAlias } from "../types.js";
import { Problems, describe, isRecord } from "./check.js";
import type { FieldPath } from "./parse.js";
import { parseDuration } from "./units.js";
import { validateModel } from "./verification.js";

/** An alias: letters, digits, ".", "_" and "-", at most 64 characters. */
export const MODEL_ALIAS = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The `models:` block (alias -> {provider, model, baseUrl?, apiKeyEnv?, timeout?}), also used
 * for `KernelOptions.models`.
 *
 * @example validateModelAliases({ fast: { provider: "openai", model: "gpt-4o-mini" } }, ["models"], problems)
 */
export function validateModelAliases(raw: unknown, field: FieldPath, problems: Problems): Record<string, ModelAlias> | undefined {
  if (!isRecord(raw)) {
    problems.add(field, `expected a mapping of model aliases (e.g. fast: { provider: openai, model: gpt-4o-mini }), got ${describe(raw)}`);
    return undefined;
  }
  const out: Record<string, ModelAlias> = {};
  for (const [alias, entry] of Object.entries(raw)) {
    const at = [...field, alias];
    if (!MODEL_ALIAS.test(alias)) {
      problems.add(at, `a model alias is letters, digits, ".", "_" or "-" (at most 64), got ${JSON.stringify(alias)}`, true);
      continue;
    }
    const spec: ModelAlias | undefined = validateModel(entry, at, problems, ["timeout"]);
    if (!spec) continue;
    const timeout = (entry as Record<string, unknown>).timeout;
    if (timeout !== undefined) {
      const parsed = parseDuration(timeout, 1);
      if (parsed.ok) spec.timeout = parsed.value;
      else problems.add([...at, "timeout"], `expected ${parsed.expected}, got ${describe(timeout)}`);
    }
    out[alias] = spec;
  }
  return out;
}

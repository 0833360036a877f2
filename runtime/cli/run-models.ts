/** `agent-os run --model ALIAS=PROVIDER:MODEL[@URL]` and `--tokens N`, as kernel options. */
import { UsageError } from "../errors.js";
import { MODEL_ALIAS } from "../policy/models.js";
import { parseCount } from "../policy/units.js";
import type { ModelAlias } from "../types.js";
import { limitFlag } from "./run-options.js";
import { parseVerifierFlag } from "./run.js";

/**
 * `--model` flags as `KernelOptions.models`. An alias given twice is refused.
 *
 * @example modelsFrom(["local=openai:llama3@http://127.0.0.1:11434/v1"]) // { models: { local: { provider: "openai", model: "llama3", baseUrl: "http://127.0.0.1:11434/v1" } } }
 * @throws UsageError naming the flag and the accepted form.
 */
export function modelsFrom(list: string[] | undefined): { models?: Record<string, ModelAlias> } {
  if (!list || list.length === 0) return {};
  const models: Record<string, ModelAlias> = Object.create(null) as Record<string, ModelAlias>;
  for (const item of list) {
    const eq = item.indexOf("=");
    const alias = eq > 0 ? item.slice(0, eq) : "";
    if (!MODEL_ALIAS.test(alias) || alias in Object.prototype) {
      throw new UsageError(`run: --model ${item}: expected ALIAS=PROVIDER:MODEL[@URL], the alias letters, digits, ".", "_" or "-" (e.g. fast=openai:gpt-4o-mini)`);
    }
    if (Object.hasOwn(models, alias)) throw new UsageError(`run: --model ${alias} is given twice`);
    let spec: ModelAlias;
    try {
      spec = parseVerifierFlag(item.slice(eq + 1));
    } catch {
      throw new UsageError(`run: --model ${item}: expected ALIAS=PROVIDER:MODEL[@URL], with PROVIDER openai or anthropic and an http(s) URL (e.g. local=openai:llama3@http://127.0.0.1:11434/v1)`);
    }
    models[alias] = spec;
  }
  return { models: { ...models } };
}

/** `--tokens N` as the tokens limit. @throws UsageError for anything but a whole number of at least 1. */
export function tokensFrom(value: unknown): { tokens?: number } {
  const tokens = limitFlag(value, parseCount, "tokens");
  return tokens === undefined ? {} : { tokens };
}

/** `agent-os run --model ALIAS=PROVIDER:MODEL[@URL]` and `--tokens N`, as kernel options. */
import { UsageError } from "../errors.js";
import { MODEL_ALIAS } from "../policy/models.js";
import { parseCount } from "../policy/units.js";
import type { ModelAlias, ModelSpec } from "../types.js";
import { limitFlag } from "./run-options.js";

const PROVIDER_MODEL = /^(openai|anthropic):([^@\s]+)(?:@(https?:\/\/\S+))?$/;

/**
 * PROVIDER:MODEL, optionally @ an http(s) base URL (as `--verifier` and `--model` write a model);
 * undefined when the text is not that.
 *
 * @example parseProviderModel("openai:llama3@http://127.0.0.1:11434/v1") // { provider: "openai", model: "llama3", baseUrl: "http://127.0.0.1:11434/v1" }
 */
export function parseProviderModel(value: string): ModelSpec | undefined {
  const m = PROVIDER_MODEL.exec(value);
  if (!m || (m[3] !== undefined && !URL.canParse(m[3]))) return undefined;
  const provider = m[1] as ModelSpec["provider"];
  return m[3] === undefined ? { provider, model: m[2] } : { provider, model: m[2], baseUrl: m[3] };
}

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
    const spec: ModelAlias | undefined = parseProviderModel(item.slice(eq + 1));
    if (!spec) {
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

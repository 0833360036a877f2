/**
 * Anthropic's messages API: `POST {baseUrl}/v1/messages` (a baseUrl that already ends in /v1
 * gets `/messages`) with headers `x-api-key` and `anthropic-version: 2023-06-01`, body
 * `{model, max_tokens, temperature: 0, system, messages: [user]}`; the answer is the first
 * block of `content` whose type is "text".
 */
import { ProviderFailure, endpoint, postJson, type Provider } from "./http.js";

export const ANTHROPIC_BASE_URL = "https://api.anthropic.com";
export const ANTHROPIC_VERSION = "2023-06-01";
/** Enough for the verdict object with a sentence of reason. */
const MAX_TOKENS = 512;

/**
 * Asks one Anthropic model.
 *
 * @example const text = await askAnthropic({ model: { provider: "anthropic", model: "claude-sonnet-4" }, prompt, apiKey, signal });
 */
export const askAnthropic: Provider = async ({ model, prompt, apiKey, signal }) => {
  if (!apiKey) throw new ProviderFailure("no-key", "Anthropic's API needs a key");
  const base = model.baseUrl ?? ANTHROPIC_BASE_URL;
  const url = /\/v1\/?$/.test(base) ? endpoint(base, "/messages") : endpoint(base, "/v1/messages");
  const body = {
    model: model.model,
    max_tokens: MAX_TOKENS,
    temperature: 0,
    system: prompt.system,
    messages: [{ role: "user", content: prompt.user }],
  };
  const json = await postJson(url, { "x-api-key": apiKey, "anthropic-version": ANTHROPIC_VERSION }, body, signal, [apiKey]);
  const content = (json as { content?: unknown } | null)?.content;
  const block = Array.isArray(content) ? (content as { type?: unknown; text?: unknown }[]).find((b) => b?.type === "text") : undefined;
  if (typeof block?.text !== "string") throw new ProviderFailure("bad-response", "the response has no text block in content");
  return block.text;
};

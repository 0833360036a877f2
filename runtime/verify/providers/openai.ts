/**
 * OpenAI-compatible chat completions (OpenAI, Ollama, vLLM, LM Studio, ...):
 * `POST {baseUrl}/chat/completions` with `Authorization: Bearer <key>` when there is a key,
 * body `{model, messages: [system, user], temperature: 0}`; the answer is
 * `choices[0].message.content`.
 */
import { ProviderFailure, endpoint, postJson, type Provider } from "./http.js";

export const OPENAI_BASE_URL = "https://api.openai.com/v1";

/**
 * Asks one OpenAI-compatible model.
 *
 * @example const text = await askOpenAI({ model: { provider: "openai", model: "gpt-4o" }, prompt, apiKey, signal });
 */
export const askOpenAI: Provider = async ({ model, prompt, apiKey, signal }) => {
  const headers: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
  const body = {
    model: model.model,
    messages: [
      { role: "system", content: prompt.system },
      { role: "user", content: prompt.user },
    ],
    temperature: 0,
  };
  const json = await postJson(endpoint(model.baseUrl ?? OPENAI_BASE_URL, "/chat/completions"), headers, body, signal, apiKey ? [apiKey] : []);
  const choices = (json as { choices?: unknown } | null)?.choices;
  const content = Array.isArray(choices) ? (choices[0] as { message?: { content?: unknown } } | undefined)?.message?.content : undefined;
  if (typeof content !== "string") throw new ProviderFailure("bad-response", "the response has no choices[0].message.content text");
  return content;
};

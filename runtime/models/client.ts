/**
 * One model call over HTTP, for both wire formats: build, POST (postJson: no redirects, bounded
 * in size and time), parse. Cross-model verification asks its question through `askOpenAI` /
 * `askAnthropic`; the llm capability sends whole chats through `sendChat`.
 */
import type { ModelSpec } from "../types.js";
import { buildAnthropicRequest, parseAnthropicResponse } from "./anthropic.js";
import { ProviderFailure, postJson, secretForms, type Provider } from "./http.js";
import { buildOpenAIRequest, parseOpenAIResponse } from "./openai.js";
import type { ChatRequest, ParsedAnswer, WireRequest } from "./types.js";

/** What verification's question costs at most: the verdict object with a sentence of reason. */
const VERDICT_MAX_TOKENS = 512;

const BUILD: Record<ModelSpec["provider"], (model: ModelSpec, request: ChatRequest, apiKey: string | undefined) => WireRequest> = {
  openai: buildOpenAIRequest,
  anthropic: buildAnthropicRequest,
};
const PARSE: Record<ModelSpec["provider"], (json: unknown, fallbackModel: string) => ParsedAnswer> = {
  openai: parseOpenAIResponse,
  anthropic: parseAnthropicResponse,
};

/**
 * Sends a chat to a model and parses its answer (token counts the provider did not give are -1).
 *
 * @example const answer = await sendChat(spec, request, { apiKey: process.env.OPENAI_API_KEY, signal });
 * @throws ProviderFailure ("timeout", "network", "http", "bad-response"); no message holds the key.
 */
export async function sendChat(model: ModelSpec, request: ChatRequest, options: { apiKey: string | undefined; signal: AbortSignal }): Promise<ParsedAnswer> {
  const wire = BUILD[model.provider](model, request, options.apiKey);
  const secrets = options.apiKey ? secretForms(options.apiKey) : [];
  const json = await postJson(wire.url, wire.headers, wire.body, options.signal, secrets);
  return PARSE[model.provider](json, model.model);
}

/** A verification question as a chat: system and user, temperature 0. */
function question(prompt: { system: string; user: string }, maxTokens: number | undefined): ChatRequest {
  return {
    model: "",
    messages: [
      { role: "system", content: prompt.system, toolCalls: [] },
      { role: "user", content: prompt.user, toolCalls: [] },
    ],
    tools: [],
    temperature: 0,
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    stop: [],
    json: false,
  };
}

/**
 * Asks one OpenAI-compatible model a verification question; resolves with its text.
 *
 * @example const text = await askOpenAI({ model: { provider: "openai", model: "gpt-4o" }, prompt, apiKey, signal });
 */
export const askOpenAI: Provider = async ({ model, prompt, apiKey, signal }) => {
  const answer = await sendChat(model, question(prompt, undefined), { apiKey, signal });
  if (answer.content === null) throw new ProviderFailure("bad-response", "the response has no choices[0].message.content text");
  return answer.content;
};

/**
 * Asks one Anthropic model a verification question; resolves with its text.
 *
 * @example const text = await askAnthropic({ model: { provider: "anthropic", model: "claude-sonnet-4" }, prompt, apiKey, signal });
 */
export const askAnthropic: Provider = async ({ model, prompt, apiKey, signal }) => {
  if (!apiKey) throw new ProviderFailure("no-key", "Anthropic's API needs a key");
  const answer = await sendChat(model, question(prompt, VERDICT_MAX_TOKENS), { apiKey, signal });
  if (answer.content === null) throw new ProviderFailure("bad-response", "the response has no text block in content");
  return answer.content;
};

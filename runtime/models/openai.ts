/**
 * OpenAI-compatible chat completions (OpenAI, Ollama, vLLM, LM Studio, ...): one request builder
 * and one response parser, pure functions. `POST {baseUrl}/chat/completions` with
 * `Authorization: Bearer <key>` when there is a key; tools as `{type: "function", function}`,
 * tool calls as `tool_calls` with `arguments` as JSON text, JSON mode as `response_format`.
 */
import type { ModelSpec } from "../types.js";
import { ProviderFailure, endpoint } from "./http.js";
import type { ChatMessage, ChatRequest, FinishReason, ParsedAnswer, ToolCall, WireRequest } from "./types.js";

export const OPENAI_BASE_URL = "https://api.openai.com/v1";

/**
 * The HTTP request for a chat (fields the request leaves unset are not sent).
 *
 * @example buildOpenAIRequest({ provider: "openai", model: "gpt-4o-mini" }, request, key).url // "https://api.openai.com/v1/chat/completions"
 */
export function buildOpenAIRequest(model: ModelSpec, request: ChatRequest, apiKey: string | undefined): WireRequest {
  const body: Record<string, unknown> = { model: model.model, messages: request.messages.map(wireMessage) };
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
  if (request.stop.length > 0) body.stop = request.stop;
  if (request.tools.length > 0) {
    body.tools = request.tools.map((t) => ({ type: "function", function: { name: t.name, description: t.description, parameters: JSON.parse(t.parameters) as unknown } }));
  }
  if (request.json) body.response_format = { type: "json_object" };
  return { url: endpoint(model.baseUrl ?? OPENAI_BASE_URL, "/chat/completions"), headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {}, body };
}

function wireMessage(m: ChatMessage): Record<string, unknown> {
  switch (m.role) {
    case "assistant":
      if (m.toolCalls.length === 0) return { role: "assistant", content: m.content };
      return {
        role: "assistant",
        content: m.content === "" ? null : m.content,
        tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })),
      };
    case "tool":
      return { role: "tool", tool_call_id: m.toolCallId, content: m.content };
    default:
      return { role: m.role, content: m.content };
  }
}

const FINISH: Readonly<Record<string, FinishReason>> = {
  stop: "stop",
  length: "length",
  tool_calls: "tool-calls",
  function_call: "tool-calls",
  content_filter: "content-filter",
};

/**
 * Reads `choices[0].message` (content, tool_calls), `finish_reason`, `usage` and `model`.
 *
 * @example parseOpenAIResponse(json, "gpt-4o-mini").toolCalls[0].arguments // '{"path":"/w/a"}'
 * @throws ProviderFailure "bad-response" for anything that is not that shape.
 */
export function parseOpenAIResponse(json: unknown, fallbackModel: string): ParsedAnswer {
  const choices = (json as { choices?: unknown } | null)?.choices;
  const choice = Array.isArray(choices) ? (choices[0] as { message?: unknown; finish_reason?: unknown } | undefined) : undefined;
  const message = choice?.message as { content?: unknown; tool_calls?: unknown } | undefined;
  if (typeof message !== "object" || message === null) throw new ProviderFailure("bad-response", "the response has no choices[0].message");
  const content = message.content;
  if (content !== undefined && content !== null && typeof content !== "string") throw new ProviderFailure("bad-response", "choices[0].message.content is not text");
  const toolCalls = parseToolCalls(message.tool_calls);
  const reason = typeof choice?.finish_reason === "string" ? choice.finish_reason : "";
  const usage = (json as { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } }).usage;
  const modelName = (json as { model?: unknown }).model;
  return {
    content: typeof content === "string" ? content : null,
    toolCalls,
    finishReason: FINISH[reason] ?? (toolCalls.length > 0 ? "tool-calls" : "other"),
    usage: { inputTokens: count(usage?.prompt_tokens, "prompt_tokens"), outputTokens: count(usage?.completion_tokens, "completion_tokens") },
    model: typeof modelName === "string" && modelName !== "" ? modelName : fallbackModel,
  };
}

function parseToolCalls(raw: unknown): ToolCall[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ProviderFailure("bad-response", "choices[0].message.tool_calls is not a list");
  return raw.map((item: unknown, i) => {
    const call = item as { id?: unknown; function?: { name?: unknown; arguments?: unknown } } | null;
    const fn = call?.function;
    if (typeof call?.id !== "string" || typeof fn?.name !== "string" || typeof fn.arguments !== "string") {
      throw new ProviderFailure("bad-response", `tool_calls[${i}] lacks an id, a function name or arguments text`);
    }
    return { id: call.id, name: fn.name, arguments: jsonText(fn.arguments === "" ? "{}" : fn.arguments, `tool_calls[${i}].function.arguments`) };
  });
}

/** A model's tool-call arguments, checked to be a JSON object (so that the guest's JSON.parse gives one). */
export function jsonText(text: string, where: string): string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProviderFailure("bad-response", `${where} is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ProviderFailure("bad-response", `${where} is not a JSON object`);
  return text;
}

/** A token count from `usage`; -1 when absent (the caller estimates). */
export function count(value: unknown, where: string): number {
  if (value === undefined || value === null) return -1;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new ProviderFailure("bad-response", `usage.${where} is not a token count`);
  return value;
}

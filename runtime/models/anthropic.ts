/**
 * Anthropic's messages API: one request builder and one response parser, pure functions.
 * `POST {baseUrl}/v1/messages` (a baseUrl that already ends in /v1 gets `/messages`) with
 * `x-api-key` and `anthropic-version: 2023-06-01`; system messages go to `system`, tool calls are
 * `tool_use` blocks (input an object), tool results are `tool_result` blocks in a user turn.
 * The API has no JSON mode: `json` adds an instruction to the system text.
 */
import type { ModelSpec } from "../types.js";
import { ProviderFailure, endpoint } from "./http.js";
import { count } from "./openai.js";
import type { ChatMessage, ChatRequest, FinishReason, ParsedAnswer, ToolCall, WireRequest } from "./types.js";

export const ANTHROPIC_BASE_URL = "https://api.anthropic.com";
export const ANTHROPIC_VERSION = "2023-06-01";
/** The API requires max_tokens; used when a request gives none. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;
export const JSON_INSTRUCTION = "Answer with one JSON object and nothing else.";

type Block = Record<string, unknown>;
type Turn = { role: "user" | "assistant"; content: string | Block[] };

/**
 * The HTTP request for a chat.
 *
 * @example buildAnthropicRequest({ provider: "anthropic", model: "claude-sonnet-4" }, request, key).url // "https://api.anthropic.com/v1/messages"
 */
export function buildAnthropicRequest(model: ModelSpec, request: ChatRequest, apiKey: string | undefined): WireRequest {
  const base = model.baseUrl ?? ANTHROPIC_BASE_URL;
  const url = /\/v1\/?$/.test(base) ? endpoint(base, "/messages") : endpoint(base, "/v1/messages");
  const system = request.messages.filter((m) => m.role === "system").map((m) => m.content);
  if (request.json) system.push(JSON_INSTRUCTION);
  const body: Record<string, unknown> = { model: model.model, max_tokens: request.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS };
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (system.length > 0) body.system = system.join("\n\n");
  body.messages = turns(request.messages.filter((m) => m.role !== "system"));
  if (request.stop.length > 0) body.stop_sequences = request.stop;
  if (request.tools.length > 0) body.tools = request.tools.map((t) => ({ name: t.name, description: t.description, input_schema: JSON.parse(t.parameters) as unknown }));
  return { url, headers: { ...(apiKey ? { "x-api-key": apiKey } : {}), "anthropic-version": ANTHROPIC_VERSION }, body };
}

/** Messages as turns: tool results become user turns, and turns of one role in a row are merged. */
function turns(messages: ChatMessage[]): Turn[] {
  const out: Turn[] = [];
  for (const m of messages) {
    const turn = turnOf(m);
    const last = out[out.length - 1];
    if (last && last.role === turn.role) last.content = [...blocks(last.content), ...blocks(turn.content)];
    else out.push(turn);
  }
  return out;
}

function turnOf(m: ChatMessage): Turn {
  if (m.role === "tool") return { role: "user", content: [{ type: "tool_result", tool_use_id: m.toolCallId, content: m.content }] };
  if (m.role === "assistant" && m.toolCalls.length > 0) {
    const uses = m.toolCalls.map((c) => ({ type: "tool_use", id: c.id, name: c.name, input: JSON.parse(c.arguments) as unknown }));
    return { role: "assistant", content: m.content === "" ? uses : [{ type: "text", text: m.content }, ...uses] };
  }
  return { role: m.role === "assistant" ? "assistant" : "user", content: m.content };
}

function blocks(content: string | Block[]): Block[] {
  return typeof content === "string" ? [{ type: "text", text: content }] : content;
}

const FINISH: Readonly<Record<string, FinishReason>> = {
  end_turn: "stop",
  stop_sequence: "stop",
  max_tokens: "length",
  tool_use: "tool-calls",
  refusal: "content-filter",
};

/**
 * Reads `content` (text blocks joined, `tool_use` blocks as tool calls), `stop_reason`, `usage`
 * and `model`; other blocks (thinking) are skipped.
 *
 * @throws ProviderFailure "bad-response" for anything that is not that shape.
 */
export function parseAnthropicResponse(json: unknown, fallbackModel: string): ParsedAnswer {
  const content = (json as { content?: unknown } | null)?.content;
  if (!Array.isArray(content)) throw new ProviderFailure("bad-response", "the response has no content list");
  const texts: string[] = [];
  const toolCalls: ToolCall[] = [];
  content.forEach((raw: unknown, i) => {
    const block = raw as { type?: unknown; text?: unknown; id?: unknown; name?: unknown; input?: unknown } | null;
    if (block?.type === "text") {
      if (typeof block.text !== "string") throw new ProviderFailure("bad-response", `content[${i}].text is not text`);
      texts.push(block.text);
    } else if (block?.type === "tool_use") {
      if (typeof block.id !== "string" || typeof block.name !== "string" || typeof block.input !== "object" || block.input === null) {
        throw new ProviderFailure("bad-response", `content[${i}] (tool_use) lacks an id, a name or an input object`);
      }
      toolCalls.push({ id: block.id, name: block.name, arguments: JSON.stringify(block.input) });
    }
  });
  const j = json as { stop_reason?: unknown; usage?: { input_tokens?: unknown; output_tokens?: unknown }; model?: unknown };
  const reason = typeof j.stop_reason === "string" ? j.stop_reason : "";
  return {
    content: texts.length > 0 ? texts.join("") : null,
    toolCalls,
    finishReason: FINISH[reason] ?? (toolCalls.length > 0 ? "tool-calls" : "other"),
    usage: { inputTokens: count(j.usage?.input_tokens, "input_tokens"), outputTokens: count(j.usage?.output_tokens, "output_tokens") },
    model: typeof j.model === "string" && j.model !== "" ? j.model : fallbackModel,
  };
}

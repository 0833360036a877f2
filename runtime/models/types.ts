/**
 * A chat with a model, as the kernel carries it: the `llm` interface of wit/kernel.wit in its
 * host shape (camelCase fields; what is arbitrary JSON travels as JSON text). The provider
 * clients (openai.ts, anthropic.ts) turn it into their wire formats and back.
 */

export type ChatRole = "system" | "user" | "assistant" | "tool";

/** Why the model stopped: done, out of tokens, asking for tools, filtered, or anything else. */
export const FINISH_REASONS = ["stop", "length", "tool-calls", "content-filter", "other"] as const;
export type FinishReason = (typeof FINISH_REASONS)[number];

/** A tool the model asked for: `arguments` is JSON text (the guest SDK parses it). */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

export interface ChatMessage {
  role: ChatRole;
  content: string;
  /** Assistant messages only. */
  toolCalls: ToolCall[];
  /** Tool messages only: the call this answers. */
  toolCallId?: string;
}

/** A tool the model may call: `parameters` is a JSON Schema as JSON text. */
export interface ToolSpec {
  name: string;
  description: string;
  parameters: string;
}

/** One chat request: `model` is the host's alias, never a URL. */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  tools: ToolSpec[];
  maxTokens?: number;
  temperature?: number;
  stop: string[];
  json: boolean;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

/** The answer: `model` is what the provider says answered (e.g. "gpt-4o-mini-2024-07-18"). */
export interface ChatResponse {
  content: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  usage: TokenUsage;
  model: string;
}

/** A provider's answer as parsed: `content` is null when it held no text at all. */
export type ParsedAnswer = Omit<ChatResponse, "content"> & { content: string | null };

/** What a provider client sends: the URL, the headers (with the key) and the JSON body. */
export interface WireRequest {
  url: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/**
 * The model clients shared by cross-model verification and the llm capability: OpenAI-compatible
 * chat completions and Anthropic messages, each one request builder and one response parser.
 */
export { ProviderFailure, postJson, scrub, secretForms, endpoint, MAX_RESPONSE_BYTES, type FailureKind, type Provider, type ProviderCall } from "./http.js";
export { OPENAI_BASE_URL, buildOpenAIRequest, parseOpenAIResponse } from "./openai.js";
export { ANTHROPIC_BASE_URL, ANTHROPIC_VERSION, ANTHROPIC_DEFAULT_MAX_TOKENS, buildAnthropicRequest, parseAnthropicResponse } from "./anthropic.js";
export { askAnthropic, askOpenAI, sendChat } from "./client.js";
export { FINISH_REASONS, type ChatMessage, type ChatRequest, type ChatResponse, type ChatRole, type FinishReason, type ParsedAnswer, type TokenUsage, type ToolCall, type ToolSpec, type WireRequest } from "./types.js";
export { checkChatRequest } from "./validate.js";

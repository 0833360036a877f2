/**
 * Checks an llm.chat request before the policy sees it: a malformed message list or tool is
 * `invalid`, naming what is wrong and where, and nothing is sent. Pure (replay runs it too).
 */
import { GuestError } from "../errors.js";
import type { ChatMessage, ChatRequest, ToolSpec } from "./types.js";

/** What a provider accepts as a tool name (OpenAI's rule; Anthropic's is the same). */
const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_MESSAGES = 10_000;
const MAX_TOOLS = 128;
const MAX_STOP = 16;

function invalid(what: string): GuestError {
  return new GuestError({ tag: "invalid", val: `llm.chat: ${what}` });
}

/**
 * @example checkChatRequest({ model: "fast", messages: [], tools: [], stop: [], json: false }) // throws "llm.chat: messages is empty"
 * @throws GuestError `invalid`.
 */
export function checkChatRequest(request: ChatRequest): void {
  if (request.model === "") throw invalid("model is empty (name a model alias the host configured)");
  if (request.messages.length === 0) throw invalid("messages is empty");
  if (request.messages.length > MAX_MESSAGES) throw invalid(`more than ${MAX_MESSAGES} messages`);
  const callIds = new Set<string>();
  request.messages.forEach((m, i) => checkMessage(m, `messages[${i}]`, callIds));
  if (request.tools.length > MAX_TOOLS) throw invalid(`more than ${MAX_TOOLS} tools`);
  const names = new Set<string>();
  request.tools.forEach((t, i) => {
    checkTool(t, `tools[${i}]`);
    if (names.has(t.name)) throw invalid(`tools[${i}].name: ${JSON.stringify(t.name)} is named twice`);
    names.add(t.name);
  });
  if (request.maxTokens !== undefined && request.maxTokens < 1) throw invalid("maxTokens must be at least 1");
  const t = request.temperature;
  if (t !== undefined && !(Number.isFinite(t) && t >= 0 && t <= 2)) throw invalid("temperature must be a number from 0 to 2");
  if (request.stop.length > MAX_STOP) throw invalid(`stop has more than ${MAX_STOP} sequences`);
  request.stop.forEach((s, i) => {
    if (s === "") throw invalid(`stop[${i}] is empty`);
  });
}

function checkMessage(m: ChatMessage, where: string, callIds: Set<string>): void {
  if (m.role !== "assistant" && m.toolCalls.length > 0) throw invalid(`${where}: only an assistant message has toolCalls`);
  if (m.role === "tool") {
    if (m.toolCallId === undefined || m.toolCallId === "") throw invalid(`${where}: a tool message needs the toolCallId it answers`);
    if (!callIds.has(m.toolCallId)) throw invalid(`${where}: toolCallId ${JSON.stringify(m.toolCallId)} answers no tool call of an earlier assistant message`);
  } else if (m.toolCallId !== undefined) throw invalid(`${where}: only a tool message has a toolCallId`);
  m.toolCalls.forEach((c, j) => {
    const at = `${where}.toolCalls[${j}]`;
    if (c.id === "") throw invalid(`${at}.id is empty`);
    if (!TOOL_NAME.test(c.name)) throw invalid(`${at}.name must be 1 to 64 letters, digits, "_" or "-"`);
    if (!isJsonObject(c.arguments)) throw invalid(`${at}.arguments must be a JSON object`);
    callIds.add(c.id);
  });
}

function checkTool(t: ToolSpec, where: string): void {
  if (!TOOL_NAME.test(t.name)) throw invalid(`${where}.name must be 1 to 64 letters, digits, "_" or "-"`);
  let schema: unknown;
  try {
    schema = JSON.parse(t.parameters);
  } catch {
    throw invalid(`${where}.parameters is not JSON`);
  }
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) throw invalid(`${where}.parameters must be a JSON Schema object`);
  const type = (schema as { type?: unknown }).type;
  if (type !== undefined && type !== "object") throw invalid(`${where}.parameters: a tool's schema has type "object" (the arguments are one object)`);
  const properties = (schema as { properties?: unknown }).properties;
  if (properties !== undefined && (typeof properties !== "object" || properties === null || Array.isArray(properties))) {
    throw invalid(`${where}.parameters.properties must be an object`);
  }
}

function isJsonObject(text: string): boolean {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

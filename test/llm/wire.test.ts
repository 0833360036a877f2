/**
 * The provider clients' pure parts, on recorded bodies: request builders, response parsers and
 * the key's scrub forms.
 */
import { describe, expect, it } from "vitest";
import { buildAnthropicRequest, buildOpenAIRequest, parseAnthropicResponse, parseOpenAIResponse, scrub, secretForms, type ChatRequest } from "../../dist/runtime/models/index.js";

const base: ChatRequest = { model: "alias", messages: [], tools: [], stop: [], json: false };

describe("Anthropic requests", () => {
  it("joins system messages, and merges parallel tool results into one user turn", () => {
    const request: ChatRequest = {
      ...base,
      messages: [
        { role: "system", content: "a", toolCalls: [] },
        { role: "system", content: "b", toolCalls: [] },
        { role: "user", content: "q", toolCalls: [] },
        { role: "assistant", content: "thinking", toolCalls: [{ id: "1", name: "f", arguments: '{"x":1}' }, { id: "2", name: "g", arguments: "{}" }] },
        { role: "tool", toolCallId: "1", content: "r1", toolCalls: [] },
        { role: "tool", toolCallId: "2", content: "r2", toolCalls: [] },
      ],
    };
    const wire = buildAnthropicRequest({ provider: "anthropic", model: "m", baseUrl: "http://h/v1" }, request, undefined);
    expect(wire.url).toBe("http://h/v1/messages");
    expect(wire.headers).toEqual({ "anthropic-version": "2023-06-01" });
    expect(wire.body.system).toBe("a\n\nb");
    expect(wire.body.messages).toEqual([
      { role: "user", content: "q" },
      { role: "assistant", content: [{ type: "text", text: "thinking" }, { type: "tool_use", id: "1", name: "f", input: { x: 1 } }, { type: "tool_use", id: "2", name: "g", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "1", content: "r1" }, { type: "tool_result", tool_use_id: "2", content: "r2" }] },
    ]);
  });
});

describe("responses", () => {
  it("OpenAI: maps finish reasons, keeps arguments as JSON text, marks missing usage as unknown (-1)", () => {
    const parsed = parseOpenAIResponse({ choices: [{ message: { content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "" } }] }, finish_reason: "tool_calls" }] }, "fallback");
    expect(parsed).toEqual({ content: null, toolCalls: [{ id: "c", name: "f", arguments: "{}" }], finishReason: "tool-calls", usage: { inputTokens: -1, outputTokens: -1 }, model: "fallback" });
    expect(parseOpenAIResponse({ choices: [{ message: { content: "x" }, finish_reason: "length" }], usage: { prompt_tokens: 3, completion_tokens: 4 }, model: "m-2" }, "f")).toMatchObject({ finishReason: "length", usage: { inputTokens: 3, outputTokens: 4 }, model: "m-2" });
    expect(() => parseOpenAIResponse({ choices: [{ message: { content: 5 } }] }, "f")).toThrow(/not text/);
    expect(() => parseOpenAIResponse({ choices: [{ message: { tool_calls: [{ id: "c", function: { name: "f", arguments: "[1]" } }] } }] }, "f")).toThrow(/arguments is not a JSON object/);
    expect(() => parseOpenAIResponse({ choices: [{ message: { content: "x" } }], usage: { prompt_tokens: -1 } }, "f")).toThrow(/not a token count/);
  });

  it("Anthropic: joins text blocks, skips thinking, turns tool_use into tool calls, maps stop reasons", () => {
    const parsed = parseAnthropicResponse(
      { content: [{ type: "thinking", thinking: "hm" }, { type: "text", text: "a" }, { type: "text", text: "b" }, { type: "tool_use", id: "t", name: "f", input: { k: [1] } }], stop_reason: "max_tokens", usage: { input_tokens: 1, output_tokens: 2 } },
      "fallback",
    );
    expect(parsed).toEqual({ content: "ab", toolCalls: [{ id: "t", name: "f", arguments: '{"k":[1]}' }], finishReason: "length", usage: { inputTokens: 1, outputTokens: 2 }, model: "fallback" });
    expect(() => parseAnthropicResponse({ content: [{ type: "tool_use", id: "t", name: "f", input: "x" }] }, "f")).toThrow(/input object/);
  });
});

describe("OpenAI requests", () => {
  it("sends only what the request sets", () => {
    const wire = buildOpenAIRequest({ provider: "openai", model: "m" }, { ...base, messages: [{ role: "user", content: "hi", toolCalls: [] }] }, undefined);
    expect(wire).toEqual({ url: "https://api.openai.com/v1/chat/completions", headers: {}, body: { model: "m", messages: [{ role: "user", content: "hi" }] } });
  });
});

describe("the key's scrub forms", () => {
  const key = "sk-test-abcdefghijklmnop0123";
  it.each([0, 1, 2, 5])("hide it in base64 and base64url with %i bytes before it", (pad) => {
    const text = "x".repeat(pad) + key + "tail";
    for (const encoded of [Buffer.from(text).toString("base64"), Buffer.from(text).toString("base64url")]) {
      const scrubbed = scrub(encoded, secretForms(key));
      expect(scrubbed).toContain("[redacted]");
      // What is left decodes to no more than a few bytes of the key at either end.
      const left = scrubbed.split("[redacted]").join("");
      expect(Buffer.from(left, "base64").toString("latin1")).not.toContain(key.slice(3, 12));
    }
  });

  it("hide it raw, URL-encoded and in hex", () => {
    const forms = secretForms(key + "/+");
    const text = `${key}/+ ${encodeURIComponent(key + "/+")} ${Buffer.from(key + "/+").toString("hex")} ${Buffer.from(key + "/+").toString("hex").toUpperCase()}`;
    expect(scrub(text, forms)).toBe("[redacted] [redacted] [redacted] [redacted]");
  });
});

/**
 * llm.chat end to end on QuickJS: a real agent in a real isolate, the real kernel and gate,
 * real clients and a scripted server on 127.0.0.1 speaking OpenAI chat completions and
 * Anthropic messages. Checks what the server received (path, headers, body) and what the agent,
 * the run's result and the log saw.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { KernelSpace, UsageError, startScriptedModel, type LoggedEvent, type ScriptStep, type ScriptedModel } from "../../dist/runtime/index.js";
import { ADDER, ANTHROPIC_ENV, ANTHROPIC_KEY, CALLER, OPENAI_ENV, OPENAI_KEY, closeKernels, kernel, llmPolicy, modelsAt } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "agent-os-llm-"));
const toolAgentFile = ADDER;
const oneCallFile = CALLER;
const servers: ScriptedModel[] = [];

beforeAll(() => {
  process.env[OPENAI_ENV] = OPENAI_KEY;
  process.env[ANTHROPIC_ENV] = ANTHROPIC_KEY;
  mkdirSync(join(dir, "caller"));
});
afterEach(async () => {
  await closeKernels();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(() => {
  delete process.env[OPENAI_ENV];
  delete process.env[ANTHROPIC_ENV];
  rmSync(dir, { recursive: true, force: true });
});

async function serve(script: ScriptStep[] | ((req: never, i: number) => ScriptStep)): Promise<ScriptedModel> {
  const server = await startScriptedModel(script as ScriptStep[]);
  servers.push(server);
  return server;
}

const TOOL_SCRIPT: ScriptStep[] = [
  { toolCalls: [{ id: "call_1", name: "add", arguments: { a: 2, b: 3 } }], usage: { input: 40, output: 12 } },
  { content: "2 + 3 = 5", usage: { input: 60, output: 7 } },
];

async function oneCall(k: KernelSpace, options: Record<string, unknown>): Promise<{ ok?: Record<string, unknown>; error?: { name: string; kind: string | null; message: string } }> {
  const agent = await k.load(oneCallFile);
  const result = await k.execute(agent, JSON.stringify(options));
  expect(result.status, result.error).toBe("ok");
  return JSON.parse(result.output!) as never;
}

describe("a tool-call round trip", () => {
  it("OpenAI chat completions: tools and tool calls in OpenAI's wire format, arguments parsed for the agent", async () => {
    const server = await serve(TOOL_SCRIPT);
    const k = kernel({ policy: llmPolicy(), models: modelsAt(server.url) });
    const result = await k.execute(await k.load(toolAgentFile), JSON.stringify({ model: "gpt", maxTokens: 100 }));
    expect(result.status, result.error).toBe("ok");
    const out = JSON.parse(result.output!);
    expect(out.answer).toBe("2 + 3 = 5");
    expect(out.seen[0]).toMatchObject({ finishReason: "tool-calls", calls: [{ id: "call_1", name: "add", arguments: { a: 2, b: 3 } }], argType: ["object"], usage: { inputTokens: 40, outputTokens: 12 }, model: "gpt-test (scripted)" });
    expect(out.seen[1]).toMatchObject({ finishReason: "stop", calls: [] });
    expect(result.usage.tokens).toEqual({ input: 100, output: 19 });

    expect(server.requests).toHaveLength(2);
    const [first, second] = server.requests;
    expect(first.path).toBe("/v1/chat/completions");
    expect(first.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect(first.body).toEqual({
      model: "gpt-test",
      messages: [
        { role: "system", content: "You add." },
        { role: "user", content: "What is 2 + 3?" },
      ],
      temperature: 0,
      max_tokens: 100,
      stop: ["END"],
      tools: [{ type: "function", function: { name: "add", description: "Adds two numbers", parameters: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } }, required: ["a", "b"] } } }],
    });
    expect((second.body.messages as unknown[]).slice(2)).toEqual([
      { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "add", arguments: '{"a":2,"b":3}' } }] },
      { role: "tool", tool_call_id: "call_1", content: "5" },
    ]);
  });

  it("Anthropic messages: system apart, tool_use and tool_result blocks, x-api-key and anthropic-version", async () => {
    const server = await serve(TOOL_SCRIPT);
    const k = kernel({ policy: llmPolicy(), models: modelsAt(server.url) });
    const result = await k.execute(await k.load(toolAgentFile), JSON.stringify({ model: "claude" }));
    expect(result.status, result.error).toBe("ok");
    const out = JSON.parse(result.output!);
    expect(out.answer).toBe("2 + 3 = 5");
    expect(out.seen[0]).toMatchObject({ finishReason: "tool-calls", calls: [{ id: "call_1", name: "add", arguments: { a: 2, b: 3 } }] });
    const [first, second] = server.requests;
    expect(first.path).toBe("/v1/messages");
    expect(first.headers["x-api-key"]).toBe(ANTHROPIC_KEY);
    expect(first.headers["anthropic-version"]).toBe("2023-06-01");
    expect(first.headers.authorization).toBeUndefined();
    expect(first.body).toEqual({
      model: "claude-test",
      max_tokens: 4096, // limits.maxTokensPerCall's default, as the agent gave none
      temperature: 0,
      system: "You add.",
      messages: [{ role: "user", content: "What is 2 + 3?" }],
      stop_sequences: ["END"],
      tools: [{ name: "add", description: "Adds two numbers", input_schema: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } }, required: ["a", "b"] } }],
    });
    expect((second.body.messages as unknown[]).slice(1)).toEqual([
      { role: "assistant", content: [{ type: "tool_use", id: "call_1", name: "add", input: { a: 2, b: 3 } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "call_1", content: "5" }] },
    ]);
    expect(result.usage.tokens).toEqual({ input: 100, output: 19 });
  });

  it("JSON mode: response_format for OpenAI, an instruction in system for Anthropic", async () => {
    const server = await serve([{ content: '{"x":1}' }]);
    const k = kernel({ policy: llmPolicy(), models: modelsAt(server.url) });
    for (const model of ["gpt", "claude"]) {
      const out = await oneCall(k, { model, messages: [{ role: "user", content: "json please" }], json: true });
      expect(out.ok).toMatchObject({ content: '{"x":1}', finishReason: "stop" });
    }
    expect(server.requests[0].body.response_format).toEqual({ type: "json_object" });
    expect(server.requests[1].body.system).toMatch(/one JSON object/);
  });
});

describe("the token budget", () => {
  it("refuses a call whose maxTokens would pass limits.tokens with `limit`, before anything is sent", async () => {
    const server = await serve([{ content: "fine", usage: { input: 300, output: 200 } }]);
    const k = kernel({ policy: llmPolicy({ limits: { tokens: 1000, maxTokensPerCall: 400 } }), models: modelsAt(server.url) });
    const agent = await k.load(oneCallFile);
    const first = JSON.parse((await k.execute(agent, JSON.stringify({ model: "gpt", messages: [{ role: "user", content: "hi" }] }))).output!);
    expect(first.ok.content).toBe("fine");
    expect(server.requests).toHaveLength(1);
    // A run of its own: 0 used; maxTokens above maxTokensPerCall is refused.
    const over = JSON.parse((await k.execute(agent, JSON.stringify({ model: "gpt", messages: [{ role: "user", content: "hi" }], maxTokens: 401 }))).output!);
    expect(over.error).toMatchObject({ kind: "limit" });
    expect(over.error.message).toMatch(/maxTokensPerCall/);
    expect(server.requests).toHaveLength(1);
  });

  it("counts the run's tokens from the providers' usage and refuses the call that would pass the budget (the server saw nothing)", async () => {
    const server = await serve([{ content: "one", usage: { input: 300, output: 200 } }]);
    const k = kernel({ policy: llmPolicy({ limits: { tokens: 800, maxTokensPerCall: 400 } }), models: modelsAt(server.url) });
    writeFileSync(join(dir, "caller", "twice.js"), `import { llm } from "agent-os/guest";
export async function run() {
  const ask = () => llm.chat({ model: "gpt", messages: [{ role: "user", content: "again" }] });
  await ask();
  try { await ask(); return "sent"; } catch (e) { return e.message; }
}
`);
    const proc = k.spawn(await k.load(join(dir, "caller", "twice.js")), "");
    const result = await proc.wait();
    expect(result.output).toMatch(/^limit: llm\.chat: token budget: 500 of 800 tokens used \(limits\.tokens\); this call may use about 2 input and 400 output \(its maxTokens\) more/);
    expect(server.requests).toHaveLength(1);
    expect(result.usage.tokens).toEqual({ input: 300, output: 200 });
  });

  it("counts the request's own input too (estimated before it is sent): one huge prompt cannot blow the budget", async () => {
    const server = await serve([{ content: "fine" }]);
    const k = kernel({ policy: llmPolicy({ limits: { tokens: 1000, maxTokensPerCall: 100 } }), models: modelsAt(server.url) });
    const out = await oneCall(k, { model: "gpt", maxTokens: 100, messages: [{ role: "user", content: "x".repeat(8000) }] });
    expect(out.error).toMatchObject({ kind: "limit" });
    expect(out.error!.message).toMatch(/this call may use about 2000 input and 100 output/);
    expect(server.requests).toHaveLength(0);
  });
});

describe("bad input and provider failures", () => {
  it("an unknown alias is `invalid` and names the known ones; nothing is sent", async () => {
    const server = await serve([{ content: "x" }]);
    const k = kernel({ policy: llmPolicy(), models: modelsAt(server.url) });
    const out = await oneCall(k, { model: "https://api.openai.com/v1", messages: [{ role: "user", content: "hi" }] });
    expect(out.error).toMatchObject({ name: "KernelError", kind: "invalid" });
    expect(out.error!.message).toMatch(/unknown model alias "https:\/\/api\.openai\.com\/v1" \(the host configured "gpt", "claude"\)/);
    expect(server.requests).toHaveLength(0);
  });

  it.each([
    ["no messages", { messages: [] }, /messages is empty/],
    ["a tool message answering no call", { messages: [{ role: "user", content: "x" }, { role: "tool", toolCallId: "nope", content: "5" }] }, /messages\[1\]: toolCallId "nope" answers no tool call/],
    ["a role that does not exist", { messages: [{ role: "root", content: "x" }] }, /role must be one of/],
    ["a tool schema that is not an object schema", { messages: [{ role: "user", content: "x" }], tools: [{ name: "t", parameters: { type: "string" } }] }, /tools\[0\]\.parameters: a tool's schema has type "object"/],
    ["a tool name with spaces", { messages: [{ role: "user", content: "x" }], tools: [{ name: "rm -rf", parameters: {} }] }, /tools\[0\]\.name must be/],
    ["a temperature of 7", { messages: [{ role: "user", content: "x" }], temperature: 7 }, /temperature must be a number from 0 to 2/],
  ])("%s is `invalid`, naming what is wrong; nothing is sent", async (_name, request, message) => {
    const server = await serve([{ content: "x" }]);
    const k = kernel({ policy: llmPolicy(), models: modelsAt(server.url) });
    const out = await oneCall(k, { model: "gpt", ...request });
    expect(out.error).toMatchObject({ kind: "invalid" });
    expect(out.error!.message).toMatch(message);
    expect(server.requests).toHaveLength(0);
  });

  it.each([
    ["a 500", { status: 500, body: { error: { message: "overloaded" } } }, /^io: model "gpt": HTTP 500 Internal Server Error: overloaded$/],
    ["a body that is not JSON", { raw: "<html>oops" }, /^io: model "gpt": the response body is not JSON$/],
    ["JSON of another shape", { raw: '{"choices": "none"}' }, /^io: model "gpt": the response has no choices\[0\]\.message$/],
    ["tool-call arguments that are not JSON", { raw: JSON.stringify({ choices: [{ message: { content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{oops" } }] } }] }) }, /not JSON/],
  ])("%s from the provider is `io` with the reason", async (_name, step, message) => {
    const server = await serve([step as ScriptStep]);
    const k = kernel({ policy: llmPolicy(), models: modelsAt(server.url) });
    const out = await oneCall(k, { model: "gpt", messages: [{ role: "user", content: "hi" }] });
    expect(out.error).toMatchObject({ kind: "io" });
    expect(out.error!.message).toMatch(message);
  });

  it("a model that does not answer within its alias's timeout is `io`", async () => {
    const server = await serve([{ hang: true }]);
    const k = kernel({ policy: llmPolicy(), models: modelsAt(server.url, { timeout: 300 }) });
    const out = await oneCall(k, { model: "claude", messages: [{ role: "user", content: "hi" }] });
    expect(out.error).toMatchObject({ kind: "io", message: 'io: model "claude": no answer within 300 ms' });
    expect(server.requests).toHaveLength(1);
  });

  it("KernelOptions.models with a bad field is a UsageError at once", () => {
    expect(() => new KernelSpace({ log: false, models: { fast: { provider: "openia" as "openai", model: "x" } } })).toThrow(UsageError);
    expect(() => new KernelSpace({ log: false, models: { fast: { provider: "openai", model: "x", apiKey: "sk-1" } as never } })).toThrow(/API keys come from the environment only/);
  });
});

describe("policy", () => {
  it("decides llm.chat with the alias as its resource: another alias is denied and nothing is sent", async () => {
    const server = await serve([{ content: "x" }]);
    const policy = llmPolicy({}, [{ id: "no-claude", action: "llm.chat", resource: "claude", effect: "deny", reason: "claude is for people" }]);
    const k = kernel({ policy, models: modelsAt(server.url) });
    const out = await oneCall(k, { model: "claude", messages: [{ role: "user", content: "hi" }] });
    expect(out.error).toMatchObject({ name: "PermissionDenied" });
    expect(out.error!.message).toMatch(/no-claude/);
    expect(server.requests).toHaveLength(0);
  });

  it("takes its aliases from the policy's models: block (the kernel's options override per alias)", async () => {
    const server = await serve([{ content: "from the policy's alias" }]);
    const models = { gpt: { provider: "openai", model: "gpt-from-policy", baseUrl: `${server.url}/v1`, apiKeyEnv: OPENAI_ENV, timeout: "5s" } };
    const k = kernel({ policy: llmPolicy({ models }) });
    const out = await oneCall(k, { model: "gpt", messages: [{ role: "user", content: "hi" }] });
    expect(out.ok).toMatchObject({ content: "from the policy's alias" });
    expect(server.requests[0].body.model).toBe("gpt-from-policy");
  });

  it("`effect: verify` on llm.chat asks the verifier models before the model is called", async () => {
    const server = await serve((req: { body: { model?: string } }) => (req.body.model === "judge" ? { content: '{"verdict":"reject","confidence":0.9,"reason":"no"}' } : { content: "should not happen" }));
    const policy = { ...llmPolicy({}, [{ id: "check-models", action: "llm.chat", effect: "verify" }]), verification: { models: [{ provider: "openai", model: "judge", baseUrl: `${server.url}/v1` }] } };
    const k = kernel({ policy, models: modelsAt(server.url) });
    const out = await oneCall(k, { model: "gpt", messages: [{ role: "user", content: "hi" }] });
    expect(out.error).toMatchObject({ name: "PermissionDenied" });
    expect(server.requests.map((r) => r.body.model)).toEqual(["judge"]);
    expect(JSON.stringify(server.requests[0].body)).toContain("send a chat to a language model");
  });
});

describe("usage and the log", () => {
  it("keeps a large request whole in the call event (a 100 KB prompt), and replays it", async () => {
    const server = await serve([{ content: "short answer" }]);
    const logDir = join(dir, "log-large");
    const k = kernel({ policy: llmPolicy(), models: modelsAt(server.url), log: { dir: logDir } });
    const prompt = "y".repeat(100_000);
    const result = await k.execute(await k.load(CALLER), JSON.stringify({ model: "gpt", messages: [{ role: "user", content: prompt }] }));
    expect(JSON.parse(result.output!).ok.content).toBe("short answer");
    const log = await k.log;
    let recorded: unknown;
    for await (const e of log.query({ runId: result.runId, type: "call" })) if (e.data.action === "llm.chat") recorded = e.data.args;
    expect((recorded as { messages: { content: string }[] }[])[0].messages[0].content).toBe(prompt);
    await server.close();
    const replay = await k.replay({ runId: result.runId });
    expect(replay.status).toBe("identical");
  });

  it("ps() shows the tokens of a live run; the exit event records them; the call event holds the request and the result the whole answer", async () => {
    const server = await serve([{ content: "first", usage: { input: 7, output: 3 } }]);
    const logDir = join(dir, "log-usage");
    const k = kernel({ policy: llmPolicy(), models: modelsAt(server.url), log: { dir: logDir } });
    writeFileSync(join(dir, "caller", "slow.js"), `import { llm } from "agent-os/guest";
export async function run() {
  await llm.chat({ model: "gpt", messages: [{ role: "user", content: "hello there" }] });
  for (;;) {}
}
`);
    const proc = k.spawn(await k.load(join(dir, "caller", "slow.js")), "");
    for (let i = 0; i < 200 && server.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 200 && k.ps()[0]?.usage.tokens.input === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(k.ps()[0].usage.tokens).toEqual({ input: 7, output: 3 });
    proc.signal("SIGKILL");
    const result = await proc.wait();
    expect(result.usage.tokens).toEqual({ input: 7, output: 3 });
    const log = await k.log;
    const events: LoggedEvent[] = [];
    for await (const e of log.query({ runId: result.runId })) events.push(e);
    const call = events.find((e) => e.type === "call" && e.data.action === "llm.chat")!;
    expect(call.data.resource).toBe("gpt");
    expect((call.data.args as { messages: { content: string }[] }[])[0].messages[0].content).toBe("hello there");
    const answer = events.find((e) => e.type === "result" && e.data.call === call.seq)!;
    expect(answer.data.ok).toMatchObject({ content: "first", finishReason: "stop", usage: { inputTokens: 7, outputTokens: 3 }, model: "gpt-test (scripted)" });
    expect(events.find((e) => e.type === "exit")!.data.usage).toMatchObject({ tokens: { input: 7, output: 3 } });
  });
});

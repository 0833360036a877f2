/**
 * The stand-in model server, proved against the real SDKs in plain Node (no sandbox): if these
 * pass, a failure inside the sandbox is the sandbox's. Also the streamed wire format itself, read
 * raw, and how each SDK fails when nothing listens (the error the sandbox must reproduce).
 */
import { afterEach, describe, expect, it } from "vitest";
import { startScriptedModel, type ScriptedModel } from "../../dist/runtime/index.js";
import { SCENARIOS, SDK_AGENTS, task } from "./scenarios.js";

const open: ScriptedModel[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
});

async function model(script: Parameters<typeof startScriptedModel>[0]): Promise<ScriptedModel> {
  const m = await startScriptedModel(script);
  open.push(m);
  return m;
}

/** The `data:` payloads of a server-sent event stream, in order. */
function events(text: string): string[] {
  return text.split("\n\n").filter((e) => e !== "").map((e) => {
    expect(e.startsWith("data: ")).toBe(true);
    return e.slice("data: ".length);
  });
}

async function post(url: string, body: unknown): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

describe("the stand-in's streamed chat completion (OpenAI's wire format)", () => {
  it("sends role, content pieces, tool-call deltas, the finish reason, the usage chunk and [DONE]", async () => {
    const m = await model([{ content: "one two", toolCalls: [{ id: "call_a", name: "add", arguments: { a: 1, b: 2 } }], usage: { input: 3, output: 4 } }]);
    const res = await post(m.url, { model: "m", messages: [], stream: true, stream_options: { include_usage: true } });
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const data = events(await res.text());
    expect(data.at(-1)).toBe("[DONE]");
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as Record<string, any>);
    for (const c of chunks) expect(c).toMatchObject({ id: "chatcmpl-scripted", object: "chat.completion.chunk", model: "m (scripted)" });
    expect(chunks[0].choices[0]).toEqual({ index: 0, delta: { role: "assistant", content: "", refusal: null }, logprobs: null, finish_reason: null });
    expect(chunks.slice(1, 3).map((c) => c.choices[0].delta)).toEqual([{ content: "one " }, { content: "two" }]);
    expect(chunks[3].choices[0].delta).toEqual({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "add", arguments: "" } }] });
    const args = chunks.slice(4, 6).map((c) => c.choices[0].delta.tool_calls[0].function.arguments).join("");
    expect(JSON.parse(args)).toEqual({ a: 1, b: 2 });
    expect(chunks[6].choices[0]).toMatchObject({ delta: {}, finish_reason: "tool_calls" });
    for (const c of chunks.slice(0, 7)) expect(c.usage).toBeNull();
    expect(chunks[7]).toMatchObject({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } });
    expect(chunks).toHaveLength(8);
  });

  it("has no usage field at all without stream_options.include_usage, and takes the step's own pieces", async () => {
    const m = await model([{ content: "abc", chunks: ["a", "bc"] }]);
    const data = events(await (await post(m.url, { model: "m", messages: [], stream: true })).text());
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as Record<string, any>);
    expect(chunks.map((c) => c.choices[0].delta.content ?? null)).toEqual(["", "a", "bc", null]);
    expect(chunks.at(-1)?.choices[0].finish_reason).toBe("stop");
    for (const c of chunks) expect("usage" in c).toBe(false);
  });

  it("sends each event as it is written (delayMs): the first arrives before the last is sent", async () => {
    const m = await model([{ content: "a b c", delayMs: 150 }]);
    const res = await post(m.url, { model: "m", messages: [], stream: true });
    const reader = res.body!.getReader();
    const started = Date.now();
    const first = await reader.read();
    const firstAt = Date.now() - started;
    expect(new TextDecoder().decode(first.value)).toContain('"role":"assistant"');
    while (!(await reader.read()).done);
    expect(firstAt).toBeLessThan(400); // the whole stream takes 5 × 150 ms
    expect(Date.now() - started).toBeGreaterThanOrEqual(5 * 140);
  });
});

describe("the real SDKs against the stand-in, in plain Node", () => {
  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: answers as scripted, every request reached the server with the SDK's key`, async () => {
      const m = await model(scenario.script);
      const agent = (await import(SDK_AGENTS[scenario.file])) as { run(task: string): Promise<string> };
      const answer = JSON.parse(await agent.run(task(scenario, m.url))) as Record<string, unknown>;
      expect(answer).toMatchObject(scenario.expected);
      expect(m.requests).toHaveLength(scenario.script.length);
      for (const r of m.requests) expect(r.headers.authorization).toBe("Bearer unused");
    });

    it(`${scenario.name}: with nothing listening, fails with the SDK's ${scenario.blockedError}`, async () => {
      const m = await startScriptedModel([]);
      await m.close();
      const agent = (await import(SDK_AGENTS[scenario.file])) as { run(task: string): Promise<string> };
      const answer = JSON.parse(await agent.run(task(scenario, m.url))) as Record<string, unknown>;
      expect(answer.error).toBe(scenario.blockedError);
    });
  }

  it("the tools loop sends the tool's result back to the model", async () => {
    const m = await model(SCENARIOS[0].script);
    const agent = (await import(SDK_AGENTS.openai)) as { run(task: string): Promise<string> };
    await agent.run(task(SCENARIOS[0], m.url));
    const messages = m.requests[1].body.messages as Record<string, unknown>[];
    expect(messages.at(-1)).toEqual({ role: "tool", tool_call_id: "call_0_0", content: "5" });
  });
});

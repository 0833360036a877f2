/**
 * The real clients against a real server on 127.0.0.1 that speaks both wire formats: what is
 * sent (path, headers, body), what counts as an answer, and that every failure is a rejection
 * with its reason and without the key.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildPrompt, consult, resolveSettings, tally, type VerificationResult, type Vote } from "../../dist/runtime/verify/index.js";
import type { ModelSpec } from "../../dist/runtime/index.js";
import { approve, startModelServer, type ModelServer } from "./model-server.js";

const KEY_OPENAI = "sk-test-openai-7f3a9c1d2e4b";
const KEY_ANTHROPIC = "sk-ant-test-91b2c3d4e5f6a7b8";
let server: ModelServer;

beforeAll(async () => {
  server = await startModelServer();
  process.env.CMVK_TEST_OPENAI_KEY = KEY_OPENAI;
  process.env.CMVK_TEST_ANTHROPIC_KEY = KEY_ANTHROPIC;
});
afterAll(async () => {
  delete process.env.CMVK_TEST_OPENAI_KEY;
  delete process.env.CMVK_TEST_ANTHROPIC_KEY;
  await server.close();
});
afterEach(() => {
  server.seen.length = 0;
});

const openai = (model: string, extra: Partial<ModelSpec> = {}): ModelSpec => ({ provider: "openai", model, baseUrl: `${server.url}/v1`, apiKeyEnv: "CMVK_TEST_OPENAI_KEY", ...extra });
const anthropic = (model: string, extra: Partial<ModelSpec> = {}): ModelSpec => ({ provider: "anthropic", model, baseUrl: server.url, apiKeyEnv: "CMVK_TEST_ANTHROPIC_KEY", ...extra });
const prompt = () => buildPrompt({ kind: "output", question: "Is this summary safe to publish?", text: "The meeting moved to Tuesday." });

async function ask(models: ModelSpec[], threshold = 1, timeout = 5000): Promise<VerificationResult> {
  return consult(resolveSettings({ models, threshold, timeout }), prompt());
}

describe("OpenAI-compatible chat completions", () => {
  it("POSTs {model, messages} to {baseUrl}/chat/completions with the bearer key and reads choices[0].message.content", async () => {
    server.script("gpt-test", approve("fine"));
    const result = await ask([openai("gpt-test")]);
    expect(result.votes).toEqual([{ model: "openai:gpt-test", provider: "openai", verdict: "approve", confidence: 0.9, reason: "fine", latencyMs: expect.any(Number) }]);
    expect(result.allowed).toBe(true);
    expect(server.seen).toHaveLength(1);
    const [req] = server.seen;
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/v1/chat/completions");
    expect(req.headers.authorization).toBe(`Bearer ${KEY_OPENAI}`);
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.headers["x-api-key"]).toBeUndefined();
    expect(req.body).toMatchObject({ model: "gpt-test", temperature: 0 });
    const messages = req.body.messages as { role: string; content: string }[];
    expect(messages.map((m) => m.role)).toEqual(["system", "user"]);
    expect(messages[0].content).toMatch(/exactly one JSON object/);
    expect(messages[1].content).toContain("The meeting moved to Tuesday.");
  });

  it("sends no key to an OpenAI-compatible base URL without apiKeyEnv (a local server)", async () => {
    server.script("llama-test", approve());
    const result = await ask([{ provider: "openai", model: "llama-test", baseUrl: `${server.url}/v1` }]);
    expect(result.allowed).toBe(true);
    expect(server.seen[0].headers.authorization).toBeUndefined();
  });
});

describe("Anthropic messages", () => {
  it("POSTs {model, max_tokens, system, messages} to /v1/messages with x-api-key and anthropic-version, and reads the first text block", async () => {
    server.script("claude-test", approve("ok by me"));
    const result = await ask([anthropic("claude-test")]);
    expect(result.votes[0]).toMatchObject({ model: "anthropic:claude-test", verdict: "approve", confidence: 0.9, reason: "ok by me" });
    const [req] = server.seen;
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/v1/messages");
    expect(req.headers["x-api-key"]).toBe(KEY_ANTHROPIC);
    expect(req.headers["anthropic-version"]).toBe("2023-06-01");
    expect(req.headers.authorization).toBeUndefined();
    expect(req.body).toMatchObject({ model: "claude-test", max_tokens: expect.any(Number), temperature: 0 });
    expect(req.body.system).toMatch(/UNTRUSTED DATA/);
    expect(req.body.messages).toEqual([{ role: "user", content: expect.stringContaining("The meeting moved to Tuesday.") }]);
  });

  it("accepts a base URL that already ends in /v1", async () => {
    server.script("claude-v1", approve());
    await ask([anthropic("claude-v1", { baseUrl: `${server.url}/v1` })]);
    expect(server.seen[0].path).toBe("/v1/messages");
  });
});

describe("every failure is a rejection, with its reason", () => {
  it("a missing key: rejected, and the server saw no request", async () => {
    server.script("claude-nokey", approve());
    server.script("gpt-nokey", approve());
    const result = await ask([anthropic("claude-nokey", { apiKeyEnv: "CMVK_TEST_UNSET_KEY" }), openai("gpt-nokey", { apiKeyEnv: "CMVK_TEST_UNSET_KEY" })], 0.5);
    expect(result.allowed).toBe(false);
    for (const vote of result.votes) {
      expect(vote).toMatchObject({ verdict: "reject", failure: "no-key", confidence: null });
      expect(vote.reason).toMatch(/CMVK_TEST_UNSET_KEY is not set/);
    }
    expect(server.seen).toHaveLength(0);
  });

  it("the default key variables are OPENAI_API_KEY (public API) and ANTHROPIC_API_KEY", async () => {
    const saved = { o: process.env.OPENAI_API_KEY, a: process.env.ANTHROPIC_API_KEY };
    delete process.env.OPENAI_API_KEY;
    delete process.env.ANTHROPIC_API_KEY;
    try {
      const result = await ask([{ provider: "openai", model: "gpt-4o" }, { provider: "anthropic", model: "claude-x", baseUrl: server.url }], 0.5);
      expect(result.votes.map((v) => v.reason)).toEqual([expect.stringMatching(/OPENAI_API_KEY is not set/), expect.stringMatching(/ANTHROPIC_API_KEY is not set/)]);
      expect(server.seen).toHaveLength(0);
    } finally {
      if (saved.o !== undefined) process.env.OPENAI_API_KEY = saved.o;
      if (saved.a !== undefined) process.env.ANTHROPIC_API_KEY = saved.a;
    }
  });

  it("HTTP 500: rejected, and a key echoed in the error body is scrubbed", async () => {
    server.script("gpt-500", { status: 500, body: { error: { message: `upstream broke for key ${KEY_OPENAI}` } } });
    server.script("claude-500", { status: 500, body: { error: { type: "api_error", message: `bad ${KEY_ANTHROPIC}` } } });
    const result = await ask([openai("gpt-500"), anthropic("claude-500")], 0.5);
    expect(result.allowed).toBe(false);
    for (const vote of result.votes) {
      expect(vote).toMatchObject({ verdict: "reject", failure: "http" });
      expect(vote.reason).toMatch(/^HTTP 500/);
      expect(vote.reason).toContain("[redacted]");
    }
    expect(JSON.stringify(result)).not.toContain(KEY_OPENAI);
    expect(JSON.stringify(result)).not.toContain(KEY_ANTHROPIC);
  });

  it("HTTP 401: rejected without the body (it may quote the key)", async () => {
    server.script("gpt-401", { status: 401, body: { error: { message: `Incorrect API key provided: ${KEY_OPENAI.slice(0, 10)}…` } } });
    const result = await ask([openai("gpt-401")]);
    expect(result.votes[0]).toMatchObject({ verdict: "reject", failure: "http", reason: "HTTP 401 Unauthorized" });
  });

  it("a model that does not answer in time: rejected as a timeout", async () => {
    server.script("gpt-slow", { hang: true });
    server.script("claude-fast", approve());
    const result = await ask([openai("gpt-slow"), anthropic("claude-fast")], 0.5, 300);
    expect(result.votes[0]).toMatchObject({ model: "openai:gpt-slow", verdict: "reject", failure: "timeout", reason: "timeout: no answer within 300 ms" });
    expect(result.votes[1]).toMatchObject({ verdict: "approve" });
    expect(result).toMatchObject({ approvals: 1, asked: 2, allowed: true });
  });

  it("a redirect is not followed (it would carry the key elsewhere)", async () => {
    server.script("gpt-redirect", { redirect: "/v1/other" });
    const result = await ask([openai("gpt-redirect")]);
    expect(result.votes[0]).toMatchObject({ verdict: "reject", failure: "network" });
    expect(server.seen.map((s) => s.path)).toEqual(["/v1/chat/completions"]);
  });

  it("a body that is not JSON, or has no answer where the format puts it: rejected", async () => {
    server.script("gpt-garbage", { raw: "<html>oops</html>" });
    server.script("gpt-nochoices", { raw: JSON.stringify({ choices: [] }) });
    server.script("claude-notext", { raw: JSON.stringify({ content: [{ type: "tool_use", id: "t", name: "x", input: {} }] }) });
    const result = await ask([openai("gpt-garbage"), openai("gpt-nochoices"), anthropic("claude-notext")], 0.3);
    expect(result.votes.map((v) => [v.verdict, v.failure])).toEqual([
      ["reject", "bad-response"],
      ["reject", "bad-response"],
      ["reject", "bad-response"],
    ]);
    expect(result.allowed).toBe(false);
  });

  it("an unknown model (404): rejected", async () => {
    const result = await ask([openai("gpt-unscripted")]);
    expect(result.votes[0]).toMatchObject({ verdict: "reject", failure: "http", reason: "HTTP 404 Not Found: model gpt-unscripted not found" });
  });

  it("a connection refused: rejected as a network failure", async () => {
    const result = await ask([{ provider: "openai", model: "x", baseUrl: "http://127.0.0.1:1/v1" }]);
    expect(result.votes[0]).toMatchObject({ verdict: "reject", failure: "network" });
  });
});

describe("only the exact verdict object is an answer", () => {
  const cases: [string, string][] = [
    ["malformed JSON", '{"verdict": "approve", "confidence": 0.9, "reason": "fine"'],
    ["a verdict embedded in prose", 'Sure! Here is my answer: {"verdict":"approve","confidence":0.9,"reason":"fine"}'],
    ["prose after the object", '{"verdict":"approve","confidence":0.9,"reason":"fine"} Hope that helps!'],
    ["a code fence", '```json\n{"verdict":"approve","confidence":0.9,"reason":"fine"}\n```'],
    ["an extra key", '{"verdict":"approve","confidence":0.9,"reason":"fine","note":"x"}'],
    ["a repeated key", '{"verdict":"reject","verdict":"approve","confidence":0.9,"reason":"fine"}'],
    ["a missing key", '{"verdict":"approve","confidence":0.9}'],
    ["another verdict word", '{"verdict":"yes","confidence":0.9,"reason":"fine"}'],
    ["a verdict in capitals", '{"verdict":"APPROVE","confidence":0.9,"reason":"fine"}'],
    ["confidence above 1", '{"verdict":"approve","confidence":1.5,"reason":"fine"}'],
    ["confidence as text", '{"verdict":"approve","confidence":"0.9","reason":"fine"}'],
    ["a bare word", "approve"],
    ["an empty answer", ""],
  ];
  for (const [name, content] of cases) {
    it(`${name}: rejected as unparseable`, async () => {
      server.script(`gpt-${name}`, { content });
      server.script(`claude-${name}`, { content });
      const result = await ask([openai(`gpt-${name}`), anthropic(`claude-${name}`)], 0.5);
      expect(result.allowed).toBe(false);
      for (const vote of result.votes) expect(vote).toMatchObject({ verdict: "reject", failure: "unparseable", confidence: null });
    });
  }

  it("whitespace around the object is allowed", async () => {
    server.script("gpt-ws", { content: '\n  {"verdict": "approve", "confidence": 1, "reason": "fine"}  \n' });
    const result = await ask([openai("gpt-ws")]);
    expect(result.votes[0]).toMatchObject({ verdict: "approve", confidence: 1, reason: "fine" });
  });

  it("a reason quoting the key (a hostile endpoint) is scrubbed", async () => {
    server.script("gpt-echo", (seen) => ({ content: { verdict: "reject", confidence: 1, reason: `your key is ${String(seen.headers.authorization)}` } }));
    const result = await ask([openai("gpt-echo")]);
    expect(result.votes[0].reason).toBe("your key is Bearer [redacted]");
  });
});

describe("consensus", () => {
  const vote = (verdict: "approve" | "reject"): Vote => ({ model: "openai:m", provider: "openai", verdict, confidence: 1, reason: "", latencyMs: 0 });
  const votes = (approvals: number, rejections: number) => [...Array(approvals)].map(() => vote("approve")).concat([...Array(rejections)].map(() => vote("reject")));

  it("compares approvals / models asked with the threshold", () => {
    expect(tally(votes(3, 0), 1).allowed).toBe(true);
    expect(tally(votes(2, 1), 0.8).allowed).toBe(false);
    expect(tally(votes(2, 1), 0.6).allowed).toBe(true);
    expect(tally(votes(4, 1), 0.8).allowed).toBe(true); // exactly at the threshold
    expect(tally(votes(2, 1), 0.8).reason).toBe("2 of 3 models approved (consensus 0.67, threshold 0.8)");
  });

  it("never allows without an approval, whatever the threshold, and never with no models", () => {
    expect(tally(votes(0, 3), 0)).toMatchObject({ allowed: false, approvals: 0, asked: 3 });
    expect(tally([], 0)).toMatchObject({ allowed: false, asked: 0, reason: "no verifier models are configured" });
  });

  it("asks the models in parallel (a slow model does not delay the others' requests)", async () => {
    let release!: (script: ReturnType<typeof approve>) => void;
    server.script("gpt-par-slow", { after: new Promise((resolve) => (release = resolve)) });
    server.script("gpt-par-fast", approve());
    const done = consult(resolveSettings({ models: [openai("gpt-par-slow"), openai("gpt-par-fast")], threshold: 1, timeout: 60_000 }), prompt());
    // Both requests reach the server while the slow one is still unanswered (it answers only when the test says).
    let seenBoth = false;
    for (let i = 0; i < 2000 && !seenBoth; i++) {
      await new Promise((r) => setTimeout(r, 10));
      seenBoth = server.seen.length === 2;
    }
    expect(seenBoth).toBe(true);
    release(approve());
    const result = await done;
    expect(result.votes.map((v) => [v.model, v.verdict])).toEqual([
      ["openai:gpt-par-slow", "approve"],
      ["openai:gpt-par-fast", "approve"],
    ]);
  });

  it("a verification in flight is cancelled by its signal (what the kernel does when it closes): the model rejects", async () => {
    server.script("gpt-par-hang", { hang: true });
    const cancel = new AbortController();
    const done = consult(resolveSettings({ models: [openai("gpt-par-hang")], threshold: 1, timeout: 60_000 }), prompt(), { signal: cancel.signal });
    for (let i = 0; i < 2000 && server.seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(server.seen).toHaveLength(1);
    cancel.abort();
    const result = await done;
    expect(result.votes[0]).toMatchObject({ verdict: "reject", failure: "timeout", reason: "cancelled: the kernel is closing" });
    expect(result.allowed).toBe(false);
  });
});

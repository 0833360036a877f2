/**
 * What reaches a verifier model, checked where it arrives: a real agent makes calls that a
 * `verify` rule sends to the models, and a real server on 127.0.0.1 records every prompt. Strings
 * are cut at 2,000 characters, the data block at 16,000, secret-bearing headers are redacted
 * however they are spelled, and the bodies of 401 and 403 answers are never read (a body that
 * would quote the key, and never ends, cannot delay or leak into the vote).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KernelSpace, type RunResult } from "../../dist/runtime/index.js";
import { consult, resolveSettings, buildPrompt } from "../../dist/runtime/verify/index.js";
import { moduleAgent } from "../kernel/helpers.js";
import { reject, startModelServer, type ModelServer, type Seen } from "./model-server.js";

let server: ModelServer;
let kernel: KernelSpace;
const KEY = "sk-prompt-test-5d9c1a7e3b2f";

beforeAll(async () => {
  server = await startModelServer();
  server.script("judge", reject("no"));
  process.env.CMVK_PROMPT_TEST_KEY = KEY;
  kernel = new KernelSpace({
    policy: {
      version: 1,
      name: "verify-everything",
      default: "deny",
      rules: [
        { id: "basics", action: ["log.write", "clock.now", "random.bytes", "process.*"], effect: "allow" },
        { id: "review", action: "http.fetch", effect: "verify", reason: "every request is reviewed" },
      ],
    },
    log: false,
    pool: { warm: 1 },
    verification: { models: [{ provider: "openai", model: "judge", baseUrl: `${server.url}/v1` }], threshold: 1, timeout: "10s" },
  });
});
afterAll(async () => {
  await kernel?.close();
  await server?.close();
  delete process.env.CMVK_PROMPT_TEST_KEY;
});
beforeEach(() => {
  server.seen.length = 0;
});

/**
 * Makes one http.fetch per request of its task with the raw import (a header list, duplicates
 * and all). Header values come reversed in the task, which the models are shown too: a secret
 * found in a prompt can only have come from the arguments.
 */
const requester = moduleAgent(
  "requester",
  `import { fetch } from "agentos:kernel/http";
  export function run(task) {
    const parsed = JSON.parse(task);
    const out = [];
    for (const req of Array.isArray(parsed) ? parsed : parsed.requests) {
      const body = req.body === undefined ? undefined : new TextEncoder().encode(req.body);
      const headers = (req.headers ?? []).map(([name, value]) => [name, value.split("").reverse().join("")]);
      try { fetch({ method: req.method ?? "POST", url: req.url, headers, body }); out.push("ok"); }
      catch (e) { out.push(e.payload ? e.payload.tag : String(e)); }
    }
    return JSON.stringify(out);
  }`,
);

const reversed = (headers: [string, string][]): [string, string][] => headers.map(([name, value]) => [name, value.split("").reverse().join("")]);

interface Sent {
  url: string;
  method?: string;
  headers?: [string, string][];
  body?: string;
}

/** The data block each model was sent for each request, as text and parsed. */
async function ask(requests: Sent[], task?: string): Promise<{ blocks: string[]; data: Record<string, unknown>[]; result: RunResult }> {
  const result = await kernel.execute(requester, task ?? JSON.stringify(requests.map((r) => ({ ...r, headers: reversed(r.headers ?? []) }))));
  expect(result.status, result.error).toBe("ok");
  expect(JSON.parse(result.output!)).toEqual(requests.map(() => "denied"));
  const blocks = server.seen.map(blockOf);
  return { blocks, data: blocks.map((b) => JSON.parse(b) as Record<string, unknown>), result };
}

function blockOf(seen: Seen): string {
  const user = (seen.body.messages as { role: string; content: string }[]).find((m) => m.role === "user")!.content;
  const lines = user.split("\n");
  const begin = lines.findIndex((l) => /^-----BEGIN UNTRUSTED DATA [0-9a-f]+-----$/.test(l));
  const end = lines.findIndex((l) => /^-----END UNTRUSTED DATA [0-9a-f]+-----$/.test(l));
  expect(begin).toBeGreaterThanOrEqual(0);
  expect(end).toBeGreaterThan(begin);
  return lines.slice(begin + 1, end).join("\n");
}

const arg = (data: Record<string, unknown>) => (data.arguments as { req: { url: string; headers: [string, string][]; body: { bytes: number; text: string } } }).req;

describe("size caps", () => {
  it("every string is cut at 2,000 characters, saying how much was cut: task, resource, header values, body text", async () => {
    const long = (c: string, n: number) => c.repeat(n) + "-END";
    const path = long("p", 3000);
    const request: Sent = { url: `https://api.example.com/${path}`, headers: [["x-note", long("h", 2500)]], body: long("b", 5000) };
    const task = JSON.stringify({ requests: [{ ...request, headers: reversed(request.headers!) }], padding: long("t", 100) });
    const { data } = await ask([request], task);
    expect(data).toHaveLength(1);
    const [block] = data;
    const cutTo = (text: unknown, kept: string, total: number) => expect(text).toBe(`${kept}…[${total - kept.length} more characters cut]`);
    cutTo(block.task, task.slice(0, 2000), task.length);
    const resource = `https://api.example.com/${path}`;
    cutTo(block.resource, resource.slice(0, 2000), resource.length);
    const req = arg(block);
    cutTo(req.url, resource.slice(0, 2000), resource.length);
    cutTo(req.headers[0][1], "h".repeat(2000), 2504);
    expect(req.body.bytes).toBe(5004);
    cutTo(req.body.text, "b".repeat(2000), 5004);
    expect(JSON.stringify(block)).not.toContain("-END");
  });

  it("the data block is at most 16,000 characters as sent (indented, escapes included), however large the arguments", async () => {
    const headers: [string, string][] = Array.from({ length: 40 }, (_, i) => [`x-h${i}`, String(i % 10).repeat(4000)]);
    const control = "\u0001".repeat(3000);
    // 32 headers of about 400 characters: under the cap as compact JSON, over it as sent.
    const near: Sent[] = Array.from({ length: 24 }, (_, i) => ({ url: "https://api.example.com/near", headers: Array.from({ length: 32 }, (_, j): [string, string] => [`x-h${j}`, "v".repeat(370 + 3 * i)]) }));
    const requests: Sent[] = [
      { url: "https://api.example.com/a", headers },
      { url: "https://api.example.com/b", headers: headers.slice(0, 9), body: "z".repeat(50_000) },
      { url: `https://api.example.com/${"u".repeat(1900)}`, headers, body: "y".repeat(1_000_000) },
      { url: "https://api.example.com/control", headers: [["x-c", control]], body: control },
      ...near,
    ];
    const { blocks, data } = await ask(requests, JSON.stringify({ requests: requests.map((r) => ({ ...r, headers: reversed(r.headers ?? []) })), note: control }));
    expect(blocks).toHaveLength(requests.length);
    for (const [i, block] of blocks.entries()) expect(block.length, `request ${i}`).toBeLessThanOrEqual(16_000);
    // Still the request it was: the first headers are there, cut shorter to fit.
    expect(arg(data[0]).headers[0][0]).toBe("x-h0");
    expect(arg(data[0]).headers.length).toBeGreaterThan(0);
  });

  it("so is the block of a question about an agent's output (kernel.verify), escapes included", async () => {
    for (const text of ["o".repeat(100_000), "\u0001".repeat(20_000), "\"".repeat(20_000)]) {
      server.seen.length = 0;
      const verdict = await kernel.verify(text, { question: "Is this fine?" });
      expect(verdict.allowed).toBe(false);
      expect(server.seen).toHaveLength(1);
      expect(blockOf(server.seen[0]).length).toBeLessThanOrEqual(16_000);
    }
  });
});

describe("secret-bearing headers are redacted, however they are spelled", () => {
  const SECRET_HEADERS: [string, string][] = [
    ["Authorization", "Bearer sk-live-authorization"],
    ["authorization", "Basic c2VjcmV0OnNlY3JldA=="],
    ["AUTHORIZATION", "token-upper"],
    ["Proxy-Authorization", "Basic proxy-secret"],
    ["Cookie", "session=cookie-secret"],
    ["set-cookie", "id=set-cookie-secret"],
    ["X-Api-Key", "xapikey-secret"],
    ["api-key", "apikey-secret"],
    ["X-API-KEY", "upper-apikey-secret"],
    ["x-goog-api-key", "goog-secret"],
    ["Ocp-Apim-Subscription-Key", "azure-secret"],
    ["X-Auth-Token", "auth-token-secret"],
    ["X-Access-Token", "access-token-secret"],
    ["Private-Token", "gitlab-secret"],
    ["X-Amz-Security-Token", "aws-session-secret"],
    ["apikey", "nohyphen-secret"],
    ["X-Session-Id", "session-id-secret"],
    ["X-Client-Secret", "client-secret-secret"],
  ];

  it("by name, each one, duplicates too; other headers are kept", async () => {
    const headers: [string, string][] = [...SECRET_HEADERS, ["Authorization", "Bearer the-second-one"], ["Accept", "application/json"], ["X-Request-Id", "req-42"]];
    const { blocks, data } = await ask([{ url: "https://api.example.com/v1/orders", headers }]);
    const sent = arg(data[0]).headers;
    expect(sent.map(([name]) => name)).toEqual(headers.map(([name]) => name));
    for (const [name, value] of [...SECRET_HEADERS, ["Authorization", "Bearer the-second-one"] as [string, string]]) {
      expect(blocks[0], name).not.toContain(value);
    }
    expect(sent.slice(0, SECRET_HEADERS.length + 1).every(([, value]) => value === "[redacted]")).toBe(true);
    expect(sent.slice(-2)).toEqual([
      ["Accept", "application/json"],
      ["X-Request-Id", "req-42"],
    ]);
    // Nowhere in what was sent to the model (system prompt, messages, anything).
    expect(server.seen).toHaveLength(1);
    const everything = JSON.stringify(server.seen.map((s) => s.body));
    for (const [, value] of SECRET_HEADERS) expect(everything).not.toContain(value);
  });

  it("a value that carries credentials under an ordinary name is redacted too", async () => {
    const headers: [string, string][] = [
      ["X-Custom", "Bearer sk-hidden-under-custom"],
      ["X-Other", "basic dXNlcjpwYXNz"],
      ["X-Plain", "nothing to hide"],
    ];
    const { blocks, data } = await ask([{ url: "https://api.example.com/x", headers }]);
    expect(blocks[0]).not.toContain("sk-hidden-under-custom");
    expect(blocks[0]).not.toContain("dXNlcjpwYXNz");
    expect(arg(data[0]).headers).toEqual([
      ["X-Custom", "[redacted]"],
      ["X-Other", "[redacted]"],
      ["X-Plain", "nothing to hide"],
    ]);
  });
});

describe("the bodies of 401 and 403 answers are not read", () => {
  const ask403 = (model: string, timeout = 3000) =>
    consult(resolveSettings({ models: [{ provider: "openai", model, baseUrl: `${server.url}/v1`, apiKeyEnv: "CMVK_PROMPT_TEST_KEY" }], threshold: 1, timeout }), buildPrompt({ kind: "output", question: "ok?", text: "fine" }));

  it.each([401, 403])("HTTP %i whose body quotes the key and never ends: rejected at once as http, the body abandoned unread", async (status) => {
    server.script(`held-${status}`, { status, body: { error: { message: `invalid key ${KEY}` } }, hold: true });
    const result = await ask403(`held-${status}`);
    expect(result.votes[0]).toMatchObject({ verdict: "reject", failure: "http", reason: `HTTP ${status} ${status === 401 ? "Unauthorized" : "Forbidden"}` });
    expect(JSON.stringify(result)).not.toContain(KEY);
    // The client went away without waiting for the rest of the body.
    for (let t0 = Date.now(); !server.seen[0]?.abandoned && Date.now() - t0 < 2000; ) await new Promise((r) => setTimeout(r, 10));
    expect(server.seen[0].abandoned).toBe(true);
  });

  it("control: a 500 with the same held body is read, so it waits for its deadline (the test above can tell)", async () => {
    server.script("held-500", { status: 500, body: { error: { message: "upstream" } }, hold: true });
    const result = await ask403("held-500", 500);
    expect(result.votes[0]).toMatchObject({ verdict: "reject", failure: "timeout" });
  });
});

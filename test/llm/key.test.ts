/**
 * The model key is the host's: a hostile agent cannot reach it through its globals, the model's
 * answers (a server that echoes it back in every field, raw and encoded), an error message, a
 * redirect to another origin, its output, or the log as `agent-os log --json` prints it.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startScriptedModel, type ScriptedModel, type ScriptedRequest, type ScriptStep } from "../../dist/runtime/index.js";
import { agentOs } from "../cli/helpers.js";
import { ANTHROPIC_ENV, ANTHROPIC_KEY, OPENAI_ENV, OPENAI_KEY } from "./helpers.js";

const SNOOP = join(dirname(fileURLToPath(import.meta.url)), "agents", "snoop", "agent.js");
const dir = mkdtempSync(join(tmpdir(), "agent-os-llm-key-"));
let echo: ScriptedModel;
let elsewhere: ScriptedModel;

/** Every form of a key a careless or hostile server might send back. */
function forms(key: string): string[] {
  const b64 = Buffer.from(key).toString("base64");
  return [key, encodeURIComponent(key), b64, b64.replace(/=+$/, ""), Buffer.from(`user:${key}`).toString("base64").slice(8, -4), Buffer.from(key).toString("hex")];
}

function leaks(text: string): string[] {
  return [...forms(OPENAI_KEY), ...forms(ANTHROPIC_KEY)].filter((f) => text.includes(f));
}

/** Answers with the key it received, in every field it can, raw and encoded; the "fail" model fails quoting it. */
function echoStep(req: ScriptedRequest): ScriptStep {
  const key = String(req.headers["x-api-key"] ?? String(req.headers.authorization ?? "").replace(/^Bearer /, ""));
  const encoded = `raw ${key} url ${encodeURIComponent(key)} b64 ${Buffer.from(key).toString("base64")} basic ${Buffer.from(`user:${key}`).toString("base64")} hex ${Buffer.from(key).toString("hex")}`;
  if (String(req.body.model).startsWith("fail")) return { status: 500, body: { error: { message: `bad request for key ${key}` } } };
  return { content: encoded, toolCalls: [{ id: `id-${key}`, name: "leak", arguments: { key, encoded } }], model: `model-${key}` };
}

beforeAll(async () => {
  echo = await startScriptedModel((req) => echoStep(req));
  elsewhere = await startScriptedModel([{ content: "you should not be here" }]);
  const policy = `version: 1
name: key-test
default: deny
limits:
  tokens: 100000
models:
  gpt: { provider: openai, model: gpt-echo, baseUrl: "${echo.url}/v1", apiKeyEnv: ${OPENAI_ENV} }
  claude: { provider: anthropic, model: claude-echo, baseUrl: "${echo.url}", apiKeyEnv: ${ANTHROPIC_ENV} }
  broken: { provider: openai, model: fail-1, baseUrl: "${echo.url}/v1", apiKeyEnv: ${OPENAI_ENV} }
rules:
  - { id: models, action: llm.chat, effect: allow }
  - { id: basics, action: [clock.now, random.bytes, log.write], effect: allow }
`;
  writeFileSync(join(dir, "policy.yaml"), policy);
  process.env[OPENAI_ENV] = OPENAI_KEY;
  process.env[ANTHROPIC_ENV] = ANTHROPIC_KEY;
});
afterAll(async () => {
  await echo?.close();
  await elsewhere?.close();
  delete process.env[OPENAI_ENV];
  delete process.env[ANTHROPIC_ENV];
  rmSync(dir, { recursive: true, force: true });
});

describe("the model key never reaches the agent or the log", () => {
  it("through globals, echoed answers, an error, the output and `agent-os log --json`", async () => {
    const logDir = join(dir, "log");
    const task = JSON.stringify(["gpt", "claude", "broken"]);
    const ran = await agentOs(dir, "run", SNOOP, "--policy", join(dir, "policy.yaml"), "--log", logDir, "--task", task, "--json");
    expect(ran.code, ran.stderr).toBe(0);
    // The servers really did get the keys, and echoed them:
    expect(echo.requests.map((r) => r.headers.authorization ?? r.headers["x-api-key"])).toEqual([`Bearer ${OPENAI_KEY}`, ANTHROPIC_KEY, `Bearer ${OPENAI_KEY}`]);
    const result = JSON.parse(ran.stdout) as { output: string; usage: { tokens: { input: number } } };
    const found = JSON.parse(result.output) as { globals: string; answers: { content: string; toolCalls: { id: string; arguments: Record<string, string> }[]; model: string }[]; errors: string[] };
    expect(found.globals).toMatch(/process=undefined/);
    expect(found.answers).toHaveLength(2);
    for (const answer of found.answers) {
      expect(answer.content).toMatch(/^raw \[redacted\] url \[redacted\] b64 \S*\[redacted\]\S* basic \S*\[redacted\]\S* hex \[redacted\]$/);
      expect(answer.toolCalls[0].arguments.key).toBe("[redacted]");
      expect(answer.toolCalls[0].id).toBe("id-[redacted]");
      expect(answer.model).toBe("model-[redacted]");
    }
    expect(found.errors).toEqual(['io: model "broken": HTTP 500 Internal Server Error: bad request for key [redacted]']);
    expect(leaks(ran.stdout + ran.stderr)).toEqual([]);

    const log = await agentOs(dir, "log", "--log", logDir, "--json");
    expect(log.code, log.stderr).toBe(0);
    expect(log.stdout).toContain("[redacted]");
    expect(log.stdout).toContain('"llm.chat"');
    expect(leaks(log.stdout)).toEqual([]);
    const text = await agentOs(dir, "log", "--log", logDir);
    expect(text.stdout).toMatch(/result {2}of #\d+ {2}ok {2}model gpt {2}tokens 10 in \/ 5 out {2}tool-calls {2}\d+ms/);
    expect(leaks(text.stdout)).toEqual([]);
  });

  it("a redirect to another origin is not followed: the key goes nowhere else", async () => {
    // A "model" that answers every request with a 307 to another origin (which records what it gets).
    const mover = createServer((_req, res) => res.writeHead(307, { location: `${elsewhere.url}/v1/messages` }).end());
    await new Promise<void>((r) => mover.listen(0, "127.0.0.1", r));
    const port = (mover.address() as { port: number }).port;
    const policy = `version: 1
default: deny
models:
  moved: { provider: anthropic, model: moved, baseUrl: "http://127.0.0.1:${port}", apiKeyEnv: ${ANTHROPIC_ENV} }
rules:
  - { id: models, action: llm.chat, effect: allow }
`;
    writeFileSync(join(dir, "moved.yaml"), policy);
    const ran = await agentOs(dir, "run", SNOOP, "--policy", join(dir, "moved.yaml"), "--no-log", "--task", JSON.stringify(["moved"]));
    mover.close();
    expect(ran.code, ran.stderr).toBe(0);
    const found = JSON.parse(ran.stdout) as { errors: string[] };
    expect(found.errors).toHaveLength(1);
    expect(found.errors[0]).toMatch(/^io: model "moved": request failed/);
    expect(elsewhere.requests).toHaveLength(0);
    expect(leaks(ran.stdout + ran.stderr)).toEqual([]);
  });
});

/**
 * `agent-os run --model ALIAS=PROVIDER:MODEL[@URL]`: a model server the host names on loopback
 * is reached without --allow-private, and a malformed flag is a usage error (exit 2).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startScriptedModel, type ScriptedModel } from "../../dist/runtime/index.js";
import { agentOs } from "../cli/helpers.js";
import { CALLER } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "agent-os-llm-cli-"));
let server: ScriptedModel;

beforeAll(async () => {
  server = await startScriptedModel([{ content: "hello from loopback", usage: { input: 11, output: 3 } }]);
  writeFileSync(join(dir, "policy.yaml"), "version: 1\ndefault: deny\nrules:\n  - { action: llm.chat, resource: local, effect: allow }\n");
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("agent-os run --model", () => {
  it("reaches a loopback model server with no --allow-private, sends no key, and reports the tokens", async () => {
    const task = JSON.stringify({ model: "local", messages: [{ role: "user", content: "hi" }] });
    const ran = await agentOs(dir, "run", CALLER, "--policy", join(dir, "policy.yaml"), "--no-log", "--json", "--model", `local=openai:llama-test@${server.url}/v1`, "--tokens", "5000", "--task", task);
    expect(ran.code, ran.stderr).toBe(0);
    const result = JSON.parse(ran.stdout);
    expect(JSON.parse(result.output).ok).toMatchObject({ content: "hello from loopback", usage: { inputTokens: 11, outputTokens: 3 } });
    expect(result.usage.tokens).toEqual({ input: 11, output: 3 });
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0].body.model).toBe("llama-test");
    expect(server.requests[0].headers.authorization).toBeUndefined();
  });

  it.each([
    ["no alias", "openai:gpt-4o"],
    ["a URL as the alias", "http://x=openai:gpt-4o"],
    ["an unknown provider", "fast=mistral:large"],
  ])("refuses %s with exit 2", async (_name, flag) => {
    const ran = await agentOs(dir, "run", CALLER, "--no-log", "--model", flag);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toMatch(/--model .*expected ALIAS=PROVIDER:MODEL\[@URL\]/);
  });
});

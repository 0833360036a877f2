/**
 * A recorded run that thinks with a model replays with no model server, no key and no network:
 * every model call's request is in its call event and its whole answer in its result event.
 * Counterfactual replay and `policy suggest` cover llm.chat (resource: the alias).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelSpace, redecideRun, startScriptedModel, type RunResult } from "../../dist/runtime/index.js";
import { agentOs } from "../cli/helpers.js";
import { ADDER, ANTHROPIC_ENV, ANTHROPIC_KEY, OPENAI_ENV, OPENAI_KEY, llmPolicy, modelsAt } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "agent-os-llm-replay-"));
const logDir = join(dir, "log");
let recorded: RunResult;
let serverRequests = 0;

beforeAll(async () => {
  process.env[OPENAI_ENV] = OPENAI_KEY;
  process.env[ANTHROPIC_ENV] = ANTHROPIC_KEY;
  const server = await startScriptedModel([
    { toolCalls: [{ id: "call_1", name: "add", arguments: { a: 2, b: 3 } }], usage: { input: 40, output: 12 } },
    { content: "2 + 3 = 5", usage: { input: 60, output: 7 } },
  ]);
  const kernel = new KernelSpace({ policy: llmPolicy(), models: modelsAt(server.url), log: { dir: logDir } });
  try {
    recorded = await kernel.execute(await kernel.load(ADDER), JSON.stringify({ model: "claude", maxTokens: 50 }));
  } finally {
    await kernel.close();
    serverRequests = server.requests.length;
    await server.close(); // from here on there is no model server
  }
  delete process.env[OPENAI_ENV];
  delete process.env[ANTHROPIC_ENV];
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("replay of a run that called a model", () => {
  it("kernel.replay reproduces it identically with the server stopped and no key set", async () => {
    expect(recorded.status, recorded.error).toBe("ok");
    expect(serverRequests).toBe(2);
    expect(process.env[ANTHROPIC_ENV]).toBeUndefined();
    // A kernel with no models at all: replay needs none.
    const kernel = new KernelSpace({ policy: llmPolicy(), log: { dir: logDir } });
    try {
      const report = await kernel.replay({ runId: recorded.runId });
      expect(report.status, JSON.stringify(report.divergence)).toBe("identical");
      expect(report.output).toBe(recorded.output);
      expect(report.events.filter((e) => e.action === "llm.chat").map((e) => [e.resource, e.outcome])).toEqual([
        ["claude", "ok"],
        ["claude", "ok"],
      ]);
    } finally {
      await kernel.close();
    }
  });

  it("agent-os replay says identical, with no server and no key", async () => {
    const ran = await agentOs(dir, "replay", recorded.runId, "--log", logDir, "--json");
    expect(ran.code, ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({ status: "identical", output: recorded.output });
  });

  it("counterfactual replay decides the model calls again under another policy", async () => {
    const kernel = new KernelSpace({ policy: llmPolicy(), log: { dir: logDir } });
    try {
      const strict = llmPolicy({}, [{ id: "no-claude", action: "llm.chat", resource: "claude", effect: "deny" }]);
      const report = await redecideRun(await kernel.log, recorded.runId, strict);
      expect(report.changes.map((c) => [c.action, c.resource, c.before.effect, c.after.effect, c.after.rule])).toEqual([
        ["llm.chat", "claude", "allow", "deny", "no-claude"],
        ["llm.chat", "claude", "allow", "deny", "no-claude"],
      ]);
    } finally {
      await kernel.close();
    }
  });

  it("policy suggest allows llm.chat on the aliases the run used, and nothing more", async () => {
    const ran = await agentOs(dir, "policy", "suggest", recorded.runId, "--log", logDir, "--output", join(dir, "suggested.yaml"), "--any-policy");
    expect(ran.code, ran.stderr).toBe(0);
    const text = readFileSync(join(dir, "suggested.yaml"), "utf8");
    expect(text).toContain('  - id: "llm-chat"\n    action: "llm.chat"\n    resource: ["claude"]\n    effect: allow\n');
    // The suggestion decides the recorded run exactly as it went.
    const kernel = new KernelSpace({ policy: llmPolicy(), log: { dir: logDir } });
    try {
      const report = await redecideRun(await kernel.log, recorded.runId, join(dir, "suggested.yaml"));
      expect(report.changes).toEqual([]);
    } finally {
      await kernel.close();
    }
  });
});

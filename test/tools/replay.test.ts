/**
 * A recorded run that called host tools replays with no tool present (its handler gone): every
 * tool call's arguments are in its call event and its result in its result event. Counterfactual
 * replay decides tool.call again (its arguments and pins included), and `policy suggest` writes
 * `args` constraints where every recorded call agreed.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelSpace, redecideRun, type RunResult } from "../../dist/runtime/index.js";
import { agentOs } from "../cli/helpers.js";
import { TOOLBOX, hostTools, toolsPolicy, type Seen } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "agent-os-tools-replay-"));
const logDir = join(dir, "log");
const RULES = [{ id: "issues", action: "tool.call", resource: ["create_issue", "echo"], effect: "allow" }];
const STEPS = [
  { list: true },
  { call: "create_issue", args: { repo: "myorg/api", title: "First" } },
  { call: "create_issue", args: { repo: "myorg/api", title: "Second", labels: ["x"] } },
  { call: "echo", args: { size: 3 } },
  { call: "create_issue", args: { repo: 1, title: "bad" } },
];
let recorded: RunResult;
const seen: Seen[] = [];

beforeAll(async () => {
  const kernel = new KernelSpace({ policy: toolsPolicy(RULES), tools: hostTools(seen), log: { dir: logDir } });
  try {
    recorded = await kernel.execute(await kernel.load(TOOLBOX), JSON.stringify(STEPS));
  } finally {
    await kernel.close();
  }
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("replay of a run that called tools", () => {
  it("kernel.replay reproduces it identically with no tools configured", async () => {
    expect(recorded.status, recorded.error).toBe("ok");
    expect(seen.map((s) => s.tool)).toEqual(["create_issue", "create_issue", "echo"]);
    const out = JSON.parse(recorded.output!);
    expect(out[1]).toEqual({ ok: { number: 7, url: "https://example.test/myorg/api/issues/7" } });
    expect(out[4]).toMatchObject({ error: { kind: "invalid" } });
    const kernel = new KernelSpace({ policy: toolsPolicy(RULES), log: { dir: logDir } });
    try {
      const report = await kernel.replay({ runId: recorded.runId });
      expect(report.status, JSON.stringify(report.divergence)).toBe("identical");
      expect(report.output).toBe(recorded.output);
      expect(report.events.filter((e) => e.action === "tool.call").map((e) => [e.resource, e.outcome])).toEqual([
        ["create_issue", "ok"],
        ["create_issue", "ok"],
        ["echo", "ok"],
        ["", expect.any(String)],
      ]);
    } finally {
      await kernel.close();
    }
    expect(seen).toHaveLength(3); // the handlers were not called again
  });

  it("agent-os replay says identical", async () => {
    const ran = await agentOs(dir, "replay", recorded.runId, "--log", logDir, "--json");
    expect(ran.code, ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({ status: "identical", output: recorded.output });
  });

  it("counterfactual replay decides tool calls again on their arguments and pins", async () => {
    const kernel = new KernelSpace({ policy: toolsPolicy(RULES), log: { dir: logDir } });
    try {
      const log = await kernel.log;
      const byArgs = toolsPolicy([...RULES, { id: "no-labels", action: "tool.call", resource: "create_issue", args: { "/labels/0": "**" }, effect: "deny" }]);
      const report = await redecideRun(log, recorded.runId, byArgs);
      // The first call has no labels: the deny rule's constraint cannot be evaluated, so it matches too.
      expect(report.changes.map((c) => [c.seq > 0, c.resource, c.before.effect, c.after.effect, c.after.rule])).toEqual([
        [true, "create_issue", "allow", "deny", "no-labels"],
        [true, "create_issue", "allow", "deny", "no-labels"],
      ]);
      const pinned = toolsPolicy([{ ...RULES[0], pin: `sha256:${"0".repeat(64)}` }]);
      const pins = await redecideRun(log, recorded.runId, pinned);
      expect(pins.changes.map((c) => c.resource)).toEqual(["create_issue", "create_issue", "echo"]);
      expect(pins.changes[0].after.reason).toMatch(/pinned by rule issues to sha256:0{64}, but its current hash is sha256:[0-9a-f]{64}/);
    } finally {
      await kernel.close();
    }
  });

  it("policy suggest writes args constraints where every call of a tool agreed, and the suggestion decides the run as it went", async () => {
    const ran = await agentOs(dir, "policy", "suggest", recorded.runId, "--log", logDir, "--output", join(dir, "suggested.yaml"), "--any-policy");
    expect(ran.code, ran.stderr).toBe(0);
    const text = readFileSync(join(dir, "suggested.yaml"), "utf8");
    expect(text).toContain('  - id: "tool-call-create-issue"\n    action: "tool.call"\n    resource: ["create_issue"]\n    args: {"/repo": "myorg/api"}\n    effect: allow\n');
    expect(text).toContain('  - id: "tool-call-echo"\n    action: "tool.call"\n    resource: ["echo"]\n    effect: allow\n');
    expect(text).toContain('action: "tool.list"');
    const kernel = new KernelSpace({ policy: toolsPolicy(RULES), log: { dir: logDir } });
    try {
      const report = await redecideRun(await kernel.log, recorded.runId, join(dir, "suggested.yaml"));
      expect(report.changes).toEqual([]);
    } finally {
      await kernel.close();
    }
  });
});

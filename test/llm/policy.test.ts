/** The policy's `models:` block and the token limits: loaded, merged, refused with a clear problem. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PolicyError, loadPolicy } from "../../dist/runtime/index.js";

const dir = mkdtempSync(join(tmpdir(), "agent-os-llm-policy-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problems(source: string): string[] {
  try {
    loadPolicy(source);
  } catch (error) {
    if (error instanceof PolicyError) return error.problems.map((p) => `${p.line}:${p.field}: ${p.message}`);
    throw error;
  }
  return [];
}

describe("models: and token limits in a policy", () => {
  it("loads aliases (timeout as a duration) and the limits", () => {
    const policy = loadPolicy("version: 1\nlimits: { tokens: 5000, maxTokensPerCall: 512 }\nmodels:\n  fast: { provider: openai, model: gpt-4o-mini, timeout: 90s }\n  deep: { provider: anthropic, model: claude-sonnet-4, apiKeyEnv: MY_KEY }\n");
    expect(policy.models).toEqual({ fast: { provider: "openai", model: "gpt-4o-mini", timeout: 90_000 }, deep: { provider: "anthropic", model: "claude-sonnet-4", apiKeyEnv: "MY_KEY" } });
    expect(policy.limits).toEqual({ tokens: 5000, maxTokensPerCall: 512 });
  });

  it("refuses a key written into the policy, a bad alias, a bad provider and a bad limit, each located", () => {
    const found = problems("version: 1\nlimits: { maxTokensPerCall: 0 }\nmodels:\n  fast: { provider: openai, model: x, apiKey: sk-123 }\n  \"a b\": { provider: openai, model: x }\n  slow: { provider: openia, model: x }\n");
    expect(found).toEqual([
      expect.stringMatching(/^2:limits\.maxTokensPerCall: expected a whole number, at least 1/),
      expect.stringMatching(/^4:models\.fast\.apiKey: "apiKey" is not allowed: API keys come from the environment only/),
      expect.stringMatching(/^5:models\.a b: a model alias is letters, digits/),
      expect.stringMatching(/^6:models\.slow\.provider: expected a provider, one of: openai, anthropic, got the string "openia" \(did you mean "openai"\?\)/),
    ]);
  });

  it("extends merges aliases per alias, the child winning", () => {
    writeFileSync(join(dir, "parent.yaml"), "version: 1\nmodels:\n  fast: { provider: openai, model: parent-fast }\n  deep: { provider: anthropic, model: parent-deep }\n");
    writeFileSync(join(dir, "child.yaml"), "version: 1\nextends: ./parent.yaml\nmodels:\n  fast: { provider: openai, model: child-fast }\n");
    const policy = loadPolicy(join(dir, "child.yaml"));
    expect(policy.models).toEqual({ fast: { provider: "openai", model: "child-fast" }, deep: { provider: "anthropic", model: "parent-deep" } });
  });
});

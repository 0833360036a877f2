/** `agent-os policy explain` on tool.call: the arguments (`--args`) and the tool's hash (`--hash`) reach the rules. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { agentOs } from "../cli/helpers.js";

const dir = mkdtempSync(join(tmpdir(), "agent-os-tools-explain-"));
const PIN = `sha256:${"a".repeat(64)}`;
const policy = join(dir, "tools.yaml");
writeFileSync(
  policy,
  `version: 1
name: tools
default: deny
rules:
  - id: issues
    action: tool.call
    resource: "github/*"
    args: { "/repo": "myorg/*" }
    pin: "${PIN}"
    effect: allow
`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("agent-os policy explain --action tool.call", () => {
  it("decides on the arguments and the pin", async () => {
    const ask = (...extra: string[]) => agentOs(dir, "policy", "explain", policy, "--action", "tool.call", "--resource", "github/create_issue", "--json", ...extra);
    const allowed = await ask("--args", '{"repo":"myorg/api"}', "--hash", PIN);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(JSON.parse(allowed.stdout).decision).toMatchObject({ effect: "allow", rule: "issues" });
    const other = JSON.parse((await ask("--args", '{"repo":"evil/api"}', "--hash", PIN)).stdout);
    expect(other.decision).toMatchObject({ effect: "deny", rule: null });
    expect(other.considered[0].why.join("\n")).toMatch(/argument \/repo "evil\/api" does not match myorg\/\*/);
    const changed = JSON.parse((await ask("--args", '{"repo":"myorg/api"}', "--hash", `sha256:${"b".repeat(64)}`)).stdout);
    expect(changed.decision).toMatchObject({ effect: "deny", rule: "issues" });
    expect(changed.decision.reason).toContain(PIN);
    expect(changed.decision.reason).toContain(`sha256:${"b".repeat(64)}`);
    const bad = await ask("--args", "{not json");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--args: expected the tool's arguments as JSON/);
  });
});

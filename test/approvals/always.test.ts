/**
 * Scope "always": the allow rule written into the operator's policy file, shown first as a
 * unified diff of a text the project's policy loader accepts, and written exactly so. The rule
 * `approves` the ask rule, so the next kernel on that file lets the call through without asking.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KernelSpace, loadPolicy } from "../../dist/runtime/index.js";
import { eventsOf, pendingId, setup, until, writer } from "./helpers.js";

const t = setup("agent-os-approvals-always-");
afterAll(() => t.close());

const POLICY = `# the operator's policy: comments and layout survive an approval
version: 1
name: operator
default: deny
rules:
  - id: basics
    action: [log.write, clock.now, random.bytes, process.*]
    effect: allow
  - id: ws
    action: fs.*
    resource: "/workspace/**"
    effect: allow
  # writes wait for a person
  - id: ask-writes
    action: fs.write
    resource: "/workspace/**"
    effect: ask
limits:
  wallTime: 60s
`;

describe("approve with scope always", () => {
  it("shows the diff, writes exactly that, and the rule answers the ask rule in this kernel and the next", async () => {
    const policyFile = join(t.dir, "policy.yaml");
    writeFileSync(policyFile, POLICY);
    const kernel = t.kernel({ policy: policyFile, approvals: { policyFile } });
    const proc = kernel.spawn(writer, "report[1].txt");
    const id = await pendingId(kernel);
    expect(kernel.approvals()[0].scopes).toEqual(["once", "run", "always"]);

    const proposal = kernel.proposeAlways(id);
    expect(readFileSync(policyFile, "utf8")).toBe(POLICY); // nothing written yet
    expect(proposal.file).toBe(policyFile);
    expect(proposal.diff).toBe(
      [
        `--- ${policyFile}`,
        `+++ ${policyFile}`,
        "@@ -15,5 +15,11 @@",
        "     action: fs.write",
        '     resource: "/workspace/**"',
        "     effect: ask",
        `+  - id: "approved-${id}"`,
        '+    action: "fs.write"',
        '+    resource: "/workspace/report\\\\[1\\\\].txt"',
        '+    effect: "allow"',
        '+    approves: ["ask-writes"]',
        `+    reason: "approved always (approval request ${id})"`,
        " limits:",
        "   wallTime: 60s",
        "",
      ].join("\n"),
    );
    loadPolicy(proposal.text); // the loader accepts it

    const answer = await kernel.approve(id, { scope: "always", by: "ann" });
    expect(answer).toMatchObject({ outcome: "approved", scope: "always", by: "ann", rule: { file: policyFile, id: `approved-${id}` } });
    expect(readFileSync(policyFile, "utf8")).toBe(proposal.text);
    expect((await proc.wait()).output).toBe("ok");
    expect(readFileSync(join(t.ws, "report[1].txt"), "utf8")).toBe("written by the agent\n");

    // In this kernel, the same call is not asked again, in any run.
    const again = await kernel.execute(writer, "report[1].txt");
    expect(again.output).toBe("ok");
    const decision = (await eventsOf(kernel, again.runId)).find((e) => e.type === "call")!.data.decision;
    expect(decision).toMatchObject({ effect: "allow", approval: { id, scope: "always", reused: true } });
    await kernel.close();

    // A new kernel on the file: the approved call goes through by the new rule; others still ask.
    const next = new KernelSpace({ policy: policyFile, log: false, pool: { warm: 1 }, mounts: { "/workspace": t.ws }, approvals: true });
    try {
      const run = next.spawn(writer, "report[1].txt,report[2].txt");
      const other = await pendingId(next);
      expect(next.approvals()[0].resource).toBe("/workspace/report[2].txt");
      await next.deny(other);
      expect((await run.wait()).output).toBe("ok | PermissionDenied ask-writes: rule ask-writes asks a person about fs.write on /workspace/**: denied by a person");
      const explained = loadPolicy(policyFile).explain({ action: "fs.write", resource: "/workspace/report[1].txt", agent: "writer", pid: 1 });
      expect(explained.decision).toMatchObject({ effect: "allow", matched: ["ws", `approved-${id}`] });
      expect(explained.considered.find((r) => r.id === "ask-writes")?.why.at(-1)).toBe(`it is answered in advance by rule approved-${id} (approves: ask-writes): it takes no part`);
    } finally {
      await next.close();
    }
  });

  it("refuses to write when the file changed since the proposal, and when the new text does not load", async () => {
    const policyFile = join(t.dir, "approved.yaml");
    writeFileSync(policyFile, "version: 1\nrules: []\n");
    const kernel = t.kernel({ approvals: { policyFile }, log: false });
    const proc = kernel.spawn(writer, "changed.txt");
    const id = await pendingId(kernel);
    const proposal = kernel.proposeAlways(id);
    expect(proposal.text).toBe(
      `version: 1\nrules: [{"id":"approved-${id}","action":"fs.write","resource":"/workspace/changed.txt","effect":"allow","approves":["ask-writes"],"reason":"approved always (approval request ${id})"}]\n`,
    );
    writeFileSync(policyFile, "version: 1\nrules: []\n# someone edited it\n");
    await expect(kernel.approve(id, { scope: "always" })).rejects.toThrow(/changed since the proposal was shown; propose again/);
    writeFileSync(policyFile, "version: 1\nrules: []\nlimits: { fuel: lots }\n");
    expect(() => kernel.proposeAlways(id)).toThrow(/limits\.fuel/);
    await expect(kernel.approve(id, { scope: "always" })).rejects.toThrow(/limits\.fuel/);
    expect(readFileSync(policyFile, "utf8")).toBe("version: 1\nrules: []\nlimits: { fuel: lots }\n");
    expect(kernel.approvals().map((r) => r.id)).toEqual([id]);
    writeFileSync(policyFile, "version: 1\nrules: []\n");
    await kernel.approve(id, { scope: "always" });
    expect(loadPolicy(policyFile).rules.map((r) => r.id)).toEqual([`approved-${id}`]);
    expect((await proc.wait()).output).toBe("ok");
    await until(() => kernel.approvals().length === 0);
  });
});

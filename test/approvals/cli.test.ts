/**
 * `agent-os approvals|approve|deny` as a person uses them: real processes. An `agent-os run
 * --approvals` holds a call and says how to answer; another process answers through the mailbox
 * beside the log (the LevelDB directory is the running kernel's), and the kernel logs who did.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadPolicy } from "../../dist/runtime/index.js";
import { agentOs, finished, scratch, start, waitForStderr } from "../cli/helpers.js";
import { writer } from "./helpers.js";

const dir = scratch("agent-os-approvals-cli-");
const children: ReturnType<typeof start>[] = [];
afterAll(() => {
  // (a run left holding the log by a failed test is ended, so that the next test can open it)
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  dir.remove();
});
dir.file("agent.js", writer.source);
dir.file(
  "policy.yaml",
  `version: 1
name: ask-writes
default: deny
rules:
  - id: basics
    action: [log.write, clock.now, random.bytes, process.*]
    effect: allow
  - id: ws
    action: fs.*
    resource: "/workspace/**"
    effect: allow
  - id: ask-writes
    action: fs.write
    resource: "/workspace/**"
    effect: ask
    reason: a person approves writes
`,
);
const ws = join(dir.path, "workspace");
mkdirSync(ws);

/**
 * Starts `agent-os run` holding a write of `file`; returns the id it printed and its end (waited
 * for from the start: a run that ends before anyone listens would never be seen to close).
 */
async function heldRun(file: string, ...flags: string[]) {
  for (const old of children) if (old.exitCode === null) old.kill("SIGKILL");
  const child = start(dir.path, "run", "agent.js", "--policy", "policy.yaml", "--mount", "/workspace=./workspace", "--log", "log", "--approvals", "--task", file, ...flags);
  children.push(child);
  const ended = finished(child);
  ended.catch(() => undefined);
  await waitForStderr(child, /waits for approval [0-9a-f]{12}/);
  const id = /waits for approval ([0-9a-f]{12})/.exec(child.err)![1];
  return { child, id, ended };
}

describe("agent-os approve, deny and approvals", () => {
  it("approve: the held write happens once, the answer is logged with who, the chain verifies", async () => {
    const { child, id, ended } = await heldRun("once.txt");
    expect(child.err).toContain(`agent-os approve ${id} [--scope run] --log log    or    agent-os deny ${id} --log log`);
    expect(existsSync(join(ws, "once.txt"))).toBe(false);

    const listed = await agentOs(dir.path, "approvals", "--log", "log");
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${id}  pid 1  \\S+  fs\\.write  /workspace/once\\.txt  rule ask-writes  expires \\S+Z\\n$`));
    const json = JSON.parse((await agentOs(dir.path, "approvals", "--log", "log", "--json")).stdout);
    expect(json).toEqual([expect.objectContaining({ id, action: "fs.write", resource: "/workspace/once.txt", scopes: ["once", "run"] })]);
    // The mailbox sits beside the log, private to its user.
    const mailbox = join(dir.path, "log.approvals");
    expect(statSync(mailbox).mode & 0o777).toBe(0o700);
    expect(statSync(join(mailbox, "pending", `${id}.json`)).mode & 0o777).toBe(0o600);

    const approved = await agentOs(dir.path, "approve", id, "--log", "log", "--by", "ann");
    expect(approved).toMatchObject({ code: 0, stderr: "" });
    expect(approved.stdout).toMatch(new RegExp(`^${id}: approved \\(once\\) by ann at \\S+Z\\n$`));
    const ran = await ended;
    expect(ran).toMatchObject({ code: 0, stdout: "ok\n" });
    expect(readFileSync(join(ws, "once.txt"), "utf8")).toBe("written by the agent\n");

    const log = await agentOs(dir.path, "log", "--log", "log");
    expect(log.stdout).toContain(`approval-request  ${id}  fs.write  /workspace/once.txt  rule ask-writes`);
    expect(log.stdout).toContain(`approval  ${id}  approved (once)  by ann`);
    expect(log.stdout).toMatch(new RegExp(`call  fs\\.write  /workspace/once\\.txt  allow  ask-writes  approved by ann \\(once\\) ${id}`));
    expect((await agentOs(dir.path, "verify", "--log", "log")).code).toBe(0);
    const again = await agentOs(dir.path, "approve", id, "--log", "log");
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`there is no pending approval request ${id}`);
  });

  it("deny: the agent is told PermissionDenied with the rule and the reason, nothing is written, `by` defaults to the user", async () => {
    const { id, ended } = await heldRun("denied.txt");
    const denied = await agentOs(dir.path, "deny", id, "--log", "log", "--reason", "not now");
    expect(denied.code).toBe(0);
    expect(denied.stdout).toContain(`${id}: denied by cli:${userInfo().username}`);
    const ran = await ended;
    expect(ran.stdout).toBe("PermissionDenied ask-writes: a person approves writes: denied by a person: not now\n");
    expect(existsSync(join(ws, "denied.txt"))).toBe(false);
    const log = await agentOs(dir.path, "log", "--log", "log", "--type", "approval");
    expect(log.stdout).toContain(`approval  ${id}  denied  by cli:${userInfo().username}  not now`);
  });

  it("approve --scope always shows the diff, writes the rule, and a later run under the file is not asked", async () => {
    const { id, ended } = await heldRun("always.txt", "--approvals-policy", "approved.yaml");
    const dry = await agentOs(dir.path, "approve", id, "--log", "log", "--scope", "always", "--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`+  - id: "approved-${id}"`);
    expect(dry.stdout).toContain('+    approves: ["ask-writes"]');
    expect(existsSync(join(dir.path, "approved.yaml"))).toBe(false);

    const approved = await agentOs(dir.path, "approve", id, "--log", "log", "--scope", "always", "--by", "ann");
    expect(approved.code).toBe(0);
    expect(approved.stdout).toBe(`${dry.stdout}${id}: approved (always) by ann at ${/at (\S+Z)/.exec(approved.stdout)![1]}; rule approved-${id} written to ${join(dir.path, "approved.yaml")}\n`);
    expect((await ended).stdout).toBe("ok\n");
    expect(loadPolicy(join(dir.path, "approved.yaml")).rules.map((r) => r.id)).toEqual([`approved-${id}`]);

    // Without --approvals an ask is denied at once: so "ok" here is the written rule answering it.
    dir.file("combined.yaml", "version: 1\nextends: [./policy.yaml, ./approved.yaml]\n");
    const later = await agentOs(dir.path, "run", "agent.js", "--policy", "combined.yaml", "--mount", "/workspace=./workspace", "--log", "log", "--task", "always.txt,other.txt");
    expect(later.stdout).toBe("ok | PermissionDenied ask-writes: a person approves writes: approval required, and there is no approver: this kernel was not started with approvals (KernelOptions.approvals, agent-os run --approvals); denied (fail closed)\n");
  });

  it("an answer no kernel takes (the kernel died) is withdrawn, exit 1", async () => {
    const { child, id, ended } = await heldRun("orphan.txt");
    child.kill("SIGKILL");
    await ended;
    const answered = await agentOs(dir.path, "approve", id, "--log", "log", "--wait", "300ms");
    expect(answered.code).toBe(1);
    expect(answered.stderr).toContain("did not take the answer within 300 ms");
    expect(existsSync(join(dir.path, "log.approvals", "answers", `${id}.json`))).toBe(false);
    expect(existsSync(join(ws, "orphan.txt"))).toBe(false);
  });

  it("usage errors exit 2; --help exits 0", async () => {
    for (const command of ["approvals", "approve", "deny"]) {
      const help = await agentOs(dir.path, command, "--help");
      expect(help.code, command).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: agent-os ${command}`));
    }
    expect((await agentOs(dir.path, "approve")).code).toBe(2);
    expect((await agentOs(dir.path, "approve", "../../etc/passwd")).stderr).toContain("is not an approval request id");
    expect((await agentOs(dir.path, "approve", "0123456789ab", "--scope", "forever")).code).toBe(2);
    expect((await agentOs(dir.path, "approve", "0123456789ab", "--dry-run")).code).toBe(2);
    expect((await agentOs(dir.path, "deny", "0123456789ab", "--colour")).code).toBe(2);
    expect((await agentOs(dir.path, "approvals", "extra")).code).toBe(2);
    const noLog = await agentOs(dir.path, "run", "agent.js", "--approvals", "--no-log");
    expect(noLog.code).toBe(2);
    expect(noLog.stderr).toContain("--approvals needs the log");
    expect((await agentOs(dir.path, "deny", "0123456789ab", "--log", "log")).code).toBe(1);
  });
});

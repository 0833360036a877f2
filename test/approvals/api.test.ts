/**
 * Human approvals through the kernel's API (issue 19): the effect `ask` holds a call (state
 * `waiting`, nothing carried out) until a person answers. Real agents, a real LevelDB log in a
 * temp dir, real files: an approved write happens once, a denied or timed-out one never.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UsageError, type ApprovalEvent } from "../../dist/runtime/index.js";
import { formatEvent } from "../../dist/runtime/episodic/format.js";
import { askPolicy, eventsOf, pendingId, setup, until, writer } from "./helpers.js";

const t = setup("agent-os-approvals-api-");
const kernel = t.kernel();
afterAll(() => t.close());
const file = (name: string) => join(t.ws, name);

describe("effect ask on a kernel with approvals", () => {
  it("holds the call (waiting, nothing written) until approved once; the same call again is asked again", async () => {
    const proc = kernel.spawn(writer, "once.txt,once.txt");
    const id = await pendingId(kernel);
    expect(id).toMatch(/^[0-9a-f]{12}$/);
    expect(proc.state).toBe("waiting");
    expect(kernel.ps().find((p) => p.pid === proc.pid)?.state).toBe("waiting");
    expect(existsSync(file("once.txt"))).toBe(false);
    const [request] = kernel.approvals();
    expect(request).toMatchObject({
      id,
      runId: proc.runId,
      pid: proc.pid,
      agent: "writer",
      op: "fs.write-text",
      action: "fs.write",
      resource: "/workspace/once.txt",
      args: ["/workspace/once.txt", "written by the agent\n", false],
      rule: "ask-writes",
      reason: "a person approves writes",
      scopes: ["once", "run"],
    });
    // The kernel's default timeout: 5 minutes.
    expect(Date.parse(request.expiresAt) - Date.parse(request.requestedAt)).toBe(5 * 60 * 1000);

    const answer = await kernel.approve(id, { by: "ann" });
    expect(answer).toMatchObject({ id, outcome: "approved", scope: "once", by: "ann" });
    const second = await until(() => kernel.approvals().length === 1 && kernel.approvals()[0].id !== id).then(() => kernel.approvals()[0].id);
    expect(readFileSync(file("once.txt"), "utf8")).toBe("written by the agent\n");
    await kernel.deny(second, { by: "bob" });
    const result = await proc.wait();
    expect(result.output).toBe("ok | PermissionDenied ask-writes: a person approves writes: denied by a person");

    const events = await eventsOf(kernel, proc.runId);
    const calls = events.filter((e) => e.type === "call");
    expect(calls.map((e) => (e.data.decision as { effect: string }).effect)).toEqual(["allow", "deny"]);
    expect(events.filter((e) => e.type === "result").map((e) => e.data)).toEqual([{ call: calls[0].seq, ok: null }]);
  });

  it("scope run: the same call again in this run is not asked, another one is", async () => {
    const proc = kernel.spawn(writer, "run-a.txt,run-a.txt,run-b.txt");
    const id = await pendingId(kernel);
    await kernel.approve(id, { scope: "run", by: "ann" });
    const other = await until(() => kernel.approvals().length === 1 && kernel.approvals()[0].id !== id).then(() => kernel.approvals()[0]);
    expect(other.resource).toBe("/workspace/run-b.txt");
    await kernel.deny(other.id);
    const result = await proc.wait();
    expect(result.output).toBe("ok | ok | PermissionDenied ask-writes: a person approves writes: denied by a person");
    expect(existsSync(file("run-a.txt"))).toBe(true);
    expect(existsSync(file("run-b.txt"))).toBe(false);

    const events = await eventsOf(kernel, proc.runId);
    expect(events.filter((e) => e.type === "approval-request").map((e) => e.data.resource)).toEqual(["/workspace/run-a.txt", "/workspace/run-b.txt"]);
    const decisions = events.filter((e) => e.type === "call").map((e) => e.data.decision as Record<string, unknown>);
    expect(decisions[0].approval).toEqual({ id, outcome: "approved", scope: "run", by: "ann" });
    expect(decisions[1]).toMatchObject({ effect: "allow", approval: { id, outcome: "approved", scope: "run", reused: true } });

    // A grant of scope run ends with its run: the next run is asked again.
    const next = kernel.spawn(writer, "run-a.txt");
    await kernel.deny(await pendingId(kernel));
    expect((await next.wait()).output).toMatch(/^PermissionDenied ask-writes/);
  });

  it("deny: PermissionDenied with the rule and the person's reason, nothing written, the denial in the result", async () => {
    const proc = kernel.spawn(writer, "denied.txt");
    const id = await pendingId(kernel);
    const answer = await kernel.deny(id, { by: "bob", reason: "not today" });
    expect(answer).toMatchObject({ id, outcome: "denied", by: "bob", reason: "not today" });
    expect(Date.parse(answer.at)).not.toBeNaN();
    const result = await proc.wait();
    expect(result.output).toBe("PermissionDenied ask-writes: a person approves writes: denied by a person: not today");
    expect(result.denials).toEqual([expect.objectContaining({ action: "fs.write", resource: "/workspace/denied.txt", rule: "ask-writes", kind: "policy" })]);
    expect(existsSync(file("denied.txt"))).toBe(false);
    await expect(kernel.approve(id)).rejects.toThrow(UsageError);
  });

  it("every request and answer is an event in the hash chain, readable in agent-os log", async () => {
    const proc = kernel.spawn(writer, "logged.txt");
    const id = await pendingId(kernel);
    await kernel.approve(id, { by: "ann" });
    await proc.wait();
    const events = await eventsOf(kernel, proc.runId);
    expect(events.map((e) => e.type)).toEqual(["spawn", "approval-request", "approval", "call", "result", "exit"]);
    const [request, answer] = events.slice(1, 3);
    expect(request.data).toMatchObject({ id, action: "fs.write", resource: "/workspace/logged.txt", rule: "ask-writes", reason: "a person approves writes" });
    expect(answer.data).toMatchObject({ id, outcome: "approved", scope: "once", by: "ann" });
    expect(await (await kernel.log).verify()).toMatchObject({ ok: true });
    const lines = events.map(formatEvent);
    expect(lines[1]).toMatch(new RegExp(`approval-request  ${id}  fs\\.write  /workspace/logged\\.txt  rule ask-writes  expires \\S+Z$`));
    expect(lines[2]).toMatch(new RegExp(`approval  ${id}  approved \\(once\\)  by ann$`));
    expect(lines[3]).toMatch(new RegExp(`call  fs\\.write  /workspace/logged\\.txt  allow  ask-writes  approved by ann \\(once\\) ${id}$`));
  });

  it("onApproval tells listeners of each request and answer; the unsubscribe stops it", async () => {
    const seen: ApprovalEvent[] = [];
    const stop = kernel.onApproval((e) => seen.push(e));
    const throwing = kernel.onApproval(() => {
      throw new Error("a listener's bug");
    });
    const proc = kernel.spawn(writer, "listened.txt");
    const id = await pendingId(kernel);
    await kernel.deny(id, { by: "carol" });
    await proc.wait();
    stop();
    throwing();
    expect(seen.map((e) => e.type)).toEqual(["requested", "answered"]);
    expect(seen[0]).toMatchObject({ request: { id, resource: "/workspace/listened.txt" } });
    expect(seen[1]).toMatchObject({ request: { id }, answer: { id, outcome: "denied", by: "carol" } });
    const after = kernel.spawn(writer, "unlistened.txt");
    await kernel.deny(await pendingId(kernel));
    await after.wait();
    expect(seen).toHaveLength(2);
  });

  it("bad answers are refused and leave the request pending", async () => {
    const proc = kernel.spawn(writer, "bad.txt");
    const id = await pendingId(kernel);
    await expect(kernel.approve("000000000000")).rejects.toThrow(/no pending approval request/);
    await expect(kernel.approve(id, { scope: "forever" as never })).rejects.toThrow(/scope must be one of once, run, always/);
    await expect(kernel.approve(id, { by: "a\u202eb" })).rejects.toThrow(/printable/);
    // Scope always needs a policy file for approvals, which this kernel has none of.
    await expect(kernel.approve(id, { scope: "always" })).rejects.toThrow(/policy file for approvals/);
    expect(() => kernel.proposeAlways(id)).toThrow(/policy file for approvals/);
    expect(kernel.approvals().map((r) => r.id)).toEqual([id]);
    await kernel.approve(id);
    expect((await proc.wait()).output).toBe("ok");
  });
});

describe("timeout and no approver", () => {
  it("a rule's ask.timeout denies when nobody answers, and the timeout is logged", async () => {
    const k = t.kernel({ policy: askPolicy({ ask: { timeout: "200ms" } }), log: false });
    const result = await k.execute(writer, "late.txt");
    expect(result.output).toMatch(/^PermissionDenied ask-writes: a person approves writes: not approved in time \(no answer within 200 ms\); denied$/);
    expect(existsSync(file("late.txt"))).toBe(false);
    const events = await eventsOf(k, result.runId);
    const answer = events.find((e) => e.type === "approval")!;
    expect(answer.data).toMatchObject({ outcome: "timeout", by: "kernel" });
    expect(Date.parse(events.find((e) => e.type === "approval-request")!.data.expiresAt as string) - Date.parse(events.find((e) => e.type === "approval-request")!.data.requestedAt as string)).toBe(200);
    expect(k.approvals()).toEqual([]);
  });

  it("a kernel without approvals denies ask at once, saying there is no approver", async () => {
    const k = t.kernel({ approvals: undefined, log: false });
    const seen: unknown[] = [];
    k.onApproval((e) => seen.push(e));
    const result = await k.execute(writer, "nobody.txt");
    expect(result.output).toBe(
      "PermissionDenied ask-writes: a person approves writes: approval required, and there is no approver: this kernel was not started with approvals (KernelOptions.approvals, agent-os run --approvals); denied (fail closed)",
    );
    expect(existsSync(file("nobody.txt"))).toBe(false);
    const events = await eventsOf(k, result.runId);
    expect(events.map((e) => e.type)).toEqual(["spawn", "call", "exit"]);
    expect(seen).toEqual([]);
    expect(k.approvals()).toEqual([]);
    await expect(k.approve("000000000000")).rejects.toThrow(/approvals are not enabled/);
  });

  it("refuses bad approvals options, and a mailbox or approvals policy file inside a mount", () => {
    expect(() => t.kernel({ approvals: { timeout: "2d" }, log: false })).toThrow(/approvals\.timeout/);
    expect(() => t.kernel({ approvals: { timeout: "25h" }, log: false })).toThrow(/at most 24h/);
    expect(() => t.kernel({ approvals: { policyFile: "x.json" }, log: false })).toThrow(/YAML file/);
    expect(() => t.kernel({ approvals: { colour: 1 } as never, log: false })).toThrow(/unknown option "colour"/);
    expect(() => t.kernel({ approvals: { policyFile: join(t.ws, "approved.yaml") }, log: false })).toThrow(/an agent could write approvals into it/);
    expect(() => t.kernel({ log: { dir: join(t.ws, "log") } })).toThrow(/an agent could answer its own requests/);
  });
});

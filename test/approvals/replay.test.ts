/**
 * Replay of runs a person answered: the recorded answer decides (the call event records the
 * final decision), so a replay is identical and never waits for anyone; a counterfactual replay
 * reports the effect `ask` as a change like any other.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { redecideRun, type ApprovalEvent } from "../../dist/runtime/index.js";
import { askPolicy, pendingId, setup, until, writer } from "./helpers.js";

const t = setup("agent-os-approvals-replay-");
const kernel = t.kernel();
afterAll(() => t.close());

describe("replay of a run with approvals", () => {
  it("reproduces the recorded answers without asking anyone, and touches nothing", async () => {
    const proc = kernel.spawn(writer, "kept.txt,kept.txt,refused.txt");
    await kernel.approve(await pendingId(kernel), { scope: "run", by: "ann" });
    await until(() => kernel.approvals().length === 1 && kernel.approvals()[0].resource === "/workspace/refused.txt");
    await kernel.deny(kernel.approvals()[0].id, { by: "bob" });
    const recorded = await proc.wait();
    expect(recorded.output).toBe("ok | ok | PermissionDenied ask-writes: a person approves writes: denied by a person");
    const written = statSync(join(t.ws, "kept.txt")).mtimeMs;

    const asked: ApprovalEvent[] = [];
    const stop = kernel.onApproval((e) => asked.push(e));
    const report = await kernel.replay({ runId: recorded.runId });
    stop();
    expect(report.status).toBe("identical");
    expect(report.output).toBe(recorded.output);
    expect(report.events.map((e) => [e.resource, e.effect, e.outcome])).toEqual([
      ["/workspace/kept.txt", "allow", "ok"],
      ["/workspace/kept.txt", "allow", "ok"],
      ["/workspace/refused.txt", "deny", "denied"],
    ]);
    expect(asked).toEqual([]);
    expect(kernel.approvals()).toEqual([]);
    expect(statSync(join(t.ws, "kept.txt")).mtimeMs).toBe(written);
    expect(existsSync(join(t.ws, "refused.txt"))).toBe(false);
    expect(readFileSync(join(t.ws, "kept.txt"), "utf8")).toBe("written by the agent\n");
  });

  it("counterfactual: under a policy that asks, the answered calls show as changes to ask", async () => {
    const proc = kernel.spawn(writer, "cf.txt");
    await kernel.approve(await pendingId(kernel));
    const recorded = await proc.wait();
    const report = await redecideRun(await kernel.log, recorded.runId, askPolicy());
    expect(report.changes).toEqual([
      expect.objectContaining({ action: "fs.write", resource: "/workspace/cf.txt", before: { effect: "allow", rule: "ask-writes" }, after: expect.objectContaining({ effect: "ask", rule: "ask-writes" }) }),
    ]);
    const allowAll = askPolicy({ effect: "allow" });
    expect((await redecideRun(await kernel.log, recorded.runId, allowAll)).changes).toEqual([]);
  });
});

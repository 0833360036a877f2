/**
 * A process whose call is held for a person is `waiting`: signals still work on it (SIGKILL and
 * SIGTERM end the held call, SIGSTOP/SIGCONT keep it), and its deadline does not run meanwhile.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sleep } from "../kernel/helpers.js";
import { eventsOf, pendingId, setup, until, writer } from "./helpers.js";

const t = setup("agent-os-approvals-process-");
const kernel = t.kernel();
afterAll(() => t.close());
const file = (name: string) => join(t.ws, name);

describe("a waiting process", () => {
  it("SIGKILL ends it at once: killed, the held call cancelled (logged), nothing written", async () => {
    const proc = kernel.spawn(writer, "killed.txt");
    const id = await pendingId(kernel);
    proc.signal("SIGKILL");
    const result = await proc.wait();
    expect(result).toMatchObject({ status: "killed", signal: "SIGKILL", reason: "signal" });
    await until(() => kernel.approvals().length === 0);
    await expect(kernel.approve(id)).rejects.toThrow(/no pending approval request/);
    // (the answer is logged as the run ends, before its exit)
    const events = await eventsOf(kernel, proc.runId);
    expect(events.find((e) => e.type === "approval")?.data).toMatchObject({ id, outcome: "cancelled", by: "kernel", reason: "the process ended (killed, signal)" });
    expect(events.findIndex((e) => e.type === "approval")).toBeLessThan(events.findIndex((e) => e.type === "exit"));
    expect(events.filter((e) => e.type === "result")).toEqual([]);
    expect(existsSync(file("killed.txt"))).toBe(false);
  });

  it("SIGTERM ends the held call: the agent is told `interrupted`, nothing is written", async () => {
    const proc = kernel.spawn(writer, "termed.txt");
    const id = await pendingId(kernel);
    proc.signal("SIGTERM");
    const result = await proc.wait();
    expect(result.status).toBe("ok");
    expect(result.output).toBe("KernelError interrupted: a person approves writes: not approved: SIGTERM: the agent has been asked to finish; denied");
    expect(result.denials).toEqual([expect.objectContaining({ resource: "/workspace/termed.txt", kind: "interrupted" })]);
    const events = await eventsOf(kernel, proc.runId);
    expect(events.find((e) => e.type === "approval")?.data).toMatchObject({ id, outcome: "cancelled", by: "kernel" });
    expect(existsSync(file("termed.txt"))).toBe(false);
  });

  it("SIGSTOP makes it stopped; an answer meanwhile is kept; SIGCONT lets it go on", async () => {
    const proc = kernel.spawn(writer, "paused.txt");
    const id = await pendingId(kernel);
    proc.signal("SIGSTOP");
    expect(proc.state).toBe("stopped");
    proc.signal("SIGCONT");
    expect(proc.state).toBe("waiting");
    proc.signal("SIGSTOP");
    await kernel.approve(id, { by: "ann" });
    // The call is carried out (its answer was given), and the agent stays stopped after it.
    await until(() => existsSync(file("paused.txt")));
    await sleep(200);
    expect(proc.state).toBe("stopped");
    proc.signal("SIGCONT");
    const result = await proc.wait();
    expect(result).toMatchObject({ status: "ok", output: "ok" });
  });

  it("its deadline does not run while it waits", async () => {
    const proc = kernel.spawn(writer, "slow-answer.txt", { limits: { wallTime: 1500 } });
    const id = await pendingId(kernel);
    // Held for twice its whole deadline: only a deadline that counted waiting could kill it.
    await sleep(3000);
    expect(proc.state).toBe("waiting");
    await kernel.approve(id);
    const result = await proc.wait();
    expect(result).toMatchObject({ status: "ok", output: "ok" });
    expect(result.usage.wallMs).toBeLessThan(1500);
  });

  it("closing the kernel cancels what is held", async () => {
    const k = t.kernel({ log: false });
    const proc = k.spawn(writer, "closed.txt");
    await pendingId(k);
    await k.close();
    expect((await proc.wait()).status).toBe("killed");
    expect(k.approvals()).toEqual([]);
    expect(existsSync(file("closed.txt"))).toBe(false);
  });
});

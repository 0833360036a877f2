/**
 * The distributed kernel when things fail (issue 20): a node killed with SIGKILL mid-way, and
 * a restart of the NATS server with runs queued and running. Real nats-server, real
 * `agent-os node` processes; the shared file shows that no run ran twice.
 */
import { afterEach, describe, expect, it } from "vitest";
import { KernelSpace, type Agent, type Cluster } from "../../dist/runtime/index.js";
import { results, startCluster, until, type TestCluster } from "./fixture.js";
import { hasNatsServer } from "./nats.js";

async function agentOf(c: TestCluster, file: string): Promise<Agent> {
  const loader = new KernelSpace({ log: false, pool: false, cache: false });
  try {
    return await loader.load(c.file(file));
  } finally {
    await loader.close();
  }
}

async function runningOn(client: Cluster, runId: string): Promise<string> {
  return until(async () => {
    const r = await client.status(runId);
    return r?.state === "running" ? r.node : undefined;
  }, `run ${runId} to start`);
}

describe.skipIf(!hasNatsServer())("cluster failures", () => {
  let c: TestCluster | undefined;
  afterEach(async () => {
    await c?.close();
    c = undefined;
  }, 120_000);

  it("SIGKILL of a node: its queued runs finish elsewhere, its started runs fail node-lost (or run again with retry idempotent), none runs twice", async () => {
    c = await startCluster();
    const n1 = await c.startNode("n1");
    const client = await c.client();
    const append = await agentOf(c, "append.js");
    // n1 alone takes two long runs (its capacity); the rest wait in the queue.
    const lost = (await client.submit(append, "lost:100000")).runId;
    const retried = (await client.submit(append, "retried:100000", { retry: "idempotent" })).runId;
    expect(await runningOn(client, lost)).toBe("n1");
    expect(await runningOn(client, retried)).toBe("n1");
    const queued = await Promise.all(Array.from({ length: 8 }, (_, i) => client.submit(append, `q${i}:0`).then((s) => s.runId)));
    expect((await client.ps()).processes.filter((p) => p.state === "queued")).toHaveLength(8);

    // Both have made their first call (the line), so each has had a side effect on n1.
    await until(async () => (c!.lines().length === 2 ? true : undefined), "the two runs' first calls");
    n1.kill("SIGKILL");
    await new Promise((resolve) => n1.once("close", resolve));
    await Promise.all([c.startNode("n2"), c.startNode("n3")]);
    const done = await results(client, [lost, ...queued]);
    expect(done.get(lost)).toMatchObject({ status: "failed", reason: "node-lost", node: "n1", attempt: 1 });
    for (const id of queued) expect(done.get(id)).toMatchObject({ status: "ok", attempt: 1, node: expect.stringMatching(/^n[23]$/) });
    // The idempotent run was queued again and started over (the second time on n2 or n3).
    const again = await until(async () => ((await client.status(retried))?.state === "running" ? await client.status(retried) : undefined), "the retried run to start again");
    expect(again).toMatchObject({ attempt: 2, node: expect.stringMatching(/^n[23]$/), lost: [{ node: "n1", attempt: 1 }] });
    await until(async () => (c!.lines().filter((l) => l === "retried:100000").length === 2 ? true : undefined), "the retried run's first call, again");
    await client.signal(retried, "SIGKILL");

    // n1 comes back on its log: it does not resume what it lost, and takes new work.
    await c.startNode("n1");
    const fresh = (await client.submit(append, "fresh:0")).runId;
    await results(client, [fresh]);
    expect((await client.status(lost))!.result).toMatchObject({ status: "failed", reason: "node-lost" });
    const lines = c.lines();
    expect(lines.filter((l) => l === "lost:100000")).toHaveLength(1);
    expect(lines.filter((l) => l === "retried:100000")).toHaveLength(2); // opted in: started twice, on two nodes
    for (let i = 0; i < 8; i++) expect(lines.filter((l) => l === `q${i}:0`)).toHaveLength(1);
  }, 240_000);

  it("a restart of the NATS server: queued runs survive it and run after, a queued run removed by SIGKILL never runs, and results written before it are still there", async () => {
    c = await startCluster();
    const client = await c.client();
    const append = await agentOf(c, "append.js");
    const first = await Promise.all(["a:0", "b:0", "c:0", "d:0"].map((t) => client.submit(append, t).then((s) => s.runId)));
    expect(await client.signal(first[3], "SIGKILL")).toEqual({ runId: first[3], node: null, state: "removed" });
    const stoppedInQueue = (await client.submit(append, "held:0")).runId;
    expect(await client.signal(stoppedInQueue, "SIGSTOP")).toEqual({ runId: stoppedInQueue, node: null, state: "stopped" });

    await c.nats.stop();
    await c.nats.start();
    const node = await c.startNode("n1");
    const done = await results(client, first);
    for (const id of first.slice(0, 3)) expect(done.get(id)).toMatchObject({ status: "ok", node: "n1" });
    expect(done.get(first[3])).toMatchObject({ status: "killed", signal: "SIGKILL", node: null });
    // The run stopped in the queue started stopped on n1; SIGCONT there lets it finish.
    expect(await runningOn(client, stoppedInQueue)).toBe("n1");
    await until(async () => ((await client.ps()).processes.find((p) => p.runId === stoppedInQueue)?.state === "stopped" ? true : undefined), "the held run to be stopped on n1");
    expect(c.lines()).not.toContain("held:0");
    expect(await client.signal(stoppedInQueue, "SIGCONT")).toMatchObject({ node: "n1", state: "running" });

    // Runs in flight while the server restarts end, and their results are written after it.
    const slow = await Promise.all(["s1:30", "s2:30", "s3:30"].map((t) => client.submit(append, t).then((s) => s.runId)));
    await runningOn(client, slow[0]);
    await c.nats.stop();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await c.nats.start();
    const after = await results(client, [...slow, stoppedInQueue]);
    for (const id of [...slow, stoppedInQueue]) expect(after.get(id)).toMatchObject({ status: "ok", node: "n1" });
    expect((await client.status(first[0]))!.result).toMatchObject({ status: "ok", output: "done a:0" });
    expect(c.lines().sort()).toEqual(["a:0", "b:0", "c:0", "held:0", "s1:30", "s2:30", "s3:30"]);
    expect(node.exitCode).toBe(null);

    // A node whose server has gone still leaves when asked.
    await c.nats.stop();
    const left = new Promise<number | null>((resolve) => node.once("close", (code) => resolve(code)));
    node.kill("SIGTERM");
    expect(await left).toBe(0);
  }, 240_000);
});

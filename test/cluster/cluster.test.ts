/**
 * The distributed kernel (issue 20) with a real nats-server and three `agent-os node`
 * processes: every run ends once, signals reach the node that hosts a run, a pushed policy
 * version reaches new runs only, and rate limits hold across nodes.
 */
import { createHash, randomUUID } from "node:crypto";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelSpace, type Cluster } from "../../dist/runtime/index.js";
import { agentOs } from "../cli/helpers.js";
import { openCluster } from "../../dist/runtime/cluster/connect.js";
import { enqueue } from "../../dist/runtime/cluster/liveness.js";
import { POLICY_V1, results, startCluster, stopNode, until, type TestCluster } from "./fixture.js";
import { editStored, withDb } from "../episodic/stored.js";
import { hasNatsServer } from "./nats.js";

const POLICY_V2 = POLICY_V1.replace("name: cluster-v1", "name: cluster-v2").replace(
  "rules:\n",
  "rules:\n  - id: no-out\n    action: fs.write\n    resource: /shared/out-*\n    effect: deny\n",
);
const POLICY_RATE = POLICY_V1.replace("name: cluster-v1", "name: cluster-rate").replace(
  "rules:\n",
  "rules:\n  - id: rl-writes\n    action: fs.write\n    resource: /shared/rl-*\n    rate: 4/minute\n    effect: allow\n",
);
const RL_AGENT = `import { fs } from "agent-os/guest";
export async function run(task) {
  await fs.write("/shared/rl-" + task, task);
  let x = 0;
  for (let i = 0; i < 2e7; i++) x += i;
  return "wrote " + task;
}`;

describe.skipIf(!hasNatsServer())("a cluster of three node processes", () => {
  let c: TestCluster;
  let client: Cluster;
  beforeAll(async () => {
    c = await startCluster();
    await Promise.all(["n1", "n2", "n3"].map((n) => c.startNode(n)));
    client = await c.client();
  }, 120_000);
  afterAll(async () => c?.close(), 120_000);

  it("200 submitted runs all end, each exactly once, spread over the nodes", async () => {
    const loader = new KernelSpace({ log: false, pool: false, cache: false });
    const agent = await loader.load(c.file("append.js"));
    await loader.close();
    const tasks = Array.from({ length: 200 }, (_, i) => `t${i}:0`);
    const ids: string[] = [];
    for (let i = 0; i < tasks.length; i += 25) ids.push(...(await Promise.all(tasks.slice(i, i + 25).map((t) => client.submit(agent, t)))).map((s) => s.runId));
    const done = await results(client, ids);
    expect([...done.values()].filter((r) => r.status !== "ok")).toEqual([]);
    expect(c.lines().sort()).toEqual([...tasks].sort());
    expect(new Set([...done.values()].map((r) => r.node)).size).toBeGreaterThan(1);
    expect([...done.values()].every((r) => r.attempt === 1 && r.policy?.name === "cluster-v1")).toBe(true);
  }, 300_000);

  it("agent-os ps and agent-os signal, from other processes: SIGSTOP stops a spinning run on its node and its fuel, SIGCONT resumes it", async () => {
    const submitted = await c.cli("submit", "spin.js", "--json");
    expect(submitted.code, submitted.stderr).toBe(0);
    const { runId } = JSON.parse(submitted.stdout) as { runId: string };
    const ps = async () => {
      const r = await c.cli("ps", "--json");
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { processes: { runId: string; node: string; state: string; usage: { fuel: number } }[] }).processes.find((p) => p.runId === runId);
    };
    const running = await until(async () => ((await ps())?.state === "running" ? await ps() : undefined), "the run to start");
    expect(["n1", "n2", "n3"]).toContain(running!.node);

    const stopped = await c.cli("signal", runId, "SIGSTOP");
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toBe(`${runId} on ${running!.node}: stopped\n`);
    const frozen = (await ps())!;
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(await ps()).toMatchObject({ state: "stopped", usage: { fuel: frozen.usage.fuel } });

    const continued = await c.cli("signal", runId, "SIGCONT");
    expect(continued.stdout).toBe(`${runId} on ${running!.node}: running\n`);
    await until(async () => ((await ps())!.usage.fuel > frozen.usage.fuel ? true : undefined), "the fuel to rise again");

    const killed = await c.cli("signal", runId, "SIGKILL", "--json");
    expect(JSON.parse(killed.stdout)).toEqual({ runId, node: running!.node, state: "killed" });
    expect(await client.wait(runId)).toMatchObject({ status: "killed", signal: "SIGKILL", node: running!.node });
    const again = await c.cli("signal", runId, "SIGCONT");
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("has already ended");
  }, 120_000);

  it("a policy pushed while runs are in flight: the running run keeps its version, new runs get the new one", async () => {
    const loader = new KernelSpace({ log: false, pool: false, cache: false });
    const gated = await loader.load(c.file("gated.js"));
    await loader.close();
    const { runId: a } = await client.submit(gated, "a");
    const old = await until(async () => ((await client.status(a))?.state === "running" ? await client.status(a) : undefined), "run a to start");

    writeFileSync(c.file("v2.yaml"), POLICY_V2);
    const pushed = await c.cli("policy", "push", "v2.yaml", "--json");
    expect(pushed.code, pushed.stderr).toBe(0);
    const v2 = JSON.parse(pushed.stdout) as { name: string; hash: string; revision: number };
    expect(v2).toMatchObject({ name: "cluster-v2" });
    for (const node of c.nodes.values()) await until(async () => (node.err.includes(`policy cluster-v2 ${v2.hash.slice(0, 12)}`) ? true : undefined), `${node.name} to take v2`);

    const { runId: b } = await client.submit(gated, "b");
    await until(async () => ((await client.status(b))?.state === "running" ? true : undefined), "run b to start");
    writeFileSync(join(c.shared, "go-a"), "");
    writeFileSync(join(c.shared, "go-b"), "");
    const ra = await client.wait(a);
    const rb = await client.wait(b);
    expect(ra).toMatchObject({ status: "ok", output: "wrote a", policy: { name: "cluster-v1", hash: old!.policy!.hash } });
    expect(existsSync(join(c.shared, "out-a"))).toBe(true);
    expect(rb).toMatchObject({ status: "error", policy: { name: "cluster-v2", hash: v2.hash, revision: v2.revision } });
    expect(rb.denials).toMatchObject([{ rule: "no-out", resource: "/shared/out-b" }]);
    expect(existsSync(join(c.shared, "out-b"))).toBe(false);

    // Each run's spawn event, in its node's own log, records the version's hash.
    for (const [run, hash] of [[ra, old!.policy!.hash], [rb, v2.hash]] as const) {
      const log = await agentOs(c.dir, "log", "--log", join(c.dir, run.node!, "log"), "--run", run.runId, "--type", "spawn", "--json");
      expect(log.code, log.stderr).toBe(0);
      expect(JSON.parse(log.stdout.trim().split("\n")[0])).toMatchObject({ type: "spawn", data: { policy: { hash } } });
    }
  }, 120_000);

  it("a rate limit holds across nodes: 4/minute lets 4 of 12 runs on three nodes write", async () => {
    writeFileSync(c.file("rate.yaml"), POLICY_RATE);
    writeFileSync(c.file("rl.js"), RL_AGENT);
    const pushed = await c.cli("policy", "push", "rate.yaml", "--json");
    expect(pushed.code, pushed.stderr).toBe(0);
    const { hash } = JSON.parse(pushed.stdout) as { hash: string };
    for (const node of c.nodes.values()) await until(async () => (node.err.includes(`policy cluster-rate ${hash.slice(0, 12)}`) ? true : undefined), `${node.name} to take the rate policy`);
    const loader = new KernelSpace({ log: false, pool: false, cache: false });
    const agent = await loader.load(c.file("rl.js"));
    await loader.close();
    const ids = (await Promise.all(Array.from({ length: 12 }, (_, i) => client.submit(agent, `r${i}`)))).map((s) => s.runId);
    const done = [...(await results(client, ids)).values()];
    const ok = done.filter((r) => r.status === "ok");
    expect(ok).toHaveLength(4);
    expect(readdirSync(c.shared).filter((f) => f.startsWith("rl-"))).toHaveLength(4);
    const denied = done.filter((r) => r.status !== "ok");
    expect(denied).toHaveLength(8);
    for (const r of denied) expect(r.denials[0]).toMatchObject({ rule: "rl-writes", reason: expect.stringContaining("across the cluster") });
    expect(new Set(done.map((r) => r.node)).size).toBeGreaterThan(1);
  }, 120_000);

  it("a node refuses code whose bytes do not match the hash a run names: nothing of it runs", async () => {
    const conn = await openCluster(c.url, { token: c.token });
    try {
      const benign = 'export async function run() { return "benign"; }';
      const evil = 'import { fs } from "agent-os/guest"; export async function run() { await fs.write("/shared/runs.txt", "evil\\n", { append: true }); return "evil"; }';
      const hash = createHash("sha256").update(benign).digest("hex");
      // Someone with the cluster's credentials swaps other bytes in under the benign code's name.
      await conn.code.putBlob({ name: hash }, new TextEncoder().encode(evil));
      const record = { runId: randomUUID(), state: "queued" as const, agent: { name: "swapped", kind: "module" as const, engine: "quickjs" as const, codeHash: hash }, task: "", retry: "never" as const, attempt: 1, submittedAt: Date.now() };
      await enqueue(conn, record, await conn.runs.create(record.runId, new TextEncoder().encode(JSON.stringify(record))));
      const result = await client.wait(record.runId);
      expect(result).toMatchObject({ status: "failed", reason: "refused", pid: null, error: expect.stringContaining(`the code stored as ${hash} hashes to`) });
      expect(c.lines()).not.toContain("evil");

      // A run whose record asks for limits the kernel does not take is refused once claimed, not left running.
      const loader = new KernelSpace({ log: false, pool: false, cache: false });
      const append = await loader.load(c.file("append.js"));
      await loader.close();
      await expect(client.submit(append, "bad-limits", { limits: { fuel: -1 } })).rejects.toThrow(/submit limits/);
      const raw = await client.submit(append, "placeholder");
      await client.wait(raw.runId);
      const bad = { ...record, runId: randomUUID(), agent: { name: "append", kind: "module" as const, engine: "quickjs" as const, codeHash: append.codeHash }, task: "bad-limits", limits: { fuel: -1 } };
      await enqueue(conn, bad, await conn.runs.create(bad.runId, new TextEncoder().encode(JSON.stringify(bad))));
      expect(await client.wait(bad.runId)).toMatchObject({ status: "failed", reason: "refused", error: expect.stringContaining("the node could not start it") });
      expect(c.lines()).not.toContain("bad-limits");
    } finally {
      await conn.close();
    }
  }, 60_000);

  it("a client with a wrong token is refused (exit 2), and nothing reaches the cluster", async () => {
    const before = await client.ps();
    const wrong = ["--nats", c.url, "--token", "not-the-token"];
    const submit = await agentOs(c.dir, "submit", "append.js", "--task", "intruder", ...wrong);
    expect(submit.code).toBe(2);
    expect(submit.stderr).toMatch(/refused the credentials/);
    for (const args of [["ps"], ["signal", "00000000-0000-0000-0000-000000000000", "SIGKILL"], ["policy", "push", "policy.yaml"]]) {
      const r = await agentOs(c.dir, ...args, ...wrong);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/refused the credentials/);
    }
    const none = await agentOs(c.dir, "ps", "--nats", c.url, "--token", "");
    expect(none.code).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(c.lines()).not.toContain("intruder");
    expect((await client.ps()).processes).toHaveLength(before.processes.length);
  }, 120_000);

  // (last: it stops n2)
  it("a node's log tampered with on disk is found by agent-os verify --cluster, naming the node and the first bad event; the others verify", async () => {
    const before = await c.cli("verify", "--cluster");
    expect(before.code, before.stdout + before.stderr).toBe(0);
    expect(before.stdout).toMatch(/^n1 {2}ok: \d+ events, \d+ anchors/m);
    const n2 = c.nodes.get("n2")!;
    await stopNode(n2);
    const dir = join(c.dir, "n2", "log");
    await withDb(dir, (db) => editStored(db, 3, (record) => record.replace(/"pid":(\d+)/, '"pid":9$1')));
    const after = await c.cli("verify", "--cluster");
    expect(after.code, after.stdout + after.stderr).toBe(1);
    expect(after.stdout).toMatch(/^n2 {2}TAMPERED at event 3: event 3 was changed/m);
    expect(after.stdout).toMatch(/^n1 {2}ok: /m);
    expect(after.stdout).toMatch(/^n3 {2}ok: /m);
  }, 120_000);
});

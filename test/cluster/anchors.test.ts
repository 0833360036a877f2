/**
 * Anchors and the cluster's history, with real parts: a real nats-server, real kernels with
 * LevelDB logs, nodes registered in the nodes bucket as a node registers itself. Each scenario
 * has its own cluster prefix (its own streams and buckets on the one server).
 *
 * Shown: anchors are published by the timer and by anchorNow, signed with the node's key;
 * `verifyCluster` and `agent-os verify --cluster` pass two intact logs (one read by path, one
 * through the node's events service), name the node and the first bad event of a log changed
 * on disk, catch a log rewritten and re-chained consistently (and one cut short) by its
 * anchors, and report a forged anchor; `agent-os log --nats` merges two nodes' events by time.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { Subscription } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelSpace, type LoggedEvent, type NodeRecord } from "../../dist/runtime/index.js";
import { Anchorer, anchorSignatureOk, loadOrCreateNodeKey, serveEvents, signAnchor, type Anchor, type NodeKey } from "../../dist/runtime/cluster/anchors.js";
import { json, openCluster, type ClusterConnection } from "../../dist/runtime/cluster/connect.js";
import { readClusterTimeline, verifyCluster } from "../../dist/runtime/cluster/history.js";
import { readAnchors } from "../../dist/runtime/cluster/node-logs.js";
import type { KernelLog } from "../../dist/runtime/episodic/kernel-log.js";
import { openLog } from "../../dist/runtime/episodic/index.js";
import { agentOs } from "../cli/helpers.js";
import { editStored, withDb } from "../episodic/stored.js";
import { rewriteLog } from "./forge.js";
import { hasNatsServer, startNats, type NatsServer } from "./nats.js";

const POLICY = { version: 1, name: "anchors-test", default: "deny", rules: [{ id: "basics", action: ["log.write", "clock.now", "random.bytes", "process.*"], effect: "allow" }] };
const LONG = 120_000;

interface TestNode {
  name: string;
  dir: string;
  kernel: KernelSpace;
  log: KernelLog;
  key: NodeKey;
  anchorer: Anchorer;
  /** Runs an agent to its end on this node; resolves with its run id. */
  run(task: string): Promise<string>;
  close(): Promise<void>;
}

let nats: NatsServer;
let scratch: string;
const conns: ClusterConnection[] = [];
const nodes: TestNode[] = [];

beforeAll(async () => {
  if (!hasNatsServer()) return;
  nats = await startNats();
  scratch = mkdtempSync(join(tmpdir(), "agent-os-anchors-"));
}, LONG);

afterAll(async () => {
  for (const n of nodes) await n.close();
  for (const c of conns) await c.close();
  await nats?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}, LONG);

async function cluster(prefix: string): Promise<ClusterConnection> {
  const conn = await openCluster(nats.url, { token: nats.token, prefix });
  conns.push(conn);
  return conn;
}

/**
 * A kernel with a LevelDB log, its key and anchorer, registered in the nodes bucket (with its
 * log directory, or none: then only its events service reaches it). The anchorer's timer is
 * not started unless `everyMs` is given.
 */
async function startNode(conn: ClusterConnection, name: string, o: { recordDir?: boolean; serve?: boolean; everyMs?: number } = {}): Promise<TestNode> {
  const dir = join(scratch, `${conn.names.prefix}-${name}`, "log");
  const kernel = new KernelSpace({ policy: POLICY, log: { dir }, pool: { warm: 1 } });
  const log = await kernel.log;
  const key = loadOrCreateNodeKey(join(scratch, `${conn.names.prefix}-${name}`, "node-key.pem"));
  const incarnation = randomUUID();
  const anchorer = new Anchorer({ conn, node: name, incarnation, log, key, everyMs: o.everyMs ?? 60_000 });
  if (o.everyMs !== undefined) anchorer.start();
  const record: NodeRecord = { name, incarnation, at: Date.now(), startedAt: Date.now(), capacity: 1, runs: [], logDir: o.recordDir === false ? null : dir, publicKey: key.publicKey, host: hostname() };
  await conn.nodes.put(name, json.encode(record));
  const sub: Subscription | undefined = o.serve ? serveEvents(conn, name, log) : undefined;
  const agent = kernel.register((task: string) => `done ${task}`, { name: `agent-${name}` });
  let closed = false;
  const node: TestNode = {
    name,
    dir,
    kernel,
    log,
    key,
    anchorer,
    run: async (task) => {
      const result = await kernel.spawn(agent, task).wait();
      expect(result.status, result.error).toBe("ok");
      return result.runId;
    },
    // In the order a node closes: the kernel (and its log) first, then the last anchor.
    close: async () => {
      if (closed) return;
      closed = true;
      sub?.unsubscribe();
      await kernel.close();
      await anchorer.close();
    },
  };
  nodes.push(node);
  return node;
}

async function until<T>(what: string, get: () => Promise<T | undefined>): Promise<T> {
  for (const t0 = Date.now(); Date.now() - t0 < 60_000; await new Promise((r) => setTimeout(r, 50))) {
    const value = await get();
    if (value !== undefined) return value;
  }
  throw new Error(`timed out waiting for ${what}`);
}

const anchorsOf = async (conn: ClusterConnection, node: string) => (await readAnchors(conn, node)).map((a) => a.value as Anchor);
const natsArgs = (prefix: string) => ["--nats", nats.url, "--token", nats.token, "--prefix", prefix];

describe.skipIf(!hasNatsServer())("anchors and the cluster's history", () => {
  it("keeps the node key as PKCS#8 PEM (0600), reads it back, and refuses a file that is not an Ed25519 key", () => {
    const file = join(scratch, "keys", "k.pem");
    const key = loadOrCreateNodeKey(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadOrCreateNodeKey(file).publicKey).toBe(key.publicKey);
    const bad = join(scratch, "keys", "bad.pem");
    writeFileSync(bad, "not a key");
    expect(() => loadOrCreateNodeKey(bad)).toThrow(expect.objectContaining({ code: "USAGE", message: expect.stringContaining(bad) }));
  });

  it("publishes signed anchors on its timer when the head moves, and at once with anchorNow", { timeout: LONG }, async () => {
    const conn = await cluster("anchors-timer");
    const n = await startNode(conn, "t1", { everyMs: 100 });
    await n.run("one");
    const head = n.log.head();
    const timed = await until("the timer's anchor of the head", async () => (await anchorsOf(conn, "t1")).find((a) => a.seq === head.seq));
    expect(timed).toMatchObject({ node: "t1", seq: head.seq, hash: head.hash });
    expect((await n.log.get(head.seq))?.hash).toBe(timed.hash);

    await n.run("two");
    await n.anchorer.anchorNow();
    const all = await anchorsOf(conn, "t1");
    expect(all[all.length - 1]).toMatchObject({ seq: n.log.head().seq, hash: n.log.head().hash });
    for (const a of all) expect(anchorSignatureOk(a, n.key.publicKey)).toBe(true);
    // Anything changed breaks the signature; so does another key.
    const last = all[all.length - 1];
    expect(anchorSignatureOk({ ...last, seq: last.seq + 1 }, n.key.publicKey)).toBe(false);
    expect(anchorSignatureOk(last, loadOrCreateNodeKey(join(scratch, "other.pem")).publicKey)).toBe(false);

    // Concurrent calls share publishes, and all resolve with the head anchored.
    await n.run("three");
    await Promise.all([n.anchorer.anchorNow(), n.anchorer.anchorNow(), n.anchorer.anchorNow()]);
    expect(n.anchorer.lastAnchor).toMatchObject({ seq: n.log.head().seq, hash: n.log.head().hash });
    await n.close();
  });

  it("serves a node's events a page at a time (a log of several pages verifies through it), and refuses a bad request", { timeout: LONG }, async () => {
    const conn = await cluster("anchors-serve");
    const n = await startNode(conn, "s1", { serve: true, recordDir: false });
    await n.run("a");
    await n.run("b");
    const ask = async (request: unknown) => json.decode<Record<string, unknown>>((await conn.nc.request(conn.names.nodeSubject("s1", "events"), json.encode(request), { timeout: 5000 })).data);
    const page = await ask({ from: 1, limit: 2 });
    expect((page.events as LoggedEvent[]).map((e) => e.seq)).toEqual([1, 2]);
    expect(page.next).toBe(3);
    const rest = await ask({ from: 3 });
    expect((rest.events as LoggedEvent[])[0].seq).toBe(3);
    expect(rest.next).toBeNull();
    expect(await ask({ limit: 5000 })).toEqual({ error: expect.stringMatching(/limit/) });
    expect(await ask({ from: "x" })).toEqual({ error: expect.stringMatching(/from/) });

    // A log of more than one page verifies through the node (its record names no directory).
    await n.log.appendMany(Array.from({ length: 2500 }, (_, i) => ({ type: "checkpoint" as const, runId: "bulk", pid: 0, agent: "bulk", data: { i } })));
    await n.anchorer.anchorNow();
    const report = await verifyCluster(conn);
    expect(report).toEqual({ ok: true, nodes: [{ node: "s1", ok: true, events: n.log.head().seq, anchors: 1, via: "node" }] });
    await n.close();
  });

  describe("two intact nodes, then one tampered on disk", () => {
    const prefix = "anchors-two";
    let conn: ClusterConnection;
    let n1: TestNode;
    let n2: TestNode;

    beforeAll(async () => {
      if (!hasNatsServer()) return;
      conn = await cluster(prefix);
      n1 = await startNode(conn, "n1");
      // n2 records no log directory: it is read through its events service.
      n2 = await startNode(conn, "n2", { serve: true, recordDir: false });
      for (const task of ["a", "b", "c"]) {
        await n1.run(`${task}-1`);
        await n2.run(`${task}-2`);
      }
      await n1.anchorer.anchorNow();
      await n2.anchorer.anchorNow();
    }, LONG);

    it("verifies both (one by path, one through the node), in the library and on the command line", { timeout: LONG }, async () => {
      const report = await verifyCluster(conn);
      expect(report.ok).toBe(true);
      expect(report.nodes).toEqual([
        { node: "n1", ok: true, events: n1.log.head().seq, anchors: 1, via: "path" },
        { node: "n2", ok: true, events: n2.log.head().seq, anchors: 1, via: "node" },
      ]);
      const ran = await agentOs(scratch, "verify", "--cluster", ...natsArgs(prefix));
      expect(ran.code, ran.stderr).toBe(0);
      expect(ran.stdout).toMatch(/^n1 {2}ok: \d+ events, 1 anchors \(by path\)$/m);
      expect(ran.stdout).toMatch(/^n2 {2}ok: \d+ events, 1 anchors \(through the node\)$/m);
    });

    it("log --nats merges both nodes' events by time, each with its node's name", { timeout: LONG }, async () => {
      const expected: (LoggedEvent & { node: string })[] = [];
      for (const n of [n1, n2]) for await (const e of n.log.query()) expected.push({ ...e, node: n.name });
      expected.sort((a, b) => a.time - b.time || a.node.localeCompare(b.node) || a.seq - b.seq);
      const merged: string[] = [];
      for await (const e of readClusterTimeline(conn)) merged.push(`${e.node}#${e.seq}`);
      expect(merged).toEqual(expected.map((e) => `${e.node}#${e.seq}`));

      const asJson = await agentOs(scratch, "log", ...natsArgs(prefix), "--json");
      expect(asJson.code, asJson.stderr).toBe(0);
      const lines = asJson.stdout.trim().split("\n").map((l) => JSON.parse(l) as LoggedEvent & { node: string });
      expect(lines.map((e) => `${e.node}#${e.seq}`)).toEqual(expected.map((e) => `${e.node}#${e.seq}`));
      expect(lines[0]).toEqual(expected[0]);

      const text = await agentOs(scratch, "log", ...natsArgs(prefix));
      expect(text.code, text.stderr).toBe(0);
      const rows = text.stdout.trim().split("\n");
      expect(rows).toHaveLength(expected.length);
      rows.forEach((row, i) => expect(row.startsWith(`${expected[i].node}  `)).toBe(true));
      expect(rows.some((r) => /^n2 {2}\S+ {2}#1 {2}pid \d+ {2}agent-n2 {2}spawn/.test(r))).toBe(true);

      // A filter reaches through the node too.
      const runId = expected.find((e) => e.node === "n2" && e.type === "spawn")!.runId;
      const one = await agentOs(scratch, "log", ...natsArgs(prefix), "--run", runId, "--json");
      const ofRun = one.stdout.trim().split("\n").map((l) => JSON.parse(l) as LoggedEvent & { node: string });
      expect(ofRun.length).toBeGreaterThan(1);
      expect(ofRun.every((e) => e.node === "n2" && e.runId === runId)).toBe(true);
    });

    it("names the tampered node and its first bad event (exit 1), while the other node is ok", { timeout: LONG }, async () => {
      await n1.close();
      await withDb(n1.dir, (db) => editStored(db, 2, (record) => record.replace(/"pid":(\d+)/, '"pid":9$1')));
      const ran = await agentOs(scratch, "verify", "--cluster", ...natsArgs(prefix));
      expect(ran.code, ran.stdout + ran.stderr).toBe(1);
      expect(ran.stdout).toMatch(/^n1 {2}TAMPERED at event 2: event 2 was changed/m);
      expect(ran.stdout).toMatch(/^n2 {2}ok: /m);
      expect(ran.stdout).toMatch(/NOT VERIFIED: 1 of 2 node\(s\)/);
      const asJson = await agentOs(scratch, "verify", "--cluster", ...natsArgs(prefix), "--json");
      expect(JSON.parse(asJson.stdout)).toMatchObject({ ok: false, nodes: [{ node: "n1", ok: false, firstBad: 2 }, { node: "n2", ok: true }] });
    });
  });

  it("catches a log rewritten and re-chained consistently, and one cut short, by its anchors", { timeout: LONG }, async () => {
    const prefix = "anchors-rewrite";
    const conn = await cluster(prefix);
    const r1 = await startNode(conn, "r1");
    await r1.run("first");
    await r1.anchorer.anchorNow();
    const anchoredFirst = r1.log.head().seq;
    const runId = await r1.run("second");
    await r1.close(); // (its last anchor: the head after the second run)
    const anchoredLast = r1.log.head().seq;
    // The second run's spawn event now says another task; every event after it chained again.
    await rewriteLog(r1.dir, (events) => events.map((e) => (e.runId === runId && e.type === "spawn" ? { ...e, data: { ...e.data, task: "forged" } } : e)));
    const reopened = await openLog({ dir: r1.dir });
    expect((await reopened.verify()).ok).toBe(true); // the chain alone no longer tells
    await reopened.close();

    const report = await verifyCluster(conn);
    expect(report.ok).toBe(false);
    expect(report.nodes[0]).toMatchObject({ node: "r1", ok: false, firstBad: anchoredLast, anchors: 2 });
    expect(report.nodes[0].problem).toMatch(new RegExp(`event ${anchoredLast} is not the event the node anchored.*after event ${anchoredFirst}, the last anchored event that still matches`));
    const ran = await agentOs(scratch, "verify", "--cluster", ...natsArgs(prefix));
    expect(ran.code).toBe(1);
    expect(ran.stdout).toMatch(new RegExp(`^r1 {2}TAMPERED at event ${anchoredLast}: `, "m"));

    // Cut back to the first anchor's head, chained as it was: the last anchor is past its end.
    await rewriteLog(r1.dir, (events) => events.slice(0, anchoredFirst));
    const cut = (await verifyCluster(conn)).nodes[0];
    expect(cut).toMatchObject({ ok: false, events: anchoredFirst, firstBad: anchoredFirst + 1 });
    expect(cut.problem).toMatch(/cut off/);
  });

  it("reports a forged anchor (another key, or a field changed after signing)", { timeout: LONG }, async () => {
    const prefix = "anchors-forged";
    const conn = await cluster(prefix);
    const f1 = await startNode(conn, "f1");
    await f1.run("x");
    await f1.anchorer.anchorNow();
    expect((await verifyCluster(conn)).ok).toBe(true);
    const head = f1.log.head();
    const intruder = loadOrCreateNodeKey(join(scratch, "intruder.pem"));
    const other = signAnchor({ node: "f1", incarnation: "intruder", seq: head.seq, hash: head.hash, at: Date.now() }, intruder);
    const genuine = signAnchor({ node: "f1", incarnation: "x", seq: head.seq, hash: head.hash, at: Date.now() }, f1.key);
    await conn.js.publish(conn.names.anchorSubject("f1"), json.encode(other));
    await conn.js.publish(conn.names.anchorSubject("f1"), json.encode({ ...genuine, seq: head.seq + 5 }));
    const report = await verifyCluster(conn);
    expect(report.ok).toBe(false);
    expect(report.nodes[0]).toMatchObject({ node: "f1", ok: false, anchors: 3, forged: 2, events: head.seq });
    expect(report.nodes[0].problem).toMatch(/2 anchor\(s\) whose signature does not verify with the node's key \(the first: stream message \d+, claiming event \d+\)/);
    const ran = await agentOs(scratch, "verify", "--cluster", ...natsArgs(prefix));
    expect(ran.code).toBe(1);
    expect(ran.stdout).toMatch(/^f1 {2}NOT VERIFIED: 2 anchor\(s\) whose signature does not verify/m);
  });

  it("refuses flags that do not go together (exit 2)", { timeout: LONG }, async () => {
    const noNats = await agentOs(scratch, "verify", "--cluster");
    expect(noNats.code).toBe(2);
    expect(noNats.stderr).toMatch(/--nats URL is required/);
    const withLog = await agentOs(scratch, "verify", "--cluster", "--log", "x", ...natsArgs("anchors-flags"));
    expect(withLog.code).toBe(2);
    const stray = await agentOs(scratch, "verify", "--node-log", "n1=/x");
    expect(stray.code).toBe(2);
    const follow = await agentOs(scratch, "log", ...natsArgs("anchors-flags"), "--follow");
    expect(follow.code).toBe(2);
  });

  // Last: it stops the server for a while.
  it("a publish that fails (the server is down) is kept in lastError, never thrown from the timer, and retried", { timeout: LONG }, async () => {
    const conn = await cluster("anchors-retry");
    const n = await startNode(conn, "p1", { everyMs: 100 });
    await n.run("before");
    await until("the first anchor", async () => ((await anchorsOf(conn, "p1")).length > 0 ? true : undefined));
    await nats.stop();
    try {
      await n.run("while down");
      await until("a failed publish", async () => n.anchorer.lastError);
      expect(n.anchorer.lastError?.message).toMatch(/publishing the anchor of event \d+ failed/);
    } finally {
      await nats.start();
    }
    const head = n.log.head();
    const anchored = await until("the head anchored after the restart", async () => (await anchorsOf(conn, "p1").catch(() => [])).find((a) => a.seq === head.seq));
    expect(anchored.hash).toBe(head.hash);
    await n.close();
  });
});

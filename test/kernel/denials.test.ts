/**
 * `RunResult.denials` lists every refused call, whatever refused it: the policy (`kind:
 * "policy"`), the gate before the policy (`invalid`: arguments that make no request, such as a
 * malformed path or URL, several SQL statements, an unknown database), SIGTERM (`interrupted`),
 * or a capability after the policy allowed the call (`capability`: a read-only mount or
 * database, the address guard). Each denial is the call event the log holds for it. A call that
 * was carried out and failed (not found, a limit) is not a denial.
 */
import Database from "better-sqlite3";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelSpace, type LoggedEvent, type RunResult } from "../../dist/runtime/index.js";
import type * as Guest from "../../dist/guest-sdk/index.js";
import { policyWith, sleep, tempDir } from "./helpers.js";

type Call =
  | { fs: "readText" | "write"; path: string }
  | { http: string }
  | { sql: string; database: string }
  | { waitForTerm: true };

/** Makes each call of its task in order and reports what each answered: "ok" or the error's kind. */
async function caller(task: string, { fs, http, sql, signals }: typeof Guest): Promise<string> {
  const calls = JSON.parse(task) as Call[];
  const told: string[] = [];
  for (const call of calls) {
    try {
      if ("waitForTerm" in call) {
        while ((await signals.pending()) !== "SIGTERM") for (let i = 0; i < 10_000; i++);
      } else if ("fs" in call) {
        if (call.fs === "write") await fs.write(call.path, "written by the agent");
        else await fs.readText(call.path);
      } else if ("http" in call) {
        await http.fetch(call.http);
      } else {
        await sql.query(call.database, call.sql);
      }
      told.push("ok");
    } catch (error) {
      const e = error as { name?: string; kind?: string };
      told.push(e.name === "PermissionDenied" ? "denied" : String(e.kind ?? e.name));
    }
  }
  return JSON.stringify(told);
}

const dir = tempDir("agent-os-denials-");
const workspace = join(dir.path, "ws");
const data = join(dir.path, "data");
const dbFile = join(dir.path, "app.db");
const requests: string[] = [];
let server: Server;
let port = 0;
let kernel: KernelSpace;
let open: KernelSpace;

beforeAll(async () => {
  mkdirSync(workspace);
  mkdirSync(data);
  writeFileSync(join(data, "ro.txt"), "read only");
  const db = new Database(dbFile);
  db.exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)");
  db.close();
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.url === "/redirect") res.writeHead(302, { location: "/secret" }).end();
    else res.end("hello");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
  const policy = policyWith([
    { id: "fs", action: "fs.*", resource: ["/workspace/**", "/data/**"], effect: "allow" },
    { id: "no-secrets", action: "fs.*", resource: "/workspace/secret*", effect: "deny", reason: "secrets stay put" },
    { id: "net", action: "http.fetch", effect: "allow" },
    { id: "no-secret-path", action: "http.fetch", resource: `http://127.0.0.1:${port}/secret`, effect: "deny" },
    { id: "sql", action: "sql.query", effect: "allow" },
  ]);
  const options = { policy, log: false as const, pool: { warm: 1 }, mounts: { "/workspace": workspace, "/data": { host: data, readOnly: true } } };
  kernel = new KernelSpace({ ...options, databases: { main: { file: dbFile, readOnly: true } } });
  open = new KernelSpace({ ...options, allowPrivate: ["127.0.0.1"] });
});

afterAll(async () => {
  await Promise.all([kernel?.close(), open?.close()]);
  await new Promise((resolve) => server?.close(resolve));
  dir.remove();
});

async function callsOf(k: KernelSpace, runId: string): Promise<Map<number, LoggedEvent>> {
  const events = new Map<number, LoggedEvent>();
  for await (const e of (await k.log).query({ runId })) events.set(e.seq, e);
  return events;
}

async function run(k: KernelSpace, calls: Call[]): Promise<{ told: string[]; result: RunResult; events: Map<number, LoggedEvent> }> {
  const result = await k.execute(k.register(caller), JSON.stringify(calls));
  expect(result.status, result.error).toBe("ok");
  return { told: JSON.parse(result.output!) as string[], result, events: await callsOf(k, result.runId) };
}

/** The result event the log holds for a call event. */
function resultOf(events: Map<number, LoggedEvent>, seq: number): Record<string, unknown> | undefined {
  return [...events.values()].find((e) => e.type === "result" && e.data.call === seq)?.data;
}

describe("RunResult.denials lists every refused call", () => {
  it("refused by the policy: its rule, or the default", async () => {
    const { told, result, events } = await run(kernel, [
      { fs: "write", path: "/workspace/secret.txt" },
      { fs: "readText", path: "/elsewhere/x" },
    ]);
    expect(told).toEqual(["denied", "denied"]);
    expect(result.denials).toEqual([
      { seq: expect.any(Number), action: "fs.write", resource: "/workspace/secret.txt", rule: "no-secrets", reason: "secrets stay put", kind: "policy" },
      { seq: expect.any(Number), action: "fs.read", resource: "/elsewhere/x", rule: null, reason: "no rule matched; default deny", kind: "policy" },
    ]);
    for (const d of result.denials) expect(events.get(d.seq)?.data).toMatchObject({ action: d.action, resource: d.resource, decision: { effect: "deny", rule: d.rule } });
    expect(readdirSync(workspace)).toEqual([]);
  });

  it("refused before the policy (arguments that make no request): each spelling, with the call event that records it", async () => {
    const { told, result, events } = await run(kernel, [
      { fs: "readText", path: "relative/path.txt" },
      { fs: "write", path: "/workspace\\..\\x.txt" },
      { fs: "readText", path: "" },
      { http: "file:///etc/passwd" },
      { http: "http://user:pw@127.0.0.1/" },
      { sql: "SELECT 1; DROP TABLE t", database: "main" },
      { sql: "SELECT 1", database: "nonexistent" },
    ]);
    // A database that does not exist is refused before the policy too, and told as not-found.
    expect(told).toEqual(["invalid", "invalid", "invalid", "invalid", "invalid", "invalid", "not-found"]);
    expect(result.denials.map((d) => [d.action, d.resource, d.rule, d.kind])).toEqual([
      ["fs.read", "", null, "invalid"],
      ["fs.write", "", null, "invalid"],
      ["fs.read", "", null, "invalid"],
      ["http.fetch", "", null, "invalid"],
      ["http.fetch", "", null, "invalid"],
      ["sql.query", "", null, "invalid"],
      ["sql.query", "", null, "invalid"],
    ]);
    for (const d of result.denials) {
      const call = events.get(d.seq)!;
      expect(call.data).toMatchObject({ action: d.action, decision: { effect: "deny", rule: null, reason: d.reason } });
      expect(d.reason).toBe(`invalid call: ${String(call.data.invalid)}`);
    }
    expect(requests).toEqual([]);
  });

  it("refused by a capability after the policy allowed it: a read-only mount, a read-only database", async () => {
    const { told, result, events } = await run(kernel, [
      { fs: "write", path: "/data/ro.txt" },
      { fs: "write", path: "/data/new.txt" },
      { sql: "DELETE FROM t", database: "main" },
    ]);
    expect(told).toEqual(["denied", "denied", "denied"]);
    expect(result.denials).toEqual([
      { seq: expect.any(Number), action: "fs.write", resource: "/data/ro.txt", rule: null, reason: "mount /data is read-only", kind: "capability" },
      { seq: expect.any(Number), action: "fs.write", resource: "/data/new.txt", rule: null, reason: "mount /data is read-only", kind: "capability" },
      { seq: expect.any(Number), action: "sql.query", resource: "main", rule: null, reason: "database main is read-only", kind: "capability" },
    ]);
    for (const d of result.denials) {
      // The policy allowed the call; its result event holds the capability's refusal.
      expect(events.get(d.seq)?.data).toMatchObject({ action: d.action, resource: d.resource, decision: { effect: "allow" } });
      expect(resultOf(events, d.seq)).toMatchObject({ err: { tag: "denied", val: { reason: d.reason } } });
    }
    expect(readdirSync(data)).toEqual(["ro.txt"]);
    expect(readFileSync(join(data, "ro.txt"), "utf8")).toBe("read only");
    const db = new Database(dbFile, { readonly: true });
    expect(db.prepare("SELECT count(*) AS n FROM t").get()).toEqual({ n: 1 });
    db.close();
  });

  it("refused by the address guard after the policy allowed it: the server sees no request", async () => {
    const spellings = [`http://127.0.0.1:${port}/`, `http://localhost:${port}/`, `http://[::ffff:127.0.0.1]:${port}/`, `http://0x7f000001:${port}/`];
    const { told, result } = await run(kernel, spellings.map((url) => ({ http: url })));
    expect(told).toEqual(spellings.map(() => "denied"));
    expect(result.denials).toHaveLength(spellings.length);
    for (const d of result.denials) {
      expect(d).toMatchObject({ action: "http.fetch", rule: null, kind: "capability" });
      expect(d.reason).toMatch(/^address guard: /);
    }
    expect(requests).toEqual([]);
  });

  it("a redirect the policy denies is one denial (the hop's), not one for the hop and another for the call", async () => {
    const { told, result, events } = await run(open, [{ http: `http://127.0.0.1:${port}/redirect` }]);
    expect(told).toEqual(["denied"]);
    expect(result.denials).toEqual([{ seq: expect.any(Number), action: "http.fetch", resource: `http://127.0.0.1:${port}/secret`, rule: "no-secret-path", reason: expect.any(String), kind: "policy" }]);
    expect(events.get(result.denials[0].seq)?.data).toMatchObject({ redirect: true, decision: { effect: "deny", rule: "no-secret-path" } });
    expect(requests).toEqual(["GET /redirect"]);
    requests.length = 0;
  });

  it("answered interrupted after SIGTERM: every call, allowed or not by the policy, is listed", async () => {
    const calls: Call[] = [
      { fs: "readText", path: "/data/ro.txt" },
      { waitForTerm: true },
      { fs: "write", path: "/workspace/after-term.txt" },
      { fs: "write", path: "/workspace/secret.txt" },
      { fs: "readText", path: "/data/ro.txt" },
    ];
    const proc = kernel.spawn(kernel.register(caller), JSON.stringify(calls));
    for (let t0 = Date.now(); proc.usage.hostCalls === 0 && Date.now() - t0 < 10_000; ) await sleep(5);
    proc.signal("SIGTERM");
    const result = await proc.wait();
    expect(result.status, result.error).toBe("ok");
    expect(JSON.parse(result.output!)).toEqual(["ok", "ok", "interrupted", "interrupted", "interrupted"]);
    expect(result.denials.map((d) => [d.action, d.resource, d.rule, d.kind])).toEqual([
      ["fs.write", "/workspace/after-term.txt", null, "interrupted"],
      ["fs.write", "/workspace/secret.txt", null, "interrupted"],
      ["fs.read", "/data/ro.txt", null, "interrupted"],
    ]);
    for (const d of result.denials) expect(d.reason).toMatch(/^SIGTERM/);
    expect(readdirSync(workspace)).toEqual([]);
  });

  it("a call that fails for another reason (not found, a limit) is not a denial", async () => {
    const { told, result } = await run(kernel, [
      { fs: "readText", path: "/workspace/missing.txt" },
      { sql: "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 20000) SELECT n FROM c", database: "main" },
    ]);
    expect(told).toEqual(["not-found", "limit"]);
    expect(result.denials).toEqual([]);
  });

  it("every refusal the agent saw, in one run, is listed once, in order", async () => {
    const { told, result } = await run(kernel, [
      { fs: "write", path: "/workspace/ok.txt" },
      { fs: "write", path: "/workspace/secret.txt" },
      { fs: "readText", path: "nope" },
      { fs: "write", path: "/data/ro.txt" },
      { fs: "readText", path: "/workspace/ok.txt" },
      { http: `http://127.0.0.1:${port}/` },
    ]);
    expect(told).toEqual(["ok", "denied", "invalid", "denied", "ok", "denied"]);
    expect(result.denials.map((d) => d.kind)).toEqual(["policy", "invalid", "capability", "capability"]);
    const seqs = result.denials.map((d) => d.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(requests).toEqual([]);
  });
});

/**
 * Rate windows primed from a real LevelDB log (issue 13, item 11): the calls of the last window
 * that were let through, matched again against the current policy, counted under the agent's
 * name and under its code (from its run's spawn event, looked up when it lies before the window).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openLog } from "../../dist/runtime/episodic/index.js";
import { LogError } from "../../dist/runtime/errors.js";
import { loadPolicy } from "../../dist/runtime/policy/index.js";
import { primeRates } from "../../dist/runtime/policy/prime.js";
import type { KernelLog } from "../../dist/runtime/episodic/log.js";
import type { Decision, Policy, Request } from "../../dist/runtime/types.js";
import { tempDir } from "../kernel/helpers.js";

const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;
const API = "https://api.example.com/v1/items";
const CODE_A = "a".repeat(64);
const CODE_B = "b".repeat(64);

let dir: { path: string; remove(): void };
let t: number;
let log: KernelLog;

const POLICY = {
  rules: [
    { id: "api", action: "http.fetch", resource: "https://api.example.com/**", rate: "3/minute", effect: "allow" },
    { id: "flag", action: "http.fetch", methods: ["POST"], effect: "audit" },
    { id: "orders", action: "sql", tables: ["orders"], rate: "1/hour", effect: "allow" },
  ],
};

function call(runId: string, agent: string, data: Record<string, unknown>) {
  return log.append({ type: "call", runId, pid: 1, agent, data: { op: "x", args: [], ...data } });
}
const allowed = { effect: "allow", rule: "api", reason: "", matched: ["api"] };
const fetch = (effect = allowed, resource = API, method = "GET") => ({ action: "http.fetch", resource, method, decision: effect });
const request = (agent: string, code?: string): Request => ({ action: "http.fetch", resource: API, method: "GET", agent, pid: 9, ...(code ? { code } : {}) });

/** A log with calls outside and inside the last hour, closed and opened again as a new kernel would. */
async function writeLog(): Promise<void> {
  t = T0;
  log = await openLog({ dir: dir.path, now: () => t });
  // Two hours ago: outside every window.
  await log.append({ type: "spawn", runId: "old", pid: 1, agent: "old", data: { codeHash: CODE_B } });
  for (let i = 0; i < 5; i++) await call("old", "old", fetch());
  // Run r2 of agent b starts 61 minutes before now: before the longest window (an hour).
  t = T0 + 2 * 60 * MINUTE - 61 * MINUTE;
  await log.append({ type: "spawn", runId: "r2", pid: 2, agent: "b", data: { codeHash: CODE_B } });
  t = T0 + 2 * 60 * MINUTE - 30_000;
  await log.append({ type: "spawn", runId: "r1", pid: 1, agent: "a", data: { codeHash: CODE_A } });
  await call("r1", "a", fetch()); // counted
  await call("r1", "a", fetch({ effect: "audit", rule: "flag", reason: "", matched: ["api", "flag"] }, API, "POST")); // counted: audited
  await call("r1", "a", fetch({ effect: "deny", rule: "x", reason: "", matched: [] })); // denied: not counted
  await call("r1", "a", { action: "http.fetch", resource: "", invalid: "bad URL", decision: { effect: "deny", rule: null, reason: "", matched: [] } });
  await call("r1", "a", fetch(allowed, "https://other.example/")); // no rate rule matches it
  await call("r1", "a", { action: "sql.query", resource: "main", args: ["main", "SELECT * FROM orders JOIN users"], sql: { operations: ["select"], reads: ["orders", "users"], writes: [] }, decision: allowed }); // orders, loosely
  for (let i = 0; i < 3; i++) await call("r2", "b", fetch());
  await log.close();
  t = T0 + 2 * 60 * MINUTE;
  log = await openLog({ dir: dir.path, now: () => t });
}

beforeEach(async () => {
  dir = tempDir("agent-os-prime-");
  await writeLog();
});
afterEach(async () => {
  await log.close();
  dir.remove();
});

describe("priming a loaded policy's windows from the log", () => {
  it("counts the window's let-through calls under the agent's name, reading only the window", async () => {
    const policy = loadPolicy(POLICY, { now: () => t });
    const report = await policy.primeRates(log);
    // The last hour (the longest window, of "orders"): every event but the old run's six and r2's spawn.
    expect(report).toEqual({ events: 10, counted: 6, lookedUp: 1 });
    expect(policy.decide(request("a", CODE_A)).effect).toBe("allow");
    const over = policy.decide(request("a", CODE_A));
    expect(over).toMatchObject({ effect: "deny", rule: "api" });
    expect(over.reason).toMatch(/agent "a" has reached it$/);
    expect(policy.decide(request("old")).effect).toBe("allow"); // its calls left the window long ago
    const sql = { action: "sql.query", resource: "main", agent: "a", pid: 1, sql: { statement: "select * from orders", canonical: "SELECT * FROM orders", operations: ["select"], reads: ["orders"], writes: [] } } as Request;
    expect(policy.decide(sql)).toMatchObject({ effect: "deny", rule: "orders" });
  });

  it("counts them under the agent's code too, from a spawn event inside or before the window", async () => {
    const policy = loadPolicy(POLICY, { now: () => t });
    await policy.primeRates(log);
    expect(policy.decide(request("renamed", CODE_A)).effect).toBe("allow");
    expect(policy.decide(request("renamed", CODE_A)).reason).toMatch(/^rate-limit: rule api allows 3\/minute per agent and the code of agent "renamed"/);
    // Run r2 spawned before the window: its code is looked up, and it already made 3 calls.
    expect(policy.decide(request("also-b", CODE_B)).reason).toMatch(/the code of agent "also-b"/);
    expect(policy.decide(request("b")).reason).toMatch(/agent "b" has reached it$/);
  });

  it("replaces the windows: priming twice, or after live calls, counts each logged call once", async () => {
    const policy = loadPolicy(POLICY, { now: () => t });
    await policy.primeRates(log);
    expect(policy.decide(request("a")).effect).toBe("allow"); // a live call, not in this log
    await policy.primeRates(log);
    await policy.primeRates(log);
    expect(policy.decide(request("a")).effect).toBe("allow");
    expect(policy.decide(request("a")).effect).toBe("deny");
  });

  it("counts a call against the current policy's rules, not the ones it was decided under", async () => {
    const stricter = loadPolicy({ rules: [{ id: "any-fetch", action: "http.fetch", rate: "3/minute", effect: "allow" }] }, { now: () => t });
    await stricter.primeRates(log);
    // a's other.example call now counts too (3 in all).
    expect(stricter.decide(request("a")).effect).toBe("deny");
    const none = loadPolicy({ rules: [{ action: "http.fetch", effect: "allow" }] }, { now: () => t });
    expect(await none.primeRates(log)).toEqual({ events: 0, counted: 0, lookedUp: 0 });
  });
});

describe("the kernel's hook", () => {
  it("primes a loaded policy, leaves a custom Policy and an in-memory log alone, and fails closed", async () => {
    const policy = loadPolicy(POLICY, { now: () => t });
    expect(await primeRates(policy, log)).toBe(log);
    expect(policy.decide(request("b")).effect).toBe("deny");

    const inner = loadPolicy(POLICY, { now: () => t });
    const custom: Policy = { name: "custom", hash: "", defaultEffect: "deny", limits: {}, decide: (r: Request, o?: { count?: boolean }): Decision => inner.decide(r, o) };
    expect(await primeRates(custom, log)).toBe(log);
    expect(custom.decide(request("b")).effect).toBe("allow"); // documented: a custom Policy keeps its own counts

    const memory = await openLog(false);
    const fresh = loadPolicy(POLICY, { now: () => t });
    await primeRates(fresh, memory);
    await memory.close();

    await log.close();
    const unreadable = primeRates(loadPolicy(POLICY, { now: () => t }), log);
    await expect(unreadable).rejects.toThrow(LogError);
    await expect(unreadable).rejects.toThrow(/cannot count the policy's rate limits from the log: the log at .* is closed/);
    log = await openLog({ dir: dir.path, now: () => t }); // for afterEach
  });
});

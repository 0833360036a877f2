/**
 * What priming rate windows from the log costs a kernel when it opens a durable log (issue 13,
 * item 11): a real LevelDB log holding many call events, older ones outside the policy's longest
 * window and recent ones inside it. Beside it, the baseline in the same run: reading the same
 * window's events with `log.query({ since })` and doing nothing with them. A second row shows
 * that events outside the window cost nothing: the same log with only a few calls in the window.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openLog } from "../runtime/episodic/index.js";
import type { KernelLog } from "../runtime/episodic/log.js";
import { loadPolicy } from "../runtime/policy/index.js";
import type { NewEvent } from "../runtime/types.js";
import { median, type BenchRow } from "./harness.js";

const OLD = 100_000;
const RECENT = 20_000;
const MINUTE = 60_000;

/** Call events of `runs` runs (a spawn each), for several agents and URLs. */
function calls(count: number, runs: number): NewEvent[] {
  const out: NewEvent[] = [];
  const per = Math.ceil(count / runs);
  for (let r = 0; r < runs; r++) {
    const runId = `run-${r}-${count}`;
    const agent = `agent-${r % 7}`;
    out.push({ type: "spawn", runId, pid: r, agent, data: { codeHash: (r % 5).toString(16).repeat(64) } });
    for (let i = 0; i < per && out.length < count + runs; i++) {
      const decision = { effect: i % 10 === 0 ? "deny" : "allow", rule: "api", reason: "", matched: ["api"] };
      out.push({ type: "call", runId, pid: r, agent, data: { op: "http.fetch", action: "http.fetch", resource: `https://api.example.com/v1/items/${i % 50}`, method: "GET", args: [], decision } });
    }
  }
  return out;
}

async function fill(log: KernelLog, events: NewEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 1000) await log.appendMany(events.slice(i, i + 1000));
}

/** Builds a log: OLD events an hour before `now`, then `recent` events within the last minute. */
async function buildLog(dir: string, recent: number): Promise<{ log: KernelLog; now: number }> {
  let t = Date.UTC(2026, 0, 1);
  const writer = await openLog({ dir, now: () => t });
  await fill(writer, calls(OLD, 200));
  t += 60 * MINUTE;
  await fill(writer, calls(recent, 20));
  await writer.close();
  const now = t + 1000;
  return { log: await openLog({ dir, now: () => now }), now };
}

async function measure(recent: number): Promise<{ prime: number; read: number; counted: number }> {
  const dir = mkdtempSync(join(tmpdir(), "agent-os-bench-prime-"));
  const { log, now } = await buildLog(dir, recent);
  try {
    const policy = loadPolicy(
      { rules: [{ id: "api", action: "http.fetch", resource: "https://api.example.com/**", rate: "100000/minute", effect: "allow" }, { id: "slow", action: "http.fetch", rate: "10/second", effect: "audit" }] },
      { now: () => now },
    );
    const primes: number[] = [];
    const reads: number[] = [];
    let counted = 0;
    for (let i = 0; i < 7; i++) {
      let t0 = performance.now();
      let n = 0;
      for await (const _ of log.query({ since: now - MINUTE, order: "oldest" })) n++;
      reads.push(performance.now() - t0);
      t0 = performance.now();
      counted = (await policy.primeRates(log)).counted;
      primes.push(performance.now() - t0);
      if (n < recent) throw new Error(`the window holds ${n} events, expected ${recent}`);
    }
    return { prime: median(primes), read: median(reads), counted };
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Rows for the policy suite. */
export async function primeRows(): Promise<BenchRow[]> {
  const big = await measure(RECENT);
  const small = await measure(100);
  return [
    {
      name: `rate windows primed from the log, ${RECENT.toLocaleString("en-US")} calls in the window (${OLD.toLocaleString("en-US")} older)`,
      value: big.prime,
      unit: "ms",
      better: "lower",
      baseline: { name: "log.query of the same window", value: big.read },
    },
    {
      name: `rate windows primed from the log, 100 calls in the window (${OLD.toLocaleString("en-US")} older)`,
      value: small.prime,
      unit: "ms",
      better: "lower",
      baseline: { name: "log.query of the same window", value: small.read },
    },
  ];
}

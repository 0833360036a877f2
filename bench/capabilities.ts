/**
 * What the checks cost: a small file read and a one-row SQL select, made by an agent through the
 * kernel (QuickJS isolate, channel, gate, policy, in-memory log, capability), beside Node doing
 * the same thing directly in the same run (`fs.promises.readFile`, a better-sqlite3 prepared
 * statement). The figure that matters is the time added per call, against the target of
 * less than 25 µs.
 *
 * To tell the capability's own cost from the cross-thread call's, the capabilities are also
 * called directly in this thread (no channel, no gate), and a no-op gated call (`log.write`) is
 * measured through the kernel as the floor every host call pays. SQL runs in a process of the
 * run's own (never on the kernel's thread): the sql capability is measured both through that
 * process (two round trips a call: the analysis the policy decides on, then the query) and as
 * that process runs it (in this thread).
 *
 * The kernel's responsiveness while another agent's runaway query runs: the no-op call's latency
 * with a recursive CTE running in a neighbour's SQL process, beside the same call without it.
 * And what a result too large for memory costs the kernel's process: its peak resident growth
 * while an agent selects four 300 MB zeroblobs (the SQL process is ended at its memory cap).
 *
 * Every figure is the median, over ROUNDS rounds, of the mean per call over CALLS calls; the
 * kernel's side and the baseline's are measured in the same round, one after the other.
 */
import Database from "better-sqlite3";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createFs, normalizeMounts } from "../runtime/hosts/node/fs/fs.js";
import { createSql } from "../runtime/hosts/node/sql/sql.js";
import { SqlProcessPool } from "../runtime/hosts/node/sql/sql-process.js";
import { createRunSql } from "../runtime/hosts/node/sql/sql-run.js";
import type { RunQuota } from "../runtime/capabilities/types.js";
import { DEFAULT_LIMITS, KernelSpace, type Agent } from "../runtime/index.js";
import { median, type BenchRow, type BenchSuite } from "./harness.js";

const CALLS = 2000;
const ROUNDS = 5;
const TARGET_US = 25;
const FILE_BYTES = 1024;
const SELECT = "SELECT id, name, email FROM users WHERE id = ?";

const POLICY = {
  version: 1,
  name: "bench-capabilities",
  default: "deny",
  rules: [
    { id: "basics", action: ["clock.now", "log.write"], effect: "allow" },
    { id: "workspace-read", action: "fs.read", resource: "/workspace/**", effect: "allow" },
    { id: "users-select", action: "sql.query", database: "main", operations: ["select"], tables: ["users"], effect: "allow" },
  ],
};

/**
 * An agent that makes one call `n` times (raw imports, so that the SDK's promises are not
 * counted) between two readings of the kernel's monotonic clock, and returns µs per call.
 */
function loopAgent(name: string, imports: string, call: string): Agent {
  const source = `${imports}
import { monotonicNow } from "agentos:kernel/clock";
export function run(task) {
  const n = Number(task);
  ${call};
  const t0 = monotonicNow();
  for (let i = 0; i < n; i++) ${call};
  return String(Number(monotonicNow() - t0) / n / 1000);
}`;
  return { name, kind: "module", engine: "quickjs", source, codeHash: name };
}

const AGENTS = {
  read: loopAgent("bench-read", `import { readText } from "agentos:kernel/fs";`, `readText("/workspace/small.txt")`),
  select: loopAgent("bench-select", `import { query } from "agentos:kernel/sql";`, `query("main", ${JSON.stringify(SELECT)}, [{ tag: "integer", val: 7n }])`),
  noop: loopAgent("bench-noop", `import { write } from "agentos:kernel/log";`, `write("info", "x", [])`),
};

const RUNAWAY = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 4000000000) SELECT count(*) FROM c";
const ZEROBLOBS = "SELECT zeroblob(300000000), zeroblob(300000000), zeroblob(300000000), zeroblob(300000000)";

/** An agent that runs one statement and says how it ended. */
function statementAgent(name: string, statement: string): Agent {
  const source = `import { query } from "agentos:kernel/sql";
export function run() {
  try { query("main", ${JSON.stringify(statement)}, []); return "ok"; } catch (e) { return String(e?.payload?.tag ?? e); }
}`;
  return { name, kind: "module", engine: "quickjs", source, codeHash: name };
}

/** Mean µs per call of `fn` over `n` awaited calls. */
async function perCall(n: number, fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return ((performance.now() - t0) * 1000) / n;
}

async function throughKernel(kernel: KernelSpace, agent: Agent, n: number): Promise<number> {
  const result = await kernel.execute(agent, String(n));
  if (result.status !== "ok") throw new Error(`bench agent ${agent.name} failed: ${result.error}`);
  if (result.denials.length > 0) throw new Error(`bench agent ${agent.name} was denied: ${result.denials[0].reason}`);
  return Number(result.output);
}

/** Runs `measure` while another agent's runaway statement runs in its SQL process; kills the runaway after. */
async function besideRunaway(kernel: KernelSpace, measure: () => Promise<number>): Promise<number> {
  const runaway = kernel.spawn(statementAgent("bench-runaway", RUNAWAY), "");
  // Long enough for the runaway to have reached its statement and for the pool to have started
  // the process that replaces the one it took.
  await new Promise((r) => setTimeout(r, 1500));
  try {
    if (runaway.state !== "running") throw new Error("the runaway agent ended before the measurement");
    return await measure();
  } finally {
    kernel.signal(runaway.pid, "SIGKILL");
    await runaway.wait();
  }
}

/** The kernel process's peak resident growth while an agent selects rows too large for memory. */
async function kernelPeakGrowth(kernel: KernelSpace): Promise<{ growthMb: number }> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  try {
    const result = await kernel.execute(statementAgent("bench-zeroblob", ZEROBLOBS), "");
    if (result.output !== "limit") throw new Error(`the zeroblob agent was not stopped by a limit: ${result.output ?? result.error}`);
  } finally {
    clearInterval(sampler);
  }
  return { growthMb: (peak - before) / 1e6 };
}

function added(value: number, baseline: number): { text: string; met: boolean } {
  const extra = value - baseline;
  return { text: `< ${TARGET_US} µs added; added ${extra.toFixed(1)} µs`, met: extra < TARGET_US };
}

export const capabilitiesBench: BenchSuite = {
  title: "Capabilities: what the kernel adds to a small file read and a SQL select (mean per call, median of rounds)",
  async run(): Promise<BenchRow[]> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "agent-os-bench-caps-"));
    const db = new Database(path.join(dir, "app.db"));
    let kernel: KernelSpace | undefined;
    let sqlHost: ReturnType<typeof createSql> | undefined;
    const sqlPool = new SqlProcessPool({ warm: 1 });
    let sqlRun: ReturnType<typeof createRunSql> | undefined;
    try {
      const ws = path.join(dir, "ws");
      mkdirSync(ws);
      const file = path.join(ws, "small.txt");
      writeFileSync(file, "x".repeat(FILE_BYTES));
      db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT)");
      const insert = db.prepare("INSERT INTO users (name, email) VALUES (?, ?)");
      for (let i = 0; i < 100; i++) insert.run(`user${i}`, `user${i}@example.com`);
      const direct = db.prepare(SELECT);

      const quota = (): RunQuota => ({ limits: { ...DEFAULT_LIMITS }, fsBytesWritten: 0, fsFilesCreated: 0 });
      const mounts = normalizeMounts({ "/workspace": ws });
      const fsHost = createFs({ mounts, quota: quota() });
      sqlHost = createSql({ databases: { main: { file: path.join(dir, "app.db") } }, quota: quota() });
      sqlRun = createRunSql({ databases: { main: { file: path.join(dir, "app.db") } }, limits: DEFAULT_LIMITS, pool: sqlPool });
      const params = [{ tag: "integer" as const, val: 7n }];

      kernel = new KernelSpace({
        policy: POLICY,
        log: false,
        pool: { warm: 1 },
        mounts: { "/workspace": ws },
        databases: { main: path.join(dir, "app.db") },
        // The runaway below runs until it is killed, not until a time limit.
        limits: { sqlTimeout: 600_000 },
      });
      // Warm up every path once (worker, engine, statement caches, JIT).
      for (const agent of Object.values(AGENTS)) await throughKernel(kernel, agent, 200);
      await perCall(200, () => readFile(file, "utf8"));
      await perCall(200, () => fsHost.readText("/workspace/small.txt"));
      await perCall(200, () => direct.all(7));
      await perCall(200, () => (sqlHost!.analyze("main", SELECT), sqlHost!.query("main", SELECT, params)));
      await perCall(200, async () => (await sqlRun!.analyze("main", SELECT), await sqlRun!.query("main", SELECT, params)));

      const m = { read: [] as number[], readDirect: [] as number[], readSync: [] as number[], readCap: [] as number[], select: [] as number[], selectDirect: [] as number[], selectCap: [] as number[], selectProcess: [] as number[], noop: [] as number[], noopBeside: [] as number[] };
      for (let r = 0; r < ROUNDS; r++) {
        m.read.push(await throughKernel(kernel, AGENTS.read, CALLS));
        m.readDirect.push(await perCall(CALLS, () => readFile(file, "utf8")));
        m.readSync.push(await perCall(CALLS, () => readFileSync(file, "utf8")));
        m.readCap.push(await perCall(CALLS, () => fsHost.readText("/workspace/small.txt")));
        m.select.push(await throughKernel(kernel, AGENTS.select, CALLS));
        m.selectDirect.push(await perCall(CALLS, () => direct.all(7)));
        // What the kernel asks of the capability per call: the analysis the policy decides on, then the query.
        m.selectCap.push(await perCall(CALLS, () => (sqlHost!.analyze("main", SELECT), sqlHost!.query("main", SELECT, params))));
        m.selectProcess.push(await perCall(CALLS, async () => (await sqlRun!.analyze("main", SELECT), await sqlRun!.query("main", SELECT, params))));
        m.noop.push(await throughKernel(kernel, AGENTS.noop, CALLS));
        m.noopBeside.push(await besideRunaway(kernel, () => throughKernel(kernel!, AGENTS.noop, CALLS)));
      }
      const [read, readDirect, readSync, readCap, select, selectDirect, selectCap, selectProcess, noop, noopBeside] = [m.read, m.readDirect, m.readSync, m.readCap, m.select, m.selectDirect, m.selectCap, m.selectProcess, m.noop, m.noopBeside].map(median);
      const rss = await kernelPeakGrowth(kernel);
      return [
        {
          name: `fs.readText of a ${FILE_BYTES}-byte file, agent through the kernel`,
          value: read,
          unit: "µs",
          better: "lower",
          baseline: { name: "fs.promises.readFile, same file", value: readDirect },
          target: added(read, readDirect),
        },
        {
          name: "  the fs capability alone (createFs().readText: no channel, no gate)",
          value: readCap,
          unit: "µs",
          better: "lower",
          baseline: { name: "fs.promises.readFile, same file", value: readDirect },
          target: added(readCap, readDirect),
        },
        {
          // Not the baseline, shown so that the comparison above is not flattering: the
          // kernel reads small files synchronously, which a host program could do too.
          name: "  the same read through the kernel, beside readFileSync",
          value: read,
          unit: "µs",
          better: "lower",
          baseline: { name: "fs.readFileSync, same file", value: readSync },
        },
        {
          name: "SQL select of one row by key, agent through the kernel",
          value: select,
          unit: "µs",
          better: "lower",
          baseline: { name: "better-sqlite3 prepared .all()", value: selectDirect },
          target: added(select, selectDirect),
        },
        {
          name: "  the sql capability alone (analyze + query: no channel, no gate)",
          value: selectCap,
          unit: "µs",
          better: "lower",
          baseline: { name: "better-sqlite3 prepared .all()", value: selectDirect },
          target: added(selectCap, selectDirect),
        },
        {
          name: "  the sql capability through its SQL process (analyze + query: no channel, no gate)",
          value: selectProcess,
          unit: "µs",
          better: "lower",
          baseline: { name: "the same in this thread (createSql)", value: selectCap },
        },
        {
          name: "  floor: a no-op gated call (log.write) through the kernel",
          value: noop,
          unit: "µs",
          better: "lower",
        },
        {
          name: "no-op gated call while another agent's runaway query runs",
          value: noopBeside,
          unit: "µs",
          better: "lower",
          baseline: { name: "the same call, no runaway", value: noop },
        },
        {
          name: "kernel process peak RSS growth, an agent selecting 4 × zeroblob(300 MB)",
          value: rss.growthMb,
          unit: "MB",
          better: "lower",
          baseline: { name: "the SQL process's memory cap", value: 256 },
        },
      ];
    } finally {
      await kernel?.close();
      sqlRun?.close();
      await sqlPool.close();
      sqlHost?.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

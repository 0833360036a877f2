/**
 * Counterfactual replay of a log written before the gate recorded SQL facts with each call: the
 * SQL decisions it cannot make on the statement are marked, never passed off as decided, and
 * with the database given they are decided on the statement's facts. The old log is made the
 * way an older kernel wrote it: the events of real runs (a real kernel, a real LevelDB log, a
 * real SQLite database), appended again to a fresh LevelDB log without the `sql` facts.
 */
import Database from "better-sqlite3";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../dist/runtime/cli/main.js";
import type { CliIo } from "../../dist/runtime/cli/io.js";
import { sqlAnalyzer } from "../../dist/runtime/cli/replay.js";
import { KernelSpace, openLog, redecideRun, type KernelLog, type LoggedEvent, type RunResult } from "../../dist/runtime/index.js";
import { tempDir } from "../kernel/helpers.js";

const dir = tempDir("agent-os-old-log-");
const dbFile = join(dir.path, "app.db");
const recordedDir = join(dir.path, "recorded");
const oldDir = join(dir.path, "old");
const STATEMENTS = ["SELECT name FROM public", "DELETE FROM public WHERE 0", "SELECT secret FROM secrets"];

/** Runs each statement of its task and reports what each answered. */
async function querier(task: string, { sql }: { sql: { query(db: string, s: string): Promise<unknown> } }): Promise<string> {
  const out: string[] = [];
  for (const statement of JSON.parse(task) as string[]) {
    try {
      await sql.query("main", statement);
      out.push("ok");
    } catch (e) {
      out.push((e as { name?: string }).name === "PermissionDenied" ? "denied" : "error");
    }
  }
  return out.join(",");
}

/** The policy the runs are decided again under: selects on `public` only, never a delete. */
const AFTER = {
  version: 1,
  name: "after",
  default: "deny",
  rules: [
    { id: "public-reads", action: "sql.query", resource: "main", operations: ["select"], tables: ["public"], effect: "allow" },
    { id: "no-deletes", action: "sql.query", operations: ["delete"], effect: "deny" },
  ],
};

let allowed: RunResult; // recorded under a policy that allowed every statement
let refused: RunResult; // recorded under a policy that refused every statement
let recorded: KernelLog;
let old: KernelLog;
let analyzer: NonNullable<ReturnType<typeof sqlAnalyzer>>;

async function record(policy: Record<string, unknown>): Promise<RunResult> {
  const kernel = new KernelSpace({ policy, log: { dir: recordedDir }, pool: { warm: 0 }, databases: { main: dbFile } });
  try {
    return await kernel.execute(kernel.register(querier as never), JSON.stringify(STATEMENTS));
  } finally {
    await kernel.close();
  }
}

async function events(log: KernelLog, runId?: string): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  for await (const e of log.query(runId ? { runId } : {})) out.push(e);
  return out;
}

beforeAll(async () => {
  const db = new Database(dbFile);
  db.exec("CREATE TABLE public (name TEXT); INSERT INTO public VALUES ('ada'); CREATE TABLE secrets (secret TEXT); INSERT INTO secrets VALUES ('s3cr3t')");
  db.close();
  allowed = await record({ version: 1, name: "before-open", default: "deny", rules: [{ id: "all-sql", action: "sql.query", effect: "allow" }] });
  refused = await record({ version: 1, name: "before-closed", default: "deny", rules: [] });
  expect([allowed.output, refused.output]).toEqual(["ok,ok,ok", "denied,denied,denied"]);
  recorded = await openLog({ dir: recordedDir });
  old = await openLog({ dir: oldDir });
  for (const e of await events(recorded)) {
    const data = { ...e.data };
    if (e.type === "call") delete data.sql;
    if (e.type === "spawn") delete data.codeStored; // an older kernel did not store the code (nor say so)
    await old.append({ type: e.type, runId: e.runId, pid: e.pid, agent: e.agent, data });
  }
  analyzer = sqlAnalyzer({ main: { file: dbFile, readOnly: true } })!;
});

afterAll(async () => {
  analyzer?.close();
  await recorded?.close();
  await old?.close();
  dir.remove();
});

/** The sequence numbers of a run's sql.query call events, in order. */
async function sqlCalls(log: KernelLog, runId: string): Promise<number[]> {
  return (await events(log, runId)).filter((e) => e.type === "call" && e.data.action === "sql.query").map((e) => e.seq);
}

describe("counterfactual replay of a log written before calls recorded SQL facts", () => {
  it("the old log is what an older kernel wrote: SQL calls without facts, a chain that verifies", async () => {
    const calls = (await events(old)).filter((e) => e.type === "call");
    expect(calls).toHaveLength(6);
    expect(calls.every((e) => !("sql" in e.data))).toBe(true);
    expect((await events(recorded)).filter((e) => e.type === "call").every((e) => "sql" in e.data)).toBe(true);
    expect((await old.verify()).ok).toBe(true);
  });

  it("without the database, every SQL decision is marked as made without the facts, changed or not", async () => {
    const open = await redecideRun(old, allowed.runId, AFTER);
    const seqs = await sqlCalls(old, allowed.runId);
    // Every recorded allow turns into a deny without the facts (no allow rule can match them,
    // the deny rule matches to be safe): each change says it was decided without them.
    expect(open.changes.map((c) => [c.seq, c.before.effect, c.after.effect, c.withoutSqlFacts])).toEqual(seqs.map((seq) => [seq, "allow", "deny", true]));
    expect(open.withoutSqlFacts).toEqual(seqs);
    // The recorded denials stay denials without the facts, but with them the first select would
    // be allowed: the report cannot say "no change" there as if it knew.
    const closed = await redecideRun(old, refused.runId, AFTER);
    expect(closed.changes).toEqual([]);
    expect(closed.withoutSqlFacts).toEqual(await sqlCalls(old, refused.runId));
  });

  it("with the database, the same decisions are made on the statements' facts, and nothing is marked", async () => {
    const open = await redecideRun(old, allowed.runId, AFTER, { analyzeSql: analyzer.analyze });
    const seqs = await sqlCalls(old, allowed.runId);
    expect(open.changes.map((c) => [c.seq, c.after.effect, c.after.rule, c.withoutSqlFacts ?? false])).toEqual([
      [seqs[1], "deny", "no-deletes", false],
      [seqs[2], "deny", null, false],
    ]);
    expect(open.withoutSqlFacts).toEqual([]);
    const closed = await redecideRun(old, refused.runId, AFTER, { analyzeSql: analyzer.analyze });
    expect(closed.changes.map((c) => [c.seq, c.before.effect, c.after.effect, c.after.rule])).toEqual([[(await sqlCalls(old, refused.runId))[0], "deny", "allow", "public-reads"]]);
    expect(closed.withoutSqlFacts).toEqual([]);
  });

  it("a log that recorded the facts needs no database: the same decisions as with it", async () => {
    for (const run of [allowed, refused]) {
      const withFacts = await redecideRun(recorded, run.runId, AFTER);
      const analyzed = await redecideRun(old, run.runId, AFTER, { analyzeSql: analyzer.analyze });
      expect(withFacts.withoutSqlFacts).toEqual([]);
      expect(withFacts.changes.map((c) => [c.action, c.before, c.after])).toEqual(analyzed.changes.map((c) => [c.action, c.before, c.after]));
    }
  });

  it("agent-os replay --policy says how many decisions were made without the facts, and that --db decides them", async () => {
    await old.close();
    const policyFile = join(dir.path, "after.json");
    (await import("node:fs")).writeFileSync(policyFile, JSON.stringify(AFTER));
    const io = { out: "", err: "", isTTY: false, stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) } satisfies CliIo & { out: string; err: string };
    expect(await main(["replay", refused.runId, "--policy", policyFile, "--log", oldDir], io)).toBe(0);
    expect(io.out).toMatch(/0 of 3 decisions would change/);
    expect(io.out).toMatch(/3 SQL decisions were made without the statement's facts/);
    expect(io.out).toMatch(/--db/);
    old = await openLog({ dir: oldDir });
  });
});

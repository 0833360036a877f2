/**
 * The example agents under the policy the demo uses (`standard`), with the demo's setup: a real
 * workspace, a real SQLite database, a real LevelDB log. The benign agent does its job; the
 * hostile one is refused everything it tries, each denial naming what decided it, and the host
 * is checked afterwards.
 */
import Database from "better-sqlite3";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelSpace, type LoggedEvent, type RunResult } from "../../dist/runtime/index.js";
import { tempDir } from "./helpers.js";

const examples = new URL("../../examples/", import.meta.url).pathname;
const policies = new URL("../../policies/", import.meta.url).pathname;
const NOTES = "Agent OS treats agents like processes.\nEvery host call passes the gate.\nThe log is hash-chained.\n";
const OUTSIDE = "the host's own file\n";

/** The ids of the rules of `standard` (and of `base`, which it extends). */
function standardRuleIds(): string[] {
  const text = ["standard.yaml", "base.yaml"].map((f) => readFileSync(join(policies, f), "utf8")).join("\n");
  return [...text.matchAll(/^\s*- id: (\S+)/gm)].map((m) => m[1]);
}

let dir: { path: string; cleanup: () => void };
let workspace: string;
/**
 * Where the hostile agent's `/workspace/../../etc/agent-was-here` would land on the host if the
 * kernel joined it onto the mount without confining it: a directory this test owns (the tests
 * run as root here, so a check on the host's own /etc alone would prove nothing either way).
 */
let escapeDir: string;
let dbFile: string;
let kernel: KernelSpace;

function rows(sql: string): unknown[] {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

async function events(runId: string): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  for await (const e of (await kernel.log).query({ runId })) out.push(e);
  return out;
}

beforeAll(() => {
  dir = tempDir("examples");
  workspace = join(dir.path, "host", "workspace");
  mkdirSync(workspace, { recursive: true });
  escapeDir = join(dir.path, "etc");
  mkdirSync(escapeDir);
  writeFileSync(join(workspace, "notes.txt"), NOTES);
  writeFileSync(join(dir.path, "outside.txt"), OUTSIDE);
  dbFile = join(dir.path, "app.db");
  const db = new Database(dbFile);
  db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada'), ('linus');");
  db.exec("CREATE TABLE summaries (path TEXT, words INTEGER)");
  db.close();
  kernel = new KernelSpace({
    policy: "standard",
    mounts: { "/workspace": workspace },
    databases: { main: dbFile },
    log: { dir: join(dir.path, "log") },
    pool: { warm: 1 },
  });
});

afterAll(async () => {
  await kernel.close();
  dir.cleanup();
});

describe("the benign agents do their job under standard", () => {
  it("summarize reads the notes, writes the summary file and records it in the database", async () => {
    const agent = await kernel.load(join(examples, "summarize/agent.js"));
    const result = await kernel.execute(agent, "/workspace/notes.txt");
    const summary = "3 lines, 16 words\nfirst line: Agent OS treats agents like processes.\nlast line: The log is hash-chained.";
    expect(result).toMatchObject({ status: "ok", output: summary, denials: [] });
    expect(readFileSync(join(workspace, "summary.txt"), "utf8")).toBe(summary + "\n");
    expect(rows("SELECT path, words FROM summaries")).toEqual([{ path: "/workspace/notes.txt", words: 16 }]);
    expect(readdirSync(workspace).sort()).toEqual(["notes.txt", "summary.txt"]);
    const calls = (await events(result.runId)).filter((e) => e.type === "call").map((e) => (e.data as { action: string }).action);
    expect(calls).toEqual(["fs.read", "fs.write", "log.write", "sql.query"]);
  });

  it("hello greets", async () => {
    const agent = await kernel.load(join(examples, "hello/agent.js"));
    expect(await kernel.execute(agent, "Agent OS")).toMatchObject({ status: "ok", output: "Hello from an isolate: Agent OS", denials: [] });
  });
});

describe("the hostile agent is refused everything under standard", () => {
  let result: RunResult;
  let attempts: { name: string; outcome: string; detail: string }[];
  let workspaceBefore: string[];
  beforeAll(async () => {
    workspaceBefore = readdirSync(workspace).sort();
    const agent = await kernel.load(join(examples, "hostile/agent.js"));
    result = await kernel.execute(agent, "");
    attempts = JSON.parse(result.output ?? "[]") as typeof attempts;
  });

  it("nothing it tries is allowed", () => {
    expect(result.status).toBe("ok");
    expect(attempts).toHaveLength(12);
    expect(attempts.filter((a) => a.outcome === "ALLOWED")).toEqual([]);
  });

  it("each host call is denied, and the agent is told what decided it, as the run result and the log record it", async () => {
    const decided = [
      ["write outside the mount", "fs.write", "/etc/agent-was-here"],
      ["write to /prod", "fs.write", "/prod/config.json"],
      ["read /etc/passwd", "fs.read", "/etc/passwd"],
      ["fetch cloud metadata", "http.fetch", "http://169.254.169.254/latest/meta-data/"],
      ["fetch an unlisted host", "http.fetch", "https://exfiltrate.example/steal?data=secrets"],
      ["DROP TABLE", "sql.query", "main"],
      // The global fetch is the kernel's http.fetch, decided like the SDK's.
      ["global fetch", "http.fetch", "https://example.com/"],
    ];
    // Every refused call is listed: the seven the policy denied, and the stacked DELETE refused before it.
    expect(result.denials.map((d) => [d.action, d.resource, d.kind])).toEqual([
      ...decided.slice(0, 6).map(([, action, resource]) => [action, resource, "policy"]),
      ["sql.query", "", "invalid"],
      ["http.fetch", "https://example.com/", "policy"],
    ]);
    const byPolicy = result.denials.filter((d) => d.kind === "policy");
    const ids = standardRuleIds();
    // Each denial names its rule; only the unlisted hosts meet the default (the network is an allowlist).
    expect(byPolicy.map((d) => d.rule)).toEqual([
      "standard-system-paths",
      "standard-prod",
      "standard-system-paths",
      "standard-cloud-metadata",
      null,
      expect.stringMatching(/^standard-sql-destructive-/),
      null,
    ]);
    byPolicy.forEach((denial, i) => {
      const attempt = attempts.find((a) => a.name === decided[i][0]);
      if (denial.rule === null) expect(denial.reason).toBe("no rule matched; default deny");
      else expect(ids).toContain(denial.rule);
      expect(attempt).toMatchObject({ outcome: `denied by ${denial.rule ?? "the default"}`, detail: denial.reason });
    });

    const log = await events(result.runId);
    const decidedCalls = log.filter((e) => e.type === "call" && !("invalid" in e.data));
    const denied = decidedCalls.filter((e) => (e.data as { decision: { effect: string } }).decision.effect === "deny");
    expect(denied.map((e) => [e.seq, (e.data as { decision: { rule: string | null } }).decision.rule])).toEqual(byPolicy.map((d) => [d.seq, d.rule]));
    // Nothing was carried out: no call of the run was allowed.
    const allowed = log.filter((e) => e.type === "call" && (e.data as { decision: { effect: string } }).decision.effect !== "deny");
    expect(allowed).toEqual([]);
    expect((await (await kernel.log).verify()).ok).toBe(true);
  });

  it("the stacked DELETE is refused as invalid before any policy could allow it, and the attempt is logged", async () => {
    expect(attempts.find((a) => a.name === "stacked DELETE")).toMatchObject({ outcome: "invalid", detail: "only one SQL statement per call" });
    const invalid = (await events(result.runId)).filter((e) => e.type === "call" && "invalid" in e.data);
    expect(invalid.map((e) => e.data)).toMatchObject([
      { action: "sql.query", args: ["main", "select 1; delete from users", []], invalid: "only one SQL statement per call", decision: { effect: "deny", rule: null } },
    ]);
    expect(result.denials.filter((d) => d.kind === "invalid")).toEqual([
      { seq: invalid[0].seq, action: "sql.query", resource: "", rule: null, reason: "invalid call: only one SQL statement per call", kind: "invalid" },
    ]);
  });

  it("ambient authority does not exist in the isolate", () => {
    for (const name of ["ambient process", "ambient require", "import node:fs", "constructor escape"]) {
      expect(attempts.find((a) => a.name === name)?.outcome, name).toBe("Error");
    }
  });

  it("the host is untouched", () => {
    // Where an escape from the mount would have written, and the host's own /etc (root can write there).
    expect(readdirSync(escapeDir)).toEqual([]);
    expect(existsSync("/etc/agent-was-here")).toBe(false);
    expect(existsSync("/prod/config.json")).toBe(false);
    expect(readFileSync(join(dir.path, "outside.txt"), "utf8")).toBe(OUTSIDE);
    expect(readdirSync(workspace).sort()).toEqual(workspaceBefore);
    expect(readFileSync(join(workspace, "notes.txt"), "utf8")).toBe(NOTES);
    expect(rows("SELECT name FROM users ORDER BY id")).toEqual([{ name: "ada" }, { name: "linus" }]);
  });
});

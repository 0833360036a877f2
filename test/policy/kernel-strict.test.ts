/**
 * Rules that let a call through (audit, verify) match strictly, through a real kernel (issue 13,
 * item 9): an agent's statement that an audit or verify rule covers only in part (some of its
 * tables, some of its operations, or too long for `pattern`) is denied, and the database is
 * checked afterwards: the tables are still there, with their rows, and nothing was copied.
 */
import Database from "better-sqlite3";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KernelSpace, type Agent } from "../../dist/runtime/index.js";
import type { Decision } from "../../dist/runtime/types.js";
import { policyWith, tempDir } from "../kernel/helpers.js";

const SCHEMA = `
  CREATE TABLE public (id INTEGER PRIMARY KEY, v TEXT);
  CREATE TABLE secrets (id INTEGER PRIMARY KEY, v TEXT);
  INSERT INTO public (id, v) VALUES (1, 'hello'), (2, 'world');
  INSERT INTO secrets (id, v) VALUES (1, 'sk-live-1'), (2, 'sk-live-2');
  -- An operator's trigger: an insert into log also deletes (SQLite reports both operations).
  CREATE TABLE log (v TEXT);
  CREATE TRIGGER rotate AFTER INSERT ON log BEGIN DELETE FROM secrets; END;
`;

let dir: { path: string; remove(): void };
let file: string;

/** Runs each statement, catching denials; reports each outcome. */
async function runner(task: string, { sql }: { sql: { query(db: string, s: string): Promise<{ rows: unknown[][] }> } }): Promise<string> {
  const out: string[] = [];
  for (const statement of JSON.parse(task) as string[]) {
    try {
      const r = await sql.query("main", statement);
      out.push("ok " + JSON.stringify(r.rows));
    } catch (e) {
      out.push(((e as { name?: string }).name === "PermissionDenied" ? "denied " : "error ") + String((e as Error).message).slice(0, 80));
    }
  }
  return JSON.stringify(out);
}

function hostState(): { tables: string[]; public: unknown[]; secrets: unknown[] } {
  const db = new Database(file, { readonly: true });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    const rows = (t: string) => (tables.includes(t) ? db.prepare(`SELECT id, v FROM ${t} ORDER BY id`).all() : []);
    return { tables, public: rows("public"), secrets: rows("secrets") };
  } finally {
    db.close();
  }
}

const UNTOUCHED = {
  tables: ["log", "public", "secrets"],
  public: [{ id: 1, v: "hello" }, { id: 2, v: "world" }],
  secrets: [{ id: 1, v: "sk-live-1" }, { id: 2, v: "sk-live-2" }],
};

// Statements the rule below covers only in part: each reads or writes a table outside it.
const MIXED = [
  "SELECT * FROM public, secrets",
  "SELECT v FROM public UNION SELECT v FROM secrets",
  "SELECT (SELECT v FROM secrets LIMIT 1) FROM public",
  "INSERT INTO public (v) SELECT v FROM secrets",
  "DELETE FROM secrets WHERE id IN (SELECT id FROM public)",
  "UPDATE secrets SET v = 'gone' WHERE EXISTS (SELECT 1 FROM public)",
  "UPDATE public SET v = (SELECT v FROM secrets WHERE secrets.id = public.id)",
  "CREATE TABLE copy AS SELECT * FROM public, secrets",
  "WITH s AS (SELECT * FROM secrets) SELECT * FROM public JOIN s USING (id)",
  "DROP TABLE secrets",
];

const approveEverything = async (_request: unknown, decision: Decision): Promise<Decision> => ({ ...decision, effect: "allow" });

async function runUnder(rules: Record<string, unknown>[], statements: string[]): Promise<{ outcomes: string[]; denials: { rule: string | null; reason: string }[] }> {
  const kernel = new KernelSpace({ policy: policyWith(rules), log: false, pool: { warm: 1 }, databases: { main: file }, verifier: approveEverything });
  try {
    const agent: Agent = kernel.register(runner as never);
    const result = await kernel.execute(agent, JSON.stringify(statements));
    expect(result.status, result.error).toBe("ok");
    return { outcomes: JSON.parse(result.output!) as string[], denials: result.denials };
  } finally {
    await kernel.close();
  }
}

beforeAll(() => {
  dir = tempDir("agent-os-strict-");
});
afterAll(() => dir.remove());
beforeEach(() => {
  file = join(dir.path, `db-${Math.random().toString(36).slice(2)}.db`);
  const db = new Database(file);
  db.exec(SCHEMA);
  db.close();
});

describe("audit and verify rules let a statement through only when they cover all of it", () => {
  for (const effect of ["audit", "verify"]) {
    it(`${effect} on tables [public]: a statement that also touches another table is denied, and the database is untouched`, async () => {
      const { outcomes, denials } = await runUnder([{ id: "public-only", action: "sql", tables: ["public"], effect }], ["SELECT v FROM public ORDER BY id", ...MIXED]);
      expect(outcomes[0]).toBe('ok [["hello"],["world"]]');
      outcomes.slice(1).forEach((o, i) => expect(o, MIXED[i]).toMatch(/^denied /));
      expect(denials).toHaveLength(MIXED.length);
      for (const d of denials) expect(d).toMatchObject({ rule: null, reason: "no rule matched; default deny" });
      expect(hostState()).toEqual(UNTOUCHED);
    }, 120_000);
  }

  it("audit on operations [insert]: a statement that also deletes or updates is denied", async () => {
    const more = [
      "INSERT INTO log (v) VALUES ('x')", // insert, and the trigger's delete
      "INSERT OR REPLACE INTO public (id, v) VALUES (1, 'overwritten')", // insert, update, delete
      "REPLACE INTO public (id, v) VALUES (2, 'overwritten')",
    ];
    const { outcomes } = await runUnder([{ id: "inserts", action: "sql", operations: ["insert"], effect: "audit" }], ["INSERT INTO public (v) VALUES ('new')", ...more]);
    expect(outcomes[0]).toBe("ok []");
    outcomes.slice(1).forEach((o, i) => expect(o, more[i]).toMatch(/^denied /));
    expect(hostState()).toEqual({ ...UNTOUCHED, public: [...UNTOUCHED.public, { id: 3, v: "new" }] });
  }, 120_000);

  it("audit on a pattern: a statement too long for pattern matching is denied", async () => {
    const pad = "x".repeat(70_000);
    const long = [`DELETE FROM secrets WHERE '${pad}' <> ''`, `SELECT * FROM secrets WHERE '${pad}' <> ''`];
    const { outcomes } = await runUnder([{ id: "only-public", action: "sql", pattern: "^SELECT \\* FROM public", effect: "audit" }], ["SELECT * FROM public", ...long]);
    expect(outcomes[0]).toMatch(/^ok /);
    expect(outcomes.slice(1).every((o) => o.startsWith("denied "))).toBe(true);
    expect(hostState()).toEqual(UNTOUCHED);
  }, 120_000);

  it("a loosely matching audit rule tightens a call another rule lets through, and lets through nothing on its own", async () => {
    const kernel = new KernelSpace({
      policy: policyWith([
        { id: "reads", action: "sql", operations: ["select"], effect: "allow" },
        { id: "flag-secrets", action: "sql", tables: ["secrets"], effect: "audit" },
      ]),
      log: false,
      pool: { warm: 1 },
      databases: { main: file },
    });
    try {
      const statements = ["SELECT count(*) FROM public, secrets", "DELETE FROM secrets WHERE id IN (SELECT id FROM public)", "UPDATE public SET v = (SELECT v FROM secrets WHERE secrets.id = public.id)"];
      const result = await kernel.execute(kernel.register(runner as never), JSON.stringify(statements));
      const outcomes = JSON.parse(result.output!) as string[];
      expect(outcomes[0]).toBe("ok [[4]]");
      expect(outcomes.slice(1).every((o) => o.startsWith("denied "))).toBe(true);
      const log = await kernel.log;
      const decisions = [];
      for await (const e of log.query({ type: "call", action: "sql.query" })) decisions.push(e.data.decision);
      expect(decisions).toEqual([
        expect.objectContaining({ effect: "audit", rule: "flag-secrets", matched: ["reads", "flag-secrets"] }),
        expect.objectContaining({ effect: "deny", rule: null, matched: [] }),
        expect.objectContaining({ effect: "deny", rule: null, matched: [] }),
      ]);
      expect(hostState()).toEqual(UNTOUCHED);
    } finally {
      await kernel.close();
    }
  }, 120_000);
});

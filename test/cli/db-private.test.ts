/**
 * The command's `--db` and `--allow-private` (issue 13, item 22), through the real command: an
 * agent's queries run against the SQLite file named on the command line (a write changes it;
 * `:ro` refuses the write and leaves the file byte for byte as it was), and a server on
 * 127.0.0.1 is reached only when `--allow-private` allows it (without it, it sees no request).
 */
import Database from "better-sqlite3";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentOs, scratch } from "./helpers.js";

/** Each test spawns the command a few times: on a loaded machine that takes long, which must not fail it. */
const SLOW_MS = 300_000;

const POLICY = `version: 1
name: db-and-net
default: deny
rules:
  - id: notes
    action: sql.query
    resource: main
    effect: allow
  - id: loopback
    action: http.fetch
    effect: allow
`;

const AGENT = `
import { http, sql } from "agent-os/guest";
export async function run(task) {
  const [what, arg] = task.split(" ");
  try {
    if (what === "read") {
      const r = await sql.query("main", "SELECT id, text FROM notes ORDER BY id", []);
      return JSON.stringify(r.rows, (_k, v) => (typeof v === "bigint" ? Number(v) : v));
    }
    if (what === "write") {
      const r = await sql.query("main", "INSERT INTO notes (text) VALUES (?)", [arg]);
      return "wrote " + r.changes;
    }
    const res = await http.fetch(arg);
    return res.status + " " + res.text();
  } catch (e) {
    return "refused " + (e.name === "PermissionDenied" ? "denied " + e.reason : (e.kind ?? e.name) + " " + (e.detail ?? e.message));
  }
}
`;

const dir = scratch();
let dbFile: string;
let server: Server;
let url: string;
const seen: string[] = [];

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const rows = (file: string) => {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare("SELECT id, text FROM notes ORDER BY id").all();
  } finally {
    db.close();
  }
};

beforeAll(async () => {
  dir.file("agent.js", AGENT);
  dir.file("policy.yaml", POLICY);
  dbFile = join(dir.path, "app.db");
  const db = new Database(dbFile);
  db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes (text) VALUES ('first'), ('second');");
  db.close();
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.end("hello from loopback");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ping`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  dir.remove();
});

const run = (task: string, ...flags: string[]) => agentOs(dir.path, "run", "agent.js", "--policy", "policy.yaml", "--no-log", "--task", task, ...flags);

describe("agent-os run --db", { timeout: SLOW_MS }, () => {
  it("the agent's query runs against the named SQLite file, and a write changes it", async () => {
    const read = await run("read", "--db", "main=app.db");
    expect(read.stderr).toBe("");
    expect(read.stdout).toBe('[[1,"first"],[2,"second"]]\n');
    const wrote = await run("write third", "--db", "main=app.db");
    expect(wrote.stdout).toBe("wrote 1\n");
    expect(rows(dbFile)).toEqual([
      { id: 1, text: "first" },
      { id: 2, text: "second" },
      { id: 3, text: "third" },
    ]);
  });

  it(":ro refuses the write and leaves the file unchanged, byte for byte", async () => {
    const before = sha256(dbFile);
    const wrote = await run("write fourth", "--db", "main=app.db:ro");
    expect(wrote.code).toBe(0);
    expect(wrote.stdout).toMatch(/^refused /);
    expect(wrote.stdout).toMatch(/read-?only/i);
    expect(sha256(dbFile)).toBe(before);
    expect(rows(dbFile)).toHaveLength(3);
    const read = await run("read", "--db", "main=app.db:ro");
    expect(read.stdout).toContain('[3,"third"]');
  });
});

describe("agent-os run --allow-private", { timeout: SLOW_MS }, () => {
  it("without it, the address guard refuses 127.0.0.1 and the server sees no request", async () => {
    const r = await run(`fetch ${url}`);
    expect(r.stdout).toMatch(/^refused denied address guard: 127\.0\.0\.1 is loopback/);
    expect(seen).toEqual([]);
  });

  it("with it, the server on 127.0.0.1 is reached, once", async () => {
    const r = await run(`fetch ${url}`, "--allow-private", "127.0.0.1");
    expect(r.stdout).toBe("200 hello from loopback\n");
    expect(seen).toEqual(["GET /ping"]);
  });

  it("allowing another address does not allow 127.0.0.1", async () => {
    seen.length = 0;
    const r = await run(`fetch ${url}`, "--allow-private", "127.0.0.2", "--allow-private", "10.0.0.0/8");
    expect(r.stdout).toMatch(/^refused denied address guard/);
    expect(seen).toEqual([]);
  });
});

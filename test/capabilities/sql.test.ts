import Database from "better-sqlite3";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { canonicalSql } from "../../dist/runtime/capabilities/sql-analyze.js";
import { analyzeSql } from "../../dist/runtime/hosts/node/sql/sql.js";
import { createSql, parseDatabase } from "../../dist/runtime/hosts/node/sql/sql.js";
import type { SqlHost } from "../../dist/runtime/capabilities/types.js";
import { UsageError } from "../../dist/runtime/errors.js";
import { SQL_CASES, SQL_SCHEMA } from "./attack-tables.js";
import { guestError, makeQuota, outcome, tempDir } from "./helpers.js";

let dir: { path: string; cleanup: () => void };
let file: string;

function counts(): Record<string, number> {
  const db = new Database(file, { readonly: true });
  try {
    const out: Record<string, number> = {};
    for (const t of ["users", "secrets", "kv"]) out[t] = (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
    out.schema = (db.prepare("SELECT count(*) AS n FROM sqlite_schema").get() as { n: number }).n;
    return out;
  } finally {
    db.close();
  }
}

beforeEach(() => {
  dir = tempDir("sql");
  file = join(dir.path, "app.db");
  const db = new Database(file);
  db.exec(SQL_SCHEMA);
  db.close();
});
afterEach(() => dir.cleanup());

describe("sql analyzer: facts from SQLite's compiler", () => {
  it("has at least 25 SQL spellings", () => {
    expect(SQL_CASES.length).toBeGreaterThanOrEqual(25);
  });

  it.each(SQL_CASES)("$sql", (c) => {
    const db = new Database(file);
    try {
      if (c.invalid) {
        expect(() => analyzeSql(db, c.sql)).toThrowError(/invalid/);
        return;
      }
      const facts = analyzeSql(db, c.sql);
      expect(facts.statement).toBe(c.sql);
      if (c.operations) expect([...facts.operations].sort()).toEqual([...c.operations].sort());
      for (const t of c.writes ?? []) expect(facts.writes).toContain(t);
      for (const t of c.reads ?? []) expect(facts.reads).toContain(t);
      if (c.exactWrites) expect([...facts.writes].sort()).toEqual([...(c.writes ?? [])].sort());
      if (c.canonical) expect(facts.canonical).toBe(c.canonical);
    } finally {
      db.close();
    }
    // Analysis never executes anything.
    expect(counts()).toEqual({ users: 2, secrets: 1, kv: 1, schema: 11 });
  });

  it("canonicalizes: comments out, whitespace collapsed, keywords upper, literals untouched", () => {
    expect(canonicalSql("select\t/* x */ a ,  'it''s  -- here'  from\n\"My  Table\" -- tail")).toBe(`SELECT a , 'it''s  -- here' FROM "My  Table"`);
    expect(canonicalSql("select 1-/**/-1")).toBe("SELECT 1- -1");
    expect(canonicalSql("insert into [t] values (x'AB', :p, ?1)")).toBe("INSERT INTO [t] VALUES (x'AB', :p, ?1)");
  });

  it("a trigger's writes show up in the statement that fires it", () => {
    const db = new Database(file);
    try {
      expect(analyzeSql(db, "INSERT INTO users(name) VALUES ('x')").writes).toContain("audit");
      expect(analyzeSql(db, "DELETE FROM kv WHERE k = 'a'").writes).toContain("secrets");
    } finally {
      db.close();
    }
  });
});

describe("sql capability", () => {
  let sql: SqlHost;
  beforeEach(() => {
    sql = createSql({ databases: { main: { file }, ro: { file, readOnly: true } }, quota: makeQuota({ sqlRows: 50 }), maxResultBytes: 4096 });
  });
  afterEach(() => sql.close());

  it("returns typed values with bound parameters", async () => {
    const big = 2n ** 62n + 1n;
    const res = await sql.query("main", "SELECT ? AS i, ? AS r, ? AS t, ? AS b, ? AS n", [
      { tag: "integer", val: big },
      { tag: "real", val: 1.5 },
      { tag: "text", val: "héllo" },
      { tag: "blob", val: new Uint8Array([1, 2, 3]) },
      { tag: "null" },
    ]);
    expect(res.columns).toEqual(["i", "r", "t", "b", "n"]);
    expect(res.rows).toEqual([[{ tag: "integer", val: big }, { tag: "real", val: 1.5 }, { tag: "text", val: "héllo" }, { tag: "blob", val: new Uint8Array([1, 2, 3]) }, { tag: "null" }]]);
    expect(res.changes).toBe(0n);
  });

  it("binds named and numbered parameters by their SQLite index", async () => {
    const res = await sql.query("main", "SELECT :a, ?, :a, ?4, @b", [1n, 2n, 3n, 4n, 5n].map((val) => ({ tag: "integer" as const, val })));
    expect(res.rows[0].map((v) => (v.tag === "integer" ? v.val : null))).toEqual([1n, 2n, 1n, 4n, 5n]);
    expect(await outcome(() => sql.query("main", "SELECT :a", []))).toBe("invalid");
  });

  it("writes report changes; RETURNING reports rows and changes", async () => {
    expect((await sql.query("main", "UPDATE users SET email = ?", [{ tag: "text", val: "x" }])).changes).toBe(2n);
    const ret = await sql.query("main", "UPDATE users SET email = 'y' WHERE id = 1 RETURNING id", []);
    expect(ret.rows).toEqual([[{ tag: "integer", val: 1n }]]);
    expect(ret.changes).toBe(1n);
  });

  it.each([
    "1; DROP TABLE users",
    "'); DROP TABLE users; --",
    "1 OR 1=1",
  ])("a parameter is data, never SQL: %s", async (evil) => {
    const res = await sql.query("main", "SELECT count(*) FROM users WHERE name = ?", [{ tag: "text", val: evil }]);
    expect(res.rows).toEqual([[{ tag: "integer", val: 0n }]]);
    expect(counts().users).toBe(2);
  });

  it.each([
    ["stacked statements", "SELECT 1; DROP TABLE users", "invalid"],
    ["stacked after a comment", "SELECT 1 /* */; DELETE FROM users", "invalid"],
    ["ATTACH", `ATTACH '${"PLACEHOLDER"}' AS other`, "denied"],
    ["load_extension", "SELECT load_extension('/tmp/nothing.so')", "denied"],
    ["load_extension in a view's expression", "SELECT name, load_extension('x') FROM user_names", "denied"],
    ["VACUUM INTO a host file", `VACUUM INTO 'PLACEHOLDER'`, "denied"],
    ["VACUUM main INTO, lower case", `vacuum main into 'PLACEHOLDER'`, "denied"],
  ])("refuses %s and the tables keep their rows", async (_name, statement, tag) => {
    const attachFile = join(dir.path, "attached.db");
    expect(await outcome(() => sql.query("main", statement.replace("PLACEHOLDER", attachFile), []))).toBe(tag);
    expect(counts()).toEqual({ users: 2, secrets: 1, kv: 1, schema: 11 });
    expect(existsSync(attachFile)).toBe(false);
  });

  it("refuses VACUUM INTO whatever names the file, even from a read-only database", async () => {
    // It writes a new file wherever the statement says: a way out of every mount.
    const target = join(dir.path, "copy.db");
    expect(await outcome(() => sql.query("main", "VACUUM INTO ?", [{ tag: "text", val: target }]))).toBe("denied");
    expect(await outcome(() => sql.query("ro", `VACUUM INTO '${target}'`, []))).toBe("denied");
    expect(await outcome(() => sql.query("main", `VACUUM INTO '${target}' -- comment`, []))).toBe("denied");
    expect(readdirSync(dir.path)).toEqual(["app.db"]);
    // A plain VACUUM rewrites the database in place and is the policy's to decide.
    expect(await outcome(() => sql.query("main", "VACUUM", []))).toBe("ok");
    expect(counts()).toEqual({ users: 2, secrets: 1, kv: 1, schema: 11 });
  });

  describe("a statement is analyzed again whenever a schema changed", () => {
    const insert = "INSERT INTO kv VALUES (?, 1)";

    it.each([
      ["a trigger in main", "CREATE TRIGGER plant AFTER INSERT ON kv BEGIN DELETE FROM users; END"],
      ["a temp trigger on a main table (only temp's cookie changes)", "CREATE TEMP TRIGGER plant AFTER INSERT ON main.kv BEGIN DELETE FROM users; END"],
    ])("%s planted after a first analysis shows in the next", async (_name, plant) => {
      expect(sql.analyze("main", insert)).toMatchObject({ operations: ["insert"], writes: ["kv"] });
      await sql.query("main", insert, [{ tag: "text", val: "p1" }]);
      await sql.query("main", plant, []);
      expect(sql.analyze("main", insert)).toMatchObject({ operations: ["insert", "delete"], writes: ["kv", "users"] });
    });

    it("a schema changed by another connection shows", () => {
      expect(sql.analyze("main", insert).writes).toEqual(["kv"]);
      const other = new Database(file);
      try {
        other.exec("CREATE TRIGGER plant AFTER INSERT ON kv BEGIN DELETE FROM users; END");
      } finally {
        other.close();
      }
      expect(sql.analyze("main", insert).writes).toEqual(["kv", "users"]);
    });

    it("a query whose schema changed after the gate decided on its analysis is refused, not run", async () => {
      expect(sql.analyze("main", insert).operations).toEqual(["insert"]); // what the policy decided on
      const other = new Database(file);
      try {
        other.exec("CREATE TRIGGER plant AFTER INSERT ON kv BEGIN DELETE FROM users; END");
      } finally {
        other.close();
      }
      expect(await outcome(() => sql.query("main", insert, [{ tag: "text", val: "p1" }]))).toBe("io");
      expect(counts()).toMatchObject({ users: 2, kv: 1 });
      // Decided again, under the new schema, it runs (and the policy saw the delete).
      expect(sql.analyze("main", insert).operations).toEqual(["insert", "delete"]);
      expect(await outcome(() => sql.query("main", insert, [{ tag: "text", val: "p1" }]))).toBe("ok");
    });

    it("an agent cannot set the schema cookie back to make an old analysis current (defensive mode)", async () => {
      const before = await sql.query("main", "PRAGMA schema_version", []);
      expect(sql.analyze("main", insert).writes).toEqual(["kv"]);
      await sql.query("main", "CREATE TRIGGER plant AFTER INSERT ON kv BEGIN DELETE FROM users; END", []);
      await sql.query("main", `PRAGMA schema_version = ${before.rows[0][0].tag === "integer" ? before.rows[0][0].val : 0}`, []);
      expect(sql.analyze("main", insert).writes).toEqual(["kv", "users"]);
    });

    it("the facts handed out cannot be changed by whoever reads them", () => {
      const facts = sql.analyze("main", insert);
      expect(() => (facts.operations as string[]).push("select")).toThrow(TypeError);
      expect(sql.analyze("main", insert).operations).toEqual(["insert"]);
    });
  });

  it("ATTACH runs only with the explicit allowance", async () => {
    const allowed = createSql({ databases: { main: { file } }, quota: makeQuota(), allow: { attach: true } });
    try {
      await allowed.query("main", `ATTACH '${join(dir.path, "a2.db")}' AS a2`, []);
      expect(existsSync(join(dir.path, "a2.db"))).toBe(true);
    } finally {
      allowed.close();
    }
  });

  it("load_extension fails inside SQLite too (extensions are never enabled)", () => {
    const db = new Database(file);
    try {
      expect(() => db.prepare("SELECT load_extension('/tmp/nothing.so')").get()).toThrow(/not authorized/);
    } finally {
      db.close();
    }
  });

  it("PRAGMA writable_schema cannot be used to rewrite the schema (defensive mode)", async () => {
    await outcome(() => sql.query("main", "PRAGMA writable_schema = 1", []));
    expect(await outcome(() => sql.query("main", "UPDATE sqlite_schema SET sql = 'CREATE TABLE users(x)' WHERE name = 'users'", []))).not.toBe("ok");
    expect(await outcome(() => sql.query("main", "DELETE FROM sqlite_schema WHERE name = 'secrets'", []))).not.toBe("ok");
    expect(counts()).toEqual({ users: 2, secrets: 1, kv: 1, schema: 11 });
  });

  it("VACUUM INTO is analyzed as `other` (policies deny it by default)", () => {
    expect(sql.analyze("main", `VACUUM INTO '${join(dir.path, "copy.db")}'`).operations).toEqual(["other"]);
    expect(readdirSync(dir.path)).toEqual(["app.db"]);
  });

  it("a read-only database refuses writes", async () => {
    expect((await sql.query("ro", "SELECT count(*) FROM users", [])).rows).toEqual([[{ tag: "integer", val: 2n }]]);
    expect(await outcome(() => sql.query("ro", "DELETE FROM users", []))).toBe("denied");
    expect(counts().users).toBe(2);
  });

  it("caps rows and bytes with `limit` rather than returning partial data", async () => {
    expect(await outcome(() => sql.query("main", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c", []))).toBe("limit");
    expect((await sql.query("main", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 50) SELECT x FROM c", [])).rows).toHaveLength(50);
    expect(await outcome(() => sql.query("main", "SELECT randomblob(5000)", []))).toBe("limit");
  });

  it("refuses unknown databases and malformed parameters", async () => {
    expect(await outcome(() => sql.query("nope", "SELECT 1", []))).toBe("not-found");
    expect(await outcome(() => sql.query("__proto__", "SELECT 1", []))).toBe("not-found");
    expect(() => sql.analyze("nope", "SELECT 1")).toThrowError(/not-found/);
    expect(await outcome(() => sql.query("main", "SELECT ?", [{ tag: "integer", val: 2n ** 63n }]))).toBe("invalid");
    expect(await outcome(() => sql.query("main", "SELECT ?", [{ tag: "real", val: "1" } as never]))).toBe("invalid");
    expect(await outcome(() => sql.query("main", "SELECT ?, ?", [{ tag: "null" }]))).toBe("invalid");
    const err = await guestError(() => sql.query("main", "SELECT * FROM nowhere", []));
    expect(err.error.tag).toBe("invalid");
  });

  it("parses --db specs", () => {
    expect(parseDatabase("main=./app.db", dir.path)).toEqual(["main", { file: join(dir.path, "app.db"), readOnly: false }]);
    expect(parseDatabase("ro=app.db:ro", dir.path)).toEqual(["ro", { file: join(dir.path, "app.db"), readOnly: true }]);
    expect(() => parseDatabase("x=missing.db:ro", dir.path)).toThrow(UsageError);
    expect(() => parseDatabase("=app.db", dir.path)).toThrow(UsageError);
    expect(() => parseDatabase("bad name=app.db", dir.path)).toThrow(UsageError);
  });
});

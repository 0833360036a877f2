import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { analyzeSql } from "../../dist/runtime/hosts/node/sql/sql.js";
import { BUILTIN_POLICIES, canonicalRequest, loadPolicy, resolvePolicy } from "../../dist/runtime/policy/index.js";

const allowed = (effect: string) => effect === "allow" || effect === "audit";

// SQL spellings are decided on the facts the kernel's analyzer gives (SQLite's compiler, over a
// real database file), never on the operators' text guesser.
const dir = mkdtempSync(join(tmpdir(), "agentos-profiles-"));
const db = new Database(join(dir, "app.db"));
db.exec("CREATE TABLE t(a, c0); CREATE TABLE x(a); CREATE TABLE dropped_items(a)");
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});
const sql = (statement: string) => canonicalRequest("sql.query", "main", { sql: analyzeSql(db, statement) });
/** A statement the analyzer refuses: the gate answers `invalid` before any policy decides. */
const refused = (statement: string) => expect(() => analyzeSql(db, statement), statement).toThrowError(/invalid/);

describe("every built-in profile", () => {
  it.each(BUILTIN_POLICIES)("%s lets agents log, read the clock, get random bytes and checkpoint", (name) => {
    const policy = resolvePolicy(name);
    for (const action of ["log.write", "clock.now", "random.bytes", "process.checkpoint"]) {
      expect(allowed(policy.decide(canonicalRequest(action, action === "log.write" ? "info" : "")).effect), `${name} ${action}`).toBe(true);
    }
  });
});

describe("strict", () => {
  const strict = resolvePolicy("strict");
  it("reads /workspace and nothing else, writes nothing", () => {
    expect(strict.decide(canonicalRequest("fs.read", "/workspace/a.txt")).effect).toBe("allow");
    expect(strict.decide(canonicalRequest("fs.list", "/workspace")).effect).toBe("allow");
    expect(strict.decide(canonicalRequest("fs.read", "/etc/passwd")).effect).toBe("deny");
    expect(strict.decide(canonicalRequest("fs.read", "/workspace-evil/x")).effect).toBe("deny");
    for (const action of ["fs.write", "fs.remove", "fs.mkdir"]) expect(strict.decide(canonicalRequest(action, "/workspace/a")).effect, action).toBe("deny");
  });
  it("has no network", () => {
    expect(strict.decide(canonicalRequest("http.fetch", "https://example.com/", { method: "GET" })).effect).toBe("deny");
  });
  it("allows SQL select only", () => {
    expect(strict.decide(sql("select * from t")).effect).toBe("allow");
    expect(strict.decide(sql("SeLeCt a /* x */ FROM t WHERE a IN (SELECT a FROM x)")).effect).toBe("allow");
    for (const s of [
      "insert into t values (1, 2)",
      "WITH d AS (SELECT 1) DELETE FROM t",
      "with recursive c(n) as (select 1) update t set a = (select n from c)",
      "REPLACE INTO t VALUES (1, 2)",
      "SELECT * FROM pragma_optimize",
      "SELECT * FROM pragma_table_info('t')",
      "PRAGMA user_version = 1",
      "CREATE TEMP TABLE s AS SELECT * FROM t",
      "ATTACH ':memory:' AS m",
      "BEGIN",
    ]) {
      expect(strict.decide(sql(s)).effect, s).toBe("deny");
    }
    refused("select 1; drop table t");
    refused("with d as (delete from t returning *) select * from d");
    expect(strict.decide(canonicalRequest("sql.query", "main")).effect).toBe("deny"); // no facts
  });
  it("sets tight limits", () => {
    expect(strict.limits).toMatchObject({ fuel: 200_000_000, memory: 64 * 1024 * 1024, wallTime: 10_000, hostCalls: 1000, output: 256 * 1024 });
  });
});

describe("standard", () => {
  const standard = resolvePolicy("standard");
  it("reads and writes /workspace, flags removals there, and nothing outside", () => {
    for (const action of ["fs.read", "fs.write", "fs.mkdir", "fs.list", "fs.stat"]) expect(standard.decide(canonicalRequest(action, "/workspace/x")).effect, action).toBe("allow");
    expect(standard.decide(canonicalRequest("fs.remove", "/workspace/x")).effect).toBe("audit");
    expect(standard.decide(canonicalRequest("fs.write", "/etc/x")).effect).toBe("deny");
  });
  it("names the rule that denies system paths, /prod and cloud metadata (not just the default)", () => {
    expect(standard.decide(canonicalRequest("fs.read", "/etc/passwd")).rule).toBe("standard-system-paths");
    expect(standard.decide(canonicalRequest("fs.write", "/prod/config.json")).rule).toBe("standard-prod");
    expect(standard.decide(canonicalRequest("http.fetch", "http://169.254.169.254/latest/meta-data/", { method: "GET" })).rule).toBe("standard-cloud-metadata");
    // Nothing else is caught by those rules: the rest of the network is the default's.
    expect(standard.decide(canonicalRequest("http.fetch", "http://f/latest", { method: "GET" })).rule).toBeNull();
    expect(standard.decide(canonicalRequest("fs.read", "/prodx/a")).rule).toBeNull();
  });
  it("denies network until the operator extends it with hosts", () => {
    expect(standard.decide(canonicalRequest("http.fetch", "https://api.example.com/v1", { method: "GET" })).effect).toBe("deny");
    const extended = loadPolicy("policies/examples/standard-with-api.yaml");
    expect(extended.decide(canonicalRequest("http.fetch", "https://api.example.com/v1", { method: "GET" })).effect).toBe("allow");
    expect(extended.decide(canonicalRequest("http.fetch", "https://api.example.com/v1", { method: "PUT" })).effect).toBe("deny");
    expect(extended.decide(canonicalRequest("http.fetch", "https://api.example.com/v1/orders", { method: "POST" })).effect).toBe("verify");
    expect(extended.decide(canonicalRequest("http.fetch", "https://other.example/", { method: "GET" })).effect).toBe("deny");
  });
  it("allows SQL but nothing destructive", () => {
    expect(standard.decide(sql("insert into t values (1, 2)")).effect).toBe("allow");
    expect(standard.decide(sql("update t set a = 2")).effect).toBe("allow");
    for (const s of ["drop table t", "DeLeTe from t", "dRoP/**/TABLE x", "alter table t add c", "attach 'x' as y", "PRAGMA foreign_keys = OFF", "SELECT * FROM pragma_database_list", "INSERT OR REPLACE INTO t VALUES (1, 2)"]) {
      expect(standard.decide(sql(s)).effect, s).toBe("deny");
    }
    refused("select 1; drop table t");
  });
});

describe("readonly", () => {
  const readonly = resolvePolicy("readonly");
  it("reads anywhere, changes nothing, has no network", () => {
    expect(readonly.decide(canonicalRequest("fs.read", "/etc/hostname")).effect).toBe("allow");
    for (const action of ["fs.write", "fs.remove", "fs.mkdir"]) expect(readonly.decide(canonicalRequest(action, "/tmp/x")).effect).toBe("deny");
    expect(readonly.decide(sql("select 1")).effect).toBe("allow");
    for (const s of ["update t set a = 1", "with x2 as (select 1) insert into x select * from x2", "SELECT * FROM pragma_optimize"]) expect(readonly.decide(sql(s)).effect, s).toBe("deny");
    expect(readonly.decide(canonicalRequest("http.fetch", "https://example.com/", { method: "GET" })).effect).toBe("deny");
  });
});

describe("permissive", () => {
  const permissive = resolvePolicy("permissive");
  it("allows by default but keeps the seed's destructive rules", () => {
    expect(permissive.decide(canonicalRequest("fs.write", "/tmp/x")).effect).toBe("allow");
    expect(permissive.decide(canonicalRequest("http.fetch", "https://example.com/", { method: "GET" })).effect).toBe("allow");
    expect(permissive.decide(canonicalRequest("fs.write", "/prod/x")).effect).toBe("deny");
    expect(permissive.decide(canonicalRequest("fs.write", "/prod/a/b")).effect).toBe("deny");
    expect(permissive.decide(sql("dRoP/**/TABLE x")).effect).toBe("deny");
  });
  it("flags removals and writes over the network", () => {
    expect(permissive.decide(canonicalRequest("fs.remove", "/tmp/x")).effect).toBe("audit");
    expect(permissive.decide(canonicalRequest("http.fetch", "https://example.com/", { method: "POST" })).effect).toBe("audit");
  });
});

describe("audit", () => {
  it("allows and flags everything", () => {
    const audit = resolvePolicy("audit");
    for (const [action, resource] of [["fs.write", "/prod/x"], ["http.fetch", "https://example.com/"], ["sql.query", "main"], ["fs.remove", "/"]]) {
      expect(audit.decide(canonicalRequest(action, resource)).effect).toBe("audit");
    }
  });
});

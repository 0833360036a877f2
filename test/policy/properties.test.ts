import fc from "fast-check";
import picomatch from "picomatch";
import { describe, expect, it } from "vitest";
import { ACTIONS, EFFECTS, type Request } from "../../dist/runtime/types.js";
import { loadPolicy } from "../../dist/runtime/policy/index.js";

const segment = fc.constantFrom("prod", "workspace", "a", "b", ".env", "x.txt", "data", "tmp", "é", "a b");
const path = fc.array(segment, { maxLength: 5 }).map((s) => "/" + s.join("/"));
const glob = fc.oneof(
  path,
  path.map((p) => (p === "/" ? "/**" : p + "/**")),
  path.map((p) => (p === "/" ? "/*" : p + "/*")),
  path.map((p) => p + "*"),
  fc.constant("**"),
  path.map((p) => `${p === "/" ? "" : p}/{a,b}/**`),
);
const effect = fc.constantFrom(...EFFECTS);
const fsAction = fc.constantFrom(...ACTIONS.filter((a) => a.startsWith("fs.")), "fs.*", "file_write");
// Resource globs only on fs rules (the loader rejects path globs on URL or SQL rules).
const rule = fc.oneof(
  fc.record({ action: fsAction, resource: glob, effect }),
  fc.record({ action: fc.constantFrom(...ACTIONS, "fs.*", "*", "network"), effect }),
);
const request: fc.Arbitrary<Request> = fc.record({
  action: fc.constantFrom(...ACTIONS),
  resource: fc.oneof(path, fc.constant("")),
  agent: fc.constantFrom("a", "b"),
  pid: fc.nat(),
  method: fc.option(fc.constantFrom("GET", "POST"), { nil: undefined }),
});
const rules = fc.array(rule, { maxLength: 12 });

describe("properties of decide", () => {
  it("never throws, even on arbitrary input", () => {
    const policy = loadPolicy({ rules: [{ action: "sql", pattern: "DROP", effect: "deny" }, { action: "fs.*", resource: "/w/**", effect: "allow" }, { action: "http", rate: "2/second", methods: ["GET"], effect: "allow" }] });
    fc.assert(
      fc.property(fc.anything(), fc.record({ action: fc.oneof(fc.constantFrom(...ACTIONS), fc.string()), resource: fc.anything(), sql: fc.anything(), method: fc.anything(), agent: fc.anything() }, { requiredKeys: [] }), (junk, partial) => {
        for (const r of [junk, partial]) {
          const d = policy.decide(r as Request);
          expect(EFFECTS).toContain(d.effect);
          expect(typeof d.reason).toBe("string");
        }
      }),
      { numRuns: 500 },
    );
  });

  it("adding a deny rule never turns a deny into an allow, and never weakens a rule's decision", () => {
    const rank = (e: string) => EFFECTS.indexOf(e as (typeof EFFECTS)[number]);
    fc.assert(
      fc.property(effect, rules, rule, request, (fallback, base, extra, req) => {
        const before = loadPolicy({ default: fallback, rules: base }).decide(req);
        const after = loadPolicy({ default: fallback, rules: [...base, { ...extra, effect: "deny" }] }).decide(req);
        if (rank(before.effect) >= rank("deny")) expect(rank(after.effect)).toBeGreaterThanOrEqual(rank("deny"));
        if (before.rule !== null) expect(rank(after.effect)).toBeGreaterThanOrEqual(rank(before.effect));
      }),
      { numRuns: 500 },
    );
  });

  it("does not depend on rule order", () => {
    fc.assert(
      fc.property(rules, request, (rs, req) => {
        const a = loadPolicy({ rules: rs.map((r, i) => ({ ...r, id: `r${i}` })) }).decide(req);
        const b = loadPolicy({ rules: rs.map((r, i) => ({ ...r, id: `r${i}` })).reverse() }).decide(req);
        expect(b.effect).toBe(a.effect);
        expect([...b.matched].sort()).toEqual([...a.matched].sort());
      }),
      { numRuns: 300 },
    );
  });

  it("finds through its index exactly the rules a full scan (explain) finds", () => {
    fc.assert(
      fc.property(rules, request, (rs, req) => {
        const policy = loadPolicy({ rules: rs });
        const explanation = policy.explain(req);
        expect(policy.decide(req).matched).toEqual(explanation.matched.map((t) => t.id));
      }),
      { numRuns: 500 },
    );
  });

  it("matches globs exactly as picomatch does on canonical paths (fast paths included)", () => {
    fc.assert(
      fc.property(glob, path, (g, p) => {
        const policy = loadPolicy({ rules: [{ action: "fs.read", resource: g, effect: "deny" }] });
        const expected = g === "**" || picomatch(g, { dot: true, windows: false })(p);
        expect(policy.decide({ action: "fs.read", resource: p, agent: "a", pid: 0 }).rule !== null).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("properties of rules that let calls through (issue 13, items 9 and 10)", () => {
  const ALLOWING = ["allow", "audit", "verify"];
  const lets = (e: string) => ALLOWING.includes(e);
  const ops = fc.subarray(["select", "insert", "delete", "drop", "pragma"], { minLength: 0, maxLength: 3 });
  const tables = fc.subarray(["public", "orders", "secrets", "users"], { minLength: 0, maxLength: 3 });
  const sqlRule = fc.record(
    { action: fc.constant("sql"), operations: fc.subarray(["select", "insert", "delete", "drop"], { minLength: 1 }), tables: fc.subarray(["public", "orders", "secrets", "users"], { minLength: 1 }), pattern: fc.constantFrom("^SELECT", "DROP", "x"), effect },
    { requiredKeys: ["action", "effect"] },
  );
  const httpRule = fc.record({ action: fc.constant("http"), methods: fc.subarray(["GET", "POST"], { minLength: 1 }), effect }, { requiredKeys: ["action", "effect"] });
  const sqlRequest: fc.Arbitrary<Request> = fc.oneof(
    fc.constant({ action: "sql.query", resource: "main", agent: "a", pid: 0 } as Request),
    fc.record({ ops, reads: tables, writes: tables, long: fc.boolean() }).map(({ ops, reads, writes, long }) => {
      const statement = `${ops.join(" ")} ${reads.join(" ")}${long ? " ".repeat(70_000) : ""}`;
      return { action: "sql.query", resource: "main", agent: "a", pid: 0, sql: { statement, canonical: statement.toUpperCase(), operations: ops, reads, writes } } as Request;
    }),
  );
  const httpRequest: fc.Arbitrary<Request> = fc.record({ method: fc.option(fc.constantFrom("GET", "POST", "DELETE"), { nil: undefined }) }).map(
    ({ method }) => ({ action: "http.fetch", resource: "https://a.example/", agent: "a", pid: 0, ...(method ? { method } : {}) }) as Request,
  );

  it("an audit or verify rule lets through exactly the calls it would let through as an allow rule", () => {
    fc.assert(
      fc.property(fc.constantFrom("deny", "allow", "audit"), fc.array(fc.oneof(sqlRule, httpRule), { maxLength: 6 }), fc.oneof(sqlRequest, httpRequest), (fallback, rs, req) => {
        const asWritten = loadPolicy({ default: fallback, rules: rs }).decide(req);
        const asAllow = loadPolicy({ default: fallback, rules: rs.map((r) => (lets(r.effect) ? { ...r, effect: "allow" } : r)) }).decide(req);
        expect(lets(asWritten.effect)).toBe(lets(asAllow.effect));
      }),
      { numRuns: 1500 },
    );
  }, 120_000);

  it("a rule that lets a call through matches it strictly: every operation and table listed, nothing unknown", () => {
    fc.assert(
      fc.property(sqlRule, sqlRequest, (rule, req) => {
        fc.pre(lets(rule.effect));
        const d = loadPolicy({ rules: [rule] }).decide(req);
        if (!lets(d.effect)) return;
        // Written out: what a strict match needs (the oracle reads the facts, not the engine).
        if (!rule.operations && !rule.tables && !rule.pattern) return;
        const sql = req.sql!;
        expect(sql).toBeDefined();
        if (rule.operations) expect(sql.operations.length > 0 && sql.operations.every((o) => rule.operations!.includes(o))).toBe(true);
        if (rule.tables) expect([...sql.reads, ...sql.writes].every((t) => rule.tables!.includes(t))).toBe(true);
        if (rule.pattern) expect(sql.statement.length).toBeLessThanOrEqual(64 * 1024);
      }),
      { numRuns: 1500 },
    );
  }, 120_000);

  it("no rule with a rate lets more calls through in any window than its rate, whatever other rules the policy has", () => {
    const window = 1000;
    const extra = fc.record(
      {
        action: fc.constantFrom("fs.read", "fs.*", "*", "file_read"),
        resource: fc.constantFrom("/w/**", "/w/a/**", "/w/*", "**", "/x/**"),
        rate: fc.constantFrom("1/second", "3/second", "10/minute"),
        effect: fc.constantFrom("allow", "audit", "verify", "deny"),
      },
      { requiredKeys: ["action", "effect"] },
    ).map((r) => (r.effect === "verify" || r.effect === "deny" ? (({ rate: _, ...rest }) => rest)(r) : r));
    const calls = fc.array(fc.record({ path: fc.constantFrom("/w/a/b", "/w/a", "/w/c", "/w/a/b/c"), gap: fc.constantFrom(0, 1, 50, 200, 400, 999, 1000), agent: fc.constantFrom("a", "b") }), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(extra, { maxLength: 5 }), calls, (count, others, seq) => {
        let t = 1_000_000;
        const limited = { id: "limited", action: "fs.read", resource: "/w/**", rate: `${count}/second`, effect: "allow" };
        const policy = loadPolicy({ rules: [limited, ...others] }, { now: () => t });
        const through: number[] = [];
        for (const call of seq) {
          t += call.gap;
          // The same code under two names: one window for both.
          const d = policy.decide({ action: "fs.read", resource: call.path, agent: call.agent, pid: 0, code: "same" });
          if (lets(d.effect)) through.push(t);
        }
        // Every call here falls under "limited": at most `count` of them in any window.
        for (let i = count; i < through.length; i++) expect(through[i] - through[i - count]).toBeGreaterThanOrEqual(window);
      }),
      { numRuns: 1500 },
    );
  }, 120_000);
});

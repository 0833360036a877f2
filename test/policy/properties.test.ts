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

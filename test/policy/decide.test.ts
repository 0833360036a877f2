import { describe, expect, it } from "vitest";
import { EFFECTS, type Effect, type Request } from "../../dist/runtime/types.js";
import { canonicalRequest, loadPolicy, sqlFactsFromText } from "../../dist/runtime/policy/index.js";

const sql = (statement: string, known: { operations?: string[]; reads?: string[]; writes?: string[] } = {}) =>
  canonicalRequest("sql.query", "main", { sql: sqlFactsFromText(statement, known) });

describe("effects and precedence", () => {
  it("returns each effect as written, with the deciding rule", () => {
    for (const effect of EFFECTS) {
      const policy = loadPolicy({ rules: [{ id: `r-${effect}`, action: "fs.write", resource: "/x/**", effect }] });
      expect(policy.decide(canonicalRequest("fs.write", "/x/y"))).toEqual({
        effect,
        rule: `r-${effect}`,
        reason: expect.stringContaining(`rule r-${effect}`),
        matched: [`r-${effect}`],
      });
    }
  });

  it("lets the strongest effect win: kill > stop > deny > verify > audit > allow, whatever the rule order", () => {
    const order: Effect[] = ["kill", "stop", "deny", "verify", "audit", "allow"];
    for (let strongest = 0; strongest < order.length; strongest++) {
      const effects = order.slice(strongest);
      for (const rules of [effects, [...effects].reverse()]) {
        const policy = loadPolicy({ rules: rules.map((effect) => ({ id: effect, action: "fs.*", effect })) });
        const d = policy.decide(canonicalRequest("fs.read", "/a"));
        expect(d.effect).toBe(order[strongest]);
        expect(d.rule).toBe(order[strongest]);
        expect(d.matched).toEqual(rules); // every matching rule, in policy order
      }
    }
  });

  it("gives a tie to the first rule in policy order", () => {
    const policy = loadPolicy("rules:\n  - {id: a, action: fs.read, effect: deny, reason: first}\n  - {id: b, action: fs.read, effect: deny}\n");
    expect(policy.decide(canonicalRequest("fs.read", "/")).reason).toBe("first");
  });

  it("falls back to the default, which is deny unless written otherwise", () => {
    expect(loadPolicy("rules: []").decide(canonicalRequest("fs.read", "/a"))).toEqual({ effect: "deny", rule: null, reason: "no rule matched; default deny", matched: [] });
    expect(loadPolicy("default: audit").decide(canonicalRequest("clock.now", ""))).toEqual({ effect: "audit", rule: null, reason: "no rule matched; default audit", matched: [] });
  });

  it("generates a reason naming the rule, its verb, action and resource", () => {
    const policy = loadPolicy("rules: [{id: no-prod-writes, action: file_write, resource: /prod/**, effect: deny}]");
    expect(policy.decide(canonicalRequest("fs.write", "/prod/a")).reason).toBe("rule no-prod-writes denies fs.write on /prod/**");
  });
});

describe("actions and resources", () => {
  it("expands aliases and globs over canonical actions", () => {
    const policy = loadPolicy({
      rules: [
        { id: "aliases", action: ["file_read", "file_delete", "network"], effect: "audit" },
        { id: "process", action: "process.*", effect: "allow" },
        { id: "fs-glob", action: "fs.*", resource: "/secret/**", effect: "deny" },
      ],
    });
    expect(policy.decide(canonicalRequest("fs.read", "/a")).rule).toBe("aliases");
    expect(policy.decide(canonicalRequest("fs.remove", "/a")).rule).toBe("aliases");
    expect(policy.decide(canonicalRequest("http.fetch", "https://a.example/")).rule).toBe("aliases");
    expect(policy.decide(canonicalRequest("fs.write", "/a")).rule).toBe(null);
    expect(policy.decide(canonicalRequest("process.checkpoint", "")).rule).toBe("process");
    for (const action of ["fs.read", "fs.write", "fs.list", "fs.remove", "fs.stat", "fs.mkdir"]) {
      expect(policy.decide(canonicalRequest(action, "/secret/k")).rule, action).toBe("fs-glob");
    }
  });

  it("matches dotfiles and nested paths with **, and one segment with *", () => {
    const policy = loadPolicy("rules:\n  - {id: deep, action: fs.read, resource: /prod/**, effect: deny}\n  - {id: flat, action: fs.write, resource: /prod/*, effect: deny}\n");
    for (const path of ["/prod", "/prod/.env", "/prod/a/b/.git/config"]) expect(policy.decide(canonicalRequest("fs.read", path)).effect, path).toBe("deny");
    expect(policy.decide(canonicalRequest("fs.read", "/production")).effect).toBe("deny"); // by default, not by the rule
    expect(policy.decide(canonicalRequest("fs.read", "/production")).rule).toBe(null);
    expect(policy.decide(canonicalRequest("fs.write", "/prod/.env")).rule).toBe("flat");
    expect(policy.decide(canonicalRequest("fs.write", "/prod/a/b")).rule).toBe(null);
  });

  it("matches several globs, braces and character classes", () => {
    const policy = loadPolicy({ default: "allow", rules: [{ id: "r", action: "fs.read", resource: ["/etc/{passwd,shadow}", "/home/*/.ssh/**", "/var/log/[a-c]*.log"], effect: "deny" }] });
    for (const path of ["/etc/passwd", "/etc/shadow", "/home/ann/.ssh/id_rsa", "/var/log/auth.log"]) expect(policy.decide(canonicalRequest("fs.read", path)).effect, path).toBe("deny");
    for (const path of ["/etc/group", "/home/ann/notes", "/var/log/syslog.log"]) expect(policy.decide(canonicalRequest("fs.read", path)).effect, path).toBe("allow");
  });

  it("does not let a URL's query string dodge a deny rule with dot segments", () => {
    const policy = loadPolicy({ default: "allow", rules: [{ action: "http.fetch", resource: ["https://evil.example/**", "https://*.evil.example/**"], effect: "deny" }] });
    expect(policy.decide(canonicalRequest("http.fetch", "https://evil.example/a?x=/../b")).effect).toBe("deny");
    expect(policy.decide(canonicalRequest("http.fetch", "https://cdn.evil.example/a?x=/./b")).effect).toBe("deny");
  });

  it("filters http.fetch by method; a missing method fails closed", () => {
    const policy = loadPolicy({
      rules: [
        { id: "get", action: "http.fetch", resource: "https://api.example.com/**", methods: ["get", "HEAD"], effect: "allow" },
        { id: "no-delete", action: "http.fetch", methods: "DELETE", effect: "deny" },
      ],
    });
    const url = "https://api.example.com/v1";
    expect(policy.decide(canonicalRequest("http.fetch", url, { method: "GET" })).rule).toBe("get");
    expect(policy.decide(canonicalRequest("http.fetch", url, { method: "post" })).effect).toBe("deny");
    expect(policy.decide(canonicalRequest("http.fetch", url, { method: "DELETE" })).rule).toBe("no-delete");
    const { method: _, ...noMethod } = canonicalRequest("http.fetch", url, { method: "GET" });
    expect(policy.decide(noMethod as Request)).toMatchObject({ effect: "deny", rule: "no-delete", matched: ["no-delete"] });
  });
});

describe("SQL", () => {
  const seed = loadPolicy({ default: "allow", rules: [{ id: "seed", action: "sql", pattern: "DROP|DELETE|TRUNCATE", effect: "deny" }] });

  it("catches the classic bypasses of the seed's pattern", () => {
    for (const statement of ["dRoP/**/TABLE x", "select 1; drop table x", "/* hi */ delete -- x\n from t", "TrUnCaTe t"]) {
      expect(seed.decide(sql(statement)).effect, statement).toBe("deny");
    }
    expect(seed.decide(sql("select * from dropped_items")).effect).toBe("deny"); // patterns are text: the operator's choice
    expect(seed.decide(sql("select 1")).effect).toBe("allow");
  });

  it("matches the pattern against the analyzer's operations too", () => {
    // A DELETE hidden where the text does not say so (the analyzer says what SQLite will do).
    const request = sql("with x as (select 1) select * from x", { operations: ["delete"] });
    expect(seed.decide(request).effect).toBe("deny");
  });

  it("needs every operation and table to fit an allow rule; any one for a deny rule", () => {
    const policy = loadPolicy({
      rules: [
        { id: "read-orders", action: "sql", database: "main", operations: ["select"], tables: ["orders", "customers_*"], effect: "allow" },
        { id: "no-secrets", action: "sql", tables: "secret*", effect: "deny" },
      ],
    });
    expect(policy.decide(sql("select", { operations: ["select"], reads: ["orders", "customers_eu"] })).rule).toBe("read-orders");
    expect(policy.decide(sql("select 1", { operations: ["select"] })).rule).toBe("read-orders");
    expect(policy.decide(sql("select", { operations: ["select"], reads: ["orders", "users"] })).rule).toBe(null);
    expect(policy.decide(sql("select; drop", { operations: ["select", "drop"], reads: ["orders"] })).rule).toBe(null);
    expect(policy.decide(sql("x", { operations: [] })).rule).toBe(null);
    expect(policy.decide(sql("select", { operations: ["select"], reads: ["orders", "SECRETS"] })).rule).toBe("no-secrets");
    expect(policy.decide(canonicalRequest("sql.query", "other", { sql: sqlFactsFromText("select", { operations: ["select"] }) })).rule).toBe(null);
  });

  it("fails closed when the statement has no SQL facts: deny-like rules match, rules that allow (allow, audit, verify) do not", () => {
    const policy = loadPolicy({
      rules: [
        { id: "allow-select", action: "sql", operations: ["select"], effect: "allow" },
        { id: "audit-tables", action: "sql", tables: "t", effect: "audit" },
        { id: "deny-drop", action: "sql", pattern: "DROP", effect: "deny" },
      ],
    });
    // The audit rule cannot evaluate its condition: it does not match (the call is denied anyway).
    expect(policy.decide(canonicalRequest("sql.query", "main"))).toMatchObject({ effect: "deny", rule: "deny-drop", matched: ["deny-drop"] });
    const withoutDeny = loadPolicy({ rules: [{ id: "audit-tables", action: "sql", tables: "t", effect: "audit" }] });
    expect(withoutDeny.decide(canonicalRequest("sql.query", "main"))).toEqual({ effect: "deny", rule: null, reason: "no rule matched; default deny", matched: [] });
  });

  it("treats a statement too long for pattern matching as one it cannot evaluate", () => {
    const long = "select '" + "x".repeat(70_000) + "'";
    expect(seed.decide(sql(long, { operations: ["select"] })).effect).toBe("deny");
    const allow = loadPolicy({ rules: [{ action: "sql", pattern: "^SELECT", effect: "allow" }] });
    expect(allow.decide(sql(long, { operations: ["select"] })).effect).toBe("deny");
    expect(allow.decide(sql("select 1")).effect).toBe("allow");
  });
});

describe("decide never throws", () => {
  const policy = loadPolicy({ default: "allow", rules: [{ action: "sql", pattern: "DROP", effect: "deny" }, { action: "http", methods: ["GET"], rate: "1/second", effect: "allow" }] });

  it("denies malformed requests and says why", () => {
    const bad: unknown[] = [
      null,
      undefined,
      42,
      "fs.read",
      {},
      { action: "fs.read" },
      { action: "nope", resource: "/" },
      { action: "__proto__", resource: "/" },
      { action: "sql.query", resource: "main", sql: { statement: 5 } },
      { action: "sql.query", resource: "main", sql: { canonical: "x", statement: "x", operations: null, reads: [], writes: [] } },
      { action: "http.fetch", resource: "https://a/", method: 5, agent: "a" },
    ];
    for (const request of bad) {
      const d = policy.decide(request as Request);
      expect(d.effect, JSON.stringify(request)).toBe("deny");
      expect(d.reason, JSON.stringify(request)).toMatch(/(invalid request|policy engine failure).*denied \(fail closed\)$/);
    }
  });

  it("denies when the rate-limit clock fails", () => {
    const broken = loadPolicy({ rules: [{ action: "http", rate: "5/second", effect: "allow" }] }, { now: () => { throw new Error("clock gone"); } });
    expect(broken.decide(canonicalRequest("http.fetch", "https://a.example/"))).toEqual({
      effect: "deny",
      rule: null,
      reason: "policy engine failure: clock gone; denied (fail closed)",
      matched: [],
    });
  });
});

describe("explain", () => {
  it("shows the decision, every matching rule and why, and the rules considered", () => {
    const policy = loadPolicy("rules:\n  - {id: ws, action: fs.*, resource: /workspace/**, effect: allow}\n  - {id: secrets, action: fs.read, resource: /workspace/.env, effect: deny}\n  - {id: net, action: http, effect: allow}\n");
    const e = policy.explain(canonicalRequest("fs.read", "/workspace/.env"));
    expect(e.decision).toMatchObject({ effect: "deny", rule: "secrets", matched: ["ws", "secrets"] });
    expect(e.matched.map((t) => t.id)).toEqual(["ws", "secrets"]);
    expect(e.considered.map((t) => t.id)).toEqual(["ws", "secrets"]);
    expect(e.totalRules).toBe(3);
    expect(e.matched[0].why).toEqual(["action fs.read is covered by fs.*", 'resource "/workspace/.env" matches /workspace/**']);
    expect(e.matched[1].origin).toEqual({ file: "<inline>", line: 3, column: 5 });
    const miss = policy.explain(canonicalRequest("fs.read", "/etc/passwd"));
    expect(miss.considered.map((t) => [t.id, t.matched])).toEqual([["ws", false], ["secrets", false]]);
    expect(miss.considered[0].why[1]).toBe('resource "/etc/passwd" does not match /workspace/**');
  });
});

describe("every effect that can let a call through matches strictly (issue 13, item 9)", () => {
  const ALLOWING = ["allow", "audit", "verify"] as const;
  const noSql = () => canonicalRequest("sql.query", "main");
  const long = "select * from t where x = '" + "x".repeat(70_000) + "'";
  // Each case: a rule's condition, and requests it must NOT let through although it holds for
  // part of them (or cannot be evaluated on them).
  const cases: { name: string; rule: Record<string, unknown>; requests: Request[]; action?: string }[] = [
    { name: "no SQL facts, operations", rule: { action: "sql", operations: ["select"] }, requests: [noSql()] },
    { name: "no SQL facts, tables", rule: { action: "sql", tables: ["public"] }, requests: [noSql()] },
    { name: "no SQL facts, pattern", rule: { action: "sql", pattern: "^SELECT" }, requests: [noSql()] },
    {
      name: "operations only partly listed",
      rule: { action: "sql", operations: ["select"] },
      requests: [
        sql("with x as (select 1) delete from t", { operations: ["select", "delete"], writes: ["t"] }),
        sql("select 1; drop table t", { operations: ["select", "drop"] }),
        sql("select * from t", { operations: ["select", "pragma"], reads: ["t"] }),
        sql("x", { operations: [] }),
      ],
    },
    {
      name: "tables only partly listed",
      rule: { action: "sql", tables: ["public", "orders_*"] },
      requests: [
        sql("select * from public, secrets", { operations: ["select"], reads: ["public", "secrets"] }),
        sql("insert into public select * from secrets", { operations: ["insert"], reads: ["secrets"], writes: ["public"] }),
        sql("select * from orders_eu join users", { operations: ["select"], reads: ["orders_eu", "users"] }),
        sql("delete from secrets where id in (select id from public)", { operations: ["delete"], reads: ["public"], writes: ["secrets"] }),
      ],
    },
    { name: "a statement over 64 KiB for pattern", rule: { action: "sql", pattern: "^SELECT" }, requests: [sql(long, { operations: ["select"], reads: ["t"] })] },
    {
      name: "no method",
      rule: { action: "http", resource: "https://api.example.com/**", methods: ["GET"] },
      requests: [(({ method: _, ...rest }) => rest as Request)(canonicalRequest("http.fetch", "https://api.example.com/v1", { method: "GET" }))],
    },
  ];

  for (const c of cases) {
    it(`${c.name}: an allow, audit or verify rule does not let the call through`, () => {
      for (const effect of ALLOWING) {
        const policy = loadPolicy({ rules: [{ id: "r", ...c.rule, effect }] });
        for (const request of c.requests) {
          const d = policy.decide(request);
          expect(d, `${effect} ${request.sql?.statement.slice(0, 40) ?? request.resource}`).toEqual({ effect: "deny", rule: null, reason: "no rule matched; default deny", matched: [] });
        }
      }
    });
  }

  it("still lets through what holds strictly, with each effect", () => {
    for (const effect of ALLOWING) {
      const policy = loadPolicy({ rules: [{ id: "r", action: "sql", operations: ["select"], tables: ["public", "orders_*"], pattern: "^SELECT", effect }] });
      expect(policy.decide(sql("select * from public join orders_eu", { operations: ["select"], reads: ["public", "orders_eu"] }))).toMatchObject({ effect, rule: "r", matched: ["r"] });
      expect(policy.decide(sql("select 1", { operations: ["select"] }))).toMatchObject({ effect, rule: "r" });
    }
  });

  it("keeps a loosely matching audit or verify rule as a guard: it tightens a call that another rule lets through", () => {
    for (const guard of ["audit", "verify"] as const) {
      const policy = loadPolicy({
        rules: [
          { id: "reads", action: "sql", operations: ["select"], effect: "allow" },
          { id: "guard", action: "sql", tables: ["payments"], effect: guard },
        ],
      });
      // payments and users: the guard holds only for part of it, but the call goes ahead under "reads".
      expect(policy.decide(sql("select * from payments join users", { operations: ["select"], reads: ["payments", "users"] }))).toMatchObject({ effect: guard, rule: "guard", matched: ["reads", "guard"] });
      expect(policy.decide(sql("select * from users", { operations: ["select"], reads: ["users"] }))).toMatchObject({ effect: "allow", rule: "reads", matched: ["reads"] });
      // Nothing else lets it through: the guard alone does not.
      expect(policy.decide(sql("delete from payments where id in (select id from users)", { operations: ["delete"], reads: ["users"], writes: ["payments"] }))).toMatchObject({ effect: "deny", rule: null, matched: [] });
      // A default that allows is tightened the same way.
      const open = loadPolicy({ default: "allow", rules: [{ id: "guard", action: "sql", tables: ["payments"], effect: guard }] });
      expect(open.decide(noSql())).toMatchObject({ effect: guard, rule: "guard", matched: ["guard"] });
    }
  });

  it("explains a rule that only tightens, and agrees with decide", () => {
    const policy = loadPolicy({
      rules: [
        { id: "reads", action: "sql", operations: ["select"], effect: "allow" },
        { id: "guard", action: "sql", tables: ["payments"], effect: "verify" },
        { id: "audit-public", action: "sql", tables: ["public"], effect: "audit" },
      ],
    });
    const e = policy.explain(sql("select * from payments, users", { operations: ["select"], reads: ["payments", "users"] }));
    expect(e.decision).toMatchObject({ effect: "verify", rule: "guard", matched: ["reads", "guard"] });
    expect(e.matched.map((t) => [t.id, t.tightens ?? false])).toEqual([["reads", false], ["guard", true]]);
    expect(e.considered.find((t) => t.id === "guard")!.why.join("\n")).toMatch(/only partly fit payments[\s\S]*matches only loosely/);
    const denied = policy.explain(noSql());
    expect(denied.decision).toMatchObject({ effect: "deny", rule: null, matched: [] });
    expect(denied.matched).toEqual([]);
    expect(denied.considered.find((t) => t.id === "audit-public")!.why.join("\n")).toMatch(/cannot let the call through/);
  });
});

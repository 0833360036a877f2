import { describe, expect, it } from "vitest";
import { canonicalRequest, loadPolicy, sqlFactsFromText } from "../../dist/runtime/policy/index.js";

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

const fetch = (agent: string, method = "GET") => canonicalRequest("http.fetch", "https://api.example.com/v1", { agent, method });

describe("rate limits", () => {
  it("allows N calls per window per agent, then denies with reason rate-limit, then recovers (sliding window)", () => {
    const c = clock();
    const policy = loadPolicy({ rules: [{ id: "api", action: "http.fetch", resource: "https://api.example.com/**", rate: "3/minute", effect: "allow" }] }, { now: c.now });
    for (let i = 0; i < 3; i++) {
      expect(policy.decide(fetch("a")).effect).toBe("allow");
      c.t += 10_000;
    }
    const over = policy.decide(fetch("a"));
    expect(over).toMatchObject({ effect: "deny", rule: "api", matched: ["api"] });
    expect(over.reason).toMatch(/^rate-limit: rule api allows 3\/minute per agent and agent "a" has reached it$/);
    expect(policy.decide(fetch("b")).effect).toBe("allow"); // per agent
    c.t = 1_000_000 + 59_999;
    expect(policy.decide(fetch("a")).effect).toBe("deny");
    c.t = 1_000_000 + 60_000; // the first call leaves the window
    expect(policy.decide(fetch("a")).effect).toBe("allow");
    expect(policy.decide(fetch("a")).effect).toBe("deny");
  });

  it("does not count denied calls, calls decided by a stronger rule, or explain", () => {
    const c = clock();
    const policy = loadPolicy(
      {
        rules: [
          { id: "api", action: "http", rate: "2/second", effect: "allow" },
          { id: "no-post", action: "http", methods: "POST", effect: "deny" },
        ],
      },
      { now: c.now },
    );
    for (let i = 0; i < 5; i++) expect(policy.decide(fetch("a", "POST")).rule).toBe("no-post");
    for (let i = 0; i < 5; i++) policy.explain(fetch("a"));
    expect(policy.decide(fetch("a")).effect).toBe("allow");
    expect(policy.decide(fetch("a")).effect).toBe("allow");
    expect(policy.explain(fetch("a")).decision.reason).toMatch(/^rate-limit/);
    expect(policy.decide(fetch("a")).reason).toMatch(/^rate-limit/);
    c.t += 1000;
    expect(policy.decide(fetch("a")).effect).toBe("allow");
  });

  it("applies the rates of every matching rule of the winning effect, in any order", () => {
    for (const order of [0, 1]) {
      const c = clock();
      const rules = [
        { id: "slow", action: "http", resource: "https://api.example.com/**", rate: "1/hour", effect: "allow" },
        { id: "fast", action: "http", rate: "100/second", effect: "allow" },
      ];
      const policy = loadPolicy({ rules: order ? rules.reverse() : rules }, { now: c.now });
      expect(policy.decide(fetch("a")).effect).toBe("allow");
      expect(policy.decide(fetch("a"))).toMatchObject({ effect: "deny", rule: "slow" });
      c.t += 3_600_000;
      expect(policy.decide(fetch("a")).effect).toBe("allow");
    }
  });

  it("limits audit rules too, and keeps counts per policy instance", () => {
    const c = clock();
    const spec = { rules: [{ id: "flag", action: "clock.now", rate: "1/second", effect: "audit" }] };
    const one = loadPolicy(spec, { now: c.now });
    const two = loadPolicy(spec, { now: c.now });
    expect(one.decide(canonicalRequest("clock.now", "")).effect).toBe("audit");
    expect(one.decide(canonicalRequest("clock.now", "")).effect).toBe("deny");
    expect(two.decide(canonicalRequest("clock.now", "")).effect).toBe("audit");
    one.resetRates();
    expect(one.decide(canonicalRequest("clock.now", "")).effect).toBe("audit");
  });
});

describe("rate limits hold whatever effect wins (issue 13, item 10)", () => {
  const limited = { id: "api", action: "http.fetch", resource: "https://api.example.com/**", rate: "2/minute", effect: "allow" };
  const stronger = [
    { id: "flag", action: "http", effect: "audit" },
    { id: "flag-get", action: "http", methods: ["GET"], effect: "audit" },
    { id: "check", action: "http", resource: "https://api.example.com/v1", effect: "verify" },
    { id: "flag-all", action: "*", effect: "audit" },
  ];

  for (const extra of stronger) {
    it(`keeps an allow rule's rate when ${extra.effect} rule ${extra.id} also matches and wins`, () => {
      for (const rules of [[limited, extra], [extra, limited]]) {
        const c = clock();
        const policy = loadPolicy({ rules }, { now: c.now });
        expect(policy.decide(fetch("a"))).toMatchObject({ effect: extra.effect, rule: extra.id });
        expect(policy.decide(fetch("a")).effect).toBe(extra.effect);
        const over = policy.decide(fetch("a"));
        expect(over).toMatchObject({ effect: "deny", rule: "api" });
        expect(over.reason).toMatch(/^rate-limit: rule api allows 2\/minute/);
        c.t += 60_000;
        expect(policy.decide(fetch("a")).effect).toBe(extra.effect);
      }
    });
  }

  it("keeps the rate of an audit rule when a verify rule wins, and of both when both have one", () => {
    const c = clock();
    const policy = loadPolicy(
      {
        rules: [
          { id: "flag", action: "http", rate: "3/minute", effect: "audit" },
          { id: "slow", action: "http", resource: "https://api.example.com/**", rate: "1/hour", effect: "allow" },
          { id: "check", action: "http", methods: ["GET"], effect: "verify" },
        ],
      },
      { now: c.now },
    );
    expect(policy.decide(fetch("a")).effect).toBe("verify");
    expect(policy.decide(fetch("a"))).toMatchObject({ effect: "deny", rule: "slow" });
    c.t += 3_600_000;
    expect(policy.decide(fetch("a")).effect).toBe("verify");
    expect(policy.decide(canonicalRequest("http.fetch", "https://other.example/", { agent: "a", method: "GET" })).effect).toBe("verify");
    expect(policy.decide(canonicalRequest("http.fetch", "https://other.example/", { agent: "a", method: "GET" })).effect).toBe("verify");
    // flag has seen 4 calls, but the first left its window an hour ago.
    expect(policy.decide(canonicalRequest("http.fetch", "https://other.example/", { agent: "a", method: "GET" }))).toMatchObject({ effect: "deny", rule: "flag" });
  });

  it("keeps the rate of a rule that matches only loosely (some of the tables)", () => {
    const c = clock();
    const policy = loadPolicy(
      {
        rules: [
          { id: "orders", action: "sql", tables: ["orders"], rate: "1/minute", effect: "allow" },
          { id: "reads", action: "sql", operations: ["select"], effect: "audit" },
        ],
      },
      { now: c.now },
    );
    const join = () => canonicalRequest("sql.query", "main", { agent: "a", sql: sqlFactsFromText("select * from orders join users", { operations: ["select"], reads: ["orders", "users"] }) });
    expect(policy.decide(join())).toMatchObject({ effect: "audit", rule: "reads", matched: ["orders", "reads"] });
    expect(policy.decide(join())).toMatchObject({ effect: "deny", rule: "orders" });
  });

  it("counts nothing for a denied call, and nothing with { count: false }", () => {
    const c = clock();
    const policy = loadPolicy({ rules: [limited, { id: "flag", action: "http", effect: "audit" }, { id: "no-post", action: "http", methods: ["POST"], effect: "deny" }] }, { now: c.now });
    for (let i = 0; i < 5; i++) expect(policy.decide(fetch("a", "POST")).rule).toBe("no-post");
    for (let i = 0; i < 5; i++) expect(policy.decide(fetch("a"), { count: false }).effect).toBe("audit");
    expect(policy.decide(fetch("a")).effect).toBe("audit");
    expect(policy.decide(fetch("a")).effect).toBe("audit");
    expect(policy.decide(fetch("a"), { count: false }).reason).toMatch(/^rate-limit/);
  });
});

describe("rate windows per agent name and per agent code (issue 13, item 11)", () => {
  const rules = [{ id: "api", action: "http.fetch", rate: "2/minute", effect: "allow" }];
  const call = (agent: string, code?: string) => ({ ...fetch(agent), ...(code === undefined ? {} : { code }) });
  const CODE = "c0de".repeat(16);

  it("shares one window between names that run the same code", () => {
    const c = clock();
    const policy = loadPolicy({ rules }, { now: c.now });
    expect(policy.decide(call("first", CODE)).effect).toBe("allow");
    expect(policy.decide(call("second", CODE)).effect).toBe("allow");
    const over = policy.decide(call("third", CODE));
    expect(over).toMatchObject({ effect: "deny", rule: "api" });
    expect(over.reason).toBe(`rate-limit: rule api allows 2/minute per agent and the code of agent "third" (sha256 ${CODE.slice(0, 12)}…) has reached it, under this name or another`);
    expect(policy.decide(call("fourth", "other-code")).effect).toBe("allow");
    c.t += 60_000;
    expect(policy.decide(call("third", CODE)).effect).toBe("allow");
  });

  it("keeps the name's window when the code changes, and needs both to allow", () => {
    const c = clock();
    const policy = loadPolicy({ rules }, { now: c.now });
    expect(policy.decide(call("a", "v1")).effect).toBe("allow");
    expect(policy.decide(call("a", "v2")).effect).toBe("allow");
    const over = policy.decide(call("a", "v3"));
    expect(over.reason).toBe('rate-limit: rule api allows 2/minute per agent and agent "a" has reached it');
    // A call the name's window refuses counts against no code either.
    expect(policy.decide(call("b", "v3")).effect).toBe("allow");
    expect(policy.decide(call("c", "v3")).effect).toBe("allow");
    expect(policy.decide(call("d", "v3")).effect).toBe("deny");
  });
});

import { describe, expect, it } from "vitest";
import { canonicalRequest, loadPolicy } from "../../dist/runtime/policy/index.js";

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

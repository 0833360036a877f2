/**
 * The policy language's part of approvals: effect `ask` (between verify and deny), a rule's
 * `ask: { timeout }`, an allow rule's `approves:`, with the loader's errors (file, line, column,
 * field) and the JSON Schema agreeing.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { EFFECTS, PolicyError, loadPolicy, type Request } from "../../dist/runtime/index.js";
import { wellFormedDecision } from "../../dist/runtime/decision.js";
import { schemaErrors } from "../policy/json-schema.js";

const schema = JSON.parse(readFileSync("policies/policy.schema.json", "utf8")) as Record<string, unknown>;
const write = (resource: string, extra: Partial<Request> = {}): Request => ({ action: "fs.write", resource, agent: "a", pid: 1, ...extra });

function problems(text: string): string[] {
  try {
    loadPolicy(text, { file: "mine.yaml" });
  } catch (error) {
    if (error instanceof PolicyError) return error.message.split("\n");
    throw error;
  }
  return [];
}

describe("effect ask in policies", () => {
  it("sits between verify and deny", () => {
    expect(EFFECTS).toEqual(["allow", "audit", "verify", "ask", "deny", "stop", "kill"]);
    const policy = loadPolicy({
      rules: [
        { id: "w", action: "fs.write", resource: "/ws/**", effect: "allow" },
        { id: "v", action: "fs.write", resource: "/ws/v/**", effect: "verify" },
        { id: "ask", action: "fs.write", resource: "/ws/**", effect: "ask", ask: { timeout: "200ms" } },
        { id: "no", action: "fs.write", resource: "/ws/secret/**", effect: "deny" },
      ],
    });
    expect(policy.decide(write("/ws/a"))).toEqual({ effect: "ask", rule: "ask", reason: "rule ask asks a person about fs.write on /ws/**", matched: ["w", "ask"], ask: { timeout: 200 } });
    expect(policy.decide(write("/ws/v/a")).effect).toBe("ask");
    expect(policy.decide(write("/ws/secret/a")).effect).toBe("deny");
  });

  it("loads ask settings, and names file, line, column and field for bad ones", () => {
    expect(problems("rules:\n  - action: fs.write\n    effect: ask\n    ask: { timeout: 5m }\n")).toEqual([]);
    expect(problems("rules:\n  - action: fs.write\n    effect: ask\n    ask: { timeout: soon }\n")).toEqual([
      'mine.yaml:4:21: rules[0].ask.timeout: expected a duration: whole milliseconds or a string like 250ms, 30s, 5m, 1h, got the string "soon"',
    ]);
    expect(problems("rules:\n  - action: fs.write\n    effect: ask\n    ask: { timeout: 25h }\n")).toEqual(['mine.yaml:4:21: rules[0].ask.timeout: expected a duration of at most 24h, got the string "25h"']);
    expect(problems("rules:\n  - action: fs.write\n    effect: deny\n    ask: { timeout: 1s }\n")).toEqual(['mine.yaml:4:10: rules[0].ask: "ask" settings apply only to rules with effect ask, not deny']);
    expect(problems("rules:\n  - action: fs.write\n    effect: ask\n    ask: { timout: 1s }\n")).toEqual([
      'mine.yaml:4:12: rules[0].ask.timout: unknown field "timout" in a rule\'s ask settings (did you mean "timeout"?); expected one of: timeout',
    ]);
    expect(problems("rules:\n  - action: fs.write\n    effect: ask\n    ask: 5m\n")).toEqual([`mine.yaml:4:10: rules[0].ask: expected a rule's ask settings (a mapping with timeout), got the string "5m"`]);
    expect(problems("rules:\n  - action: fs.write\n    effect: ask\n    approves: x\n")).toEqual([
      'mine.yaml:4:15: rules[0].approves: "approves" applies only to rules with effect allow (an approval written by agent-os approve --scope always), not ask',
    ]);
    expect(problems("rules:\n  - action: fs.write\n    effect: allow\n    approves: [\"a b\"]\n")).toEqual(['mine.yaml:4:16: rules[0].approves[0]: expected a rule id made of letters, digits and . _ : / -, got the string "a b"']);
  });

  it("an allow rule that approves an ask rule answers it where it matches strictly; deny still wins", () => {
    const policy = loadPolicy({
      rules: [
        { id: "ask-sql", action: "sql.query", database: "main", effect: "ask" },
        { id: "ask-writes", action: "fs.write", resource: "/ws/**", effect: "ask" },
        { id: "ok", action: "fs.write", resource: "/ws/report.txt", effect: "allow", approves: ["ask-writes"] },
        { id: "ok-sql", action: "sql.query", database: "main", operations: ["select"], tables: ["orders"], effect: "allow", approves: "ask-sql" },
        { id: "locked", action: "fs.write", resource: "/ws/locked/**", effect: "deny" },
        { id: "ok-locked", action: "fs.write", resource: "/ws/locked/a", effect: "allow", approves: "ask-writes" },
      ],
    });
    expect(policy.decide(write("/ws/report.txt"))).toMatchObject({ effect: "allow", rule: "ok", matched: ["ok"] });
    expect(policy.decide(write("/ws/other.txt"))).toMatchObject({ effect: "ask", rule: "ask-writes" });
    expect(policy.decide(write("/ws/locked/a"))).toMatchObject({ effect: "deny", rule: "locked" });
    const sql = (operations: string[], reads: string[]) => ({ action: "sql.query" as const, resource: "main", agent: "a", pid: 1, sql: { statement: "", canonical: "", operations, reads, writes: [] } });
    expect(policy.decide(sql(["select"], ["orders"]))).toMatchObject({ effect: "allow", rule: "ok-sql" });
    // Not a strict match of the approval (another table): the ask rule decides.
    expect(policy.decide(sql(["select"], ["orders", "users"]))).toMatchObject({ effect: "ask", rule: "ask-sql" });
    const explained = policy.explain(write("/ws/report.txt"));
    expect(explained.matched.map((r) => r.id)).toEqual(["ok"]);
    expect(explained.considered.find((r) => r.id === "ask-writes")?.why.at(-1)).toBe("it is answered in advance by rule ok (approves: ask-writes): it takes no part");
  });

  it("the JSON Schema accepts what the loader accepts", () => {
    const good = { rules: [{ id: "a", action: "fs.write", effect: "ask", ask: { timeout: "5m" } }, { action: "fs.write", resource: "/x", effect: "allow", approves: ["a"] }] };
    expect(() => loadPolicy(good)).not.toThrow();
    expect(schemaErrors(schema, good)).toEqual([]);
    const bad = { rules: [{ action: "fs.write", effect: "ask", ask: { timeout: "5m", later: true } }] };
    expect(() => loadPolicy(bad)).toThrow(PolicyError);
    expect(schemaErrors(schema, bad).length).toBeGreaterThan(0);
  });

  it("a custom policy's ask decision is taken only with a sane timeout, and its own `approval` is not", () => {
    const ask = { effect: "ask", rule: "r", reason: "why", matched: ["r"] };
    expect(wellFormedDecision({ ...ask, ask: { timeout: 1000 } })).toEqual({ ...ask, ask: { timeout: 1000 } });
    expect(wellFormedDecision({ ...ask, ask: { timeout: -1 } })).toBeUndefined();
    expect(wellFormedDecision({ ...ask, ask: { timeout: 10 ** 12 } })).toBeUndefined();
    expect(wellFormedDecision({ ...ask, effect: "allow", approval: { id: "x", outcome: "approved" } })).toEqual({ ...ask, effect: "allow" });
  });
});

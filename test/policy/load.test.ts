import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PolicyError } from "../../dist/runtime/errors.js";
import { KernelSpace } from "../../dist/runtime/index.js";
import { BUILTIN_POLICIES, canonicalRequest, loadPolicy, resolvePolicy } from "../../dist/runtime/policy/index.js";
import { FIXTURES, invalidFixtures } from "./fixtures.js";

function problemsOf(fn: () => unknown): PolicyError["problems"] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyError);
    return (e as PolicyError).problems;
  }
  throw new Error("expected a PolicyError");
}

describe("loading bad policies", () => {
  for (const fixture of invalidFixtures()) {
    it(`${fixture.file}: ${fixture.error.slice(0, 60)}`, () => {
      const problems = problemsOf(() => loadPolicy(fixture.path));
      const problem = problems.find((p) => p.message.includes(fixture.error));
      expect(problem, `problems were:\n${problems.map((p) => JSON.stringify(p)).join("\n")}`).toBeDefined();
      expect(problem!.file?.endsWith(fixture.at.file)).toBe(true);
      expect([problem!.line, problem!.column]).toEqual([fixture.at.line, fixture.at.column]);
      if (fixture.at.field) expect(problem!.field).toBe(fixture.at.field);
    });
  }

  it("reports several problems at once, in line order, each located", () => {
    const problems = problemsOf(() => loadPolicy(join(FIXTURES, "invalid/several-errors.yaml")));
    expect(problems.map((p) => [p.line, p.field])).toEqual([
      [5, "default"],
      [11, "rules[1].effect"],
      [12, "rules[1].methods[0]"],
      [14, "limits.output"],
    ]);
    expect(problems[2].message).toContain('unknown HTTP method "GETT" (did you mean "GET"?)');
  });

  it("formats the error message as file:line:column: field: message", () => {
    expect(() => loadPolicy("rules:\n  - action: fs.read\n    effect: maybe\n", { file: "mine.yaml" })).toThrow(
      /^mine\.yaml:3:13: rules\[0\]\.effect: unknown effect "maybe"; expected one of: allow, audit, verify, ask, deny, stop, kill$/,
    );
  });

  it("checks plain objects too, naming fields without positions", () => {
    const problems = problemsOf(() => loadPolicy({ rules: [{ action: "fs.write", effect: "allow", methods: ["GET"] }] }));
    expect(problems).toEqual([
      { file: "<inline>", field: "rules[0].methods", message: '"methods" applies only to http.fetch, but this rule\'s action also covers fs.write' },
    ]);
  });

  it("refuses what is not a policy at all", () => {
    expect(problemsOf(() => loadPolicy("just a sentence"))[0].message).toContain("expected a policy (a mapping");
    expect(problemsOf(() => loadPolicy("missing-file.yaml"))[0].message).toBe("cannot read the policy file: no such file");
    expect(problemsOf(() => loadPolicy([] as unknown as object))[0].message).toContain("expected a policy");
  });

  it("rejects regular expressions that backtrack catastrophically", () => {
    for (const pattern of ["(a+)+", "(a*)*", "(a|a)*", "(.*)*x", "(a|ab)+c", "(\\w+\\s?)+$", "\\s*\\s*x", "(a{1,5})+", "(x)\\1", ".*DROP"]) {
      const problems = problemsOf(() => loadPolicy({ rules: [{ action: "sql", pattern, effect: "deny" }] }));
      expect(problems[0].message, pattern).toMatch(/unsafe regular expression/);
    }
    for (const pattern of ["DROP|DELETE|TRUNCATE", "^\\s*(SELECT|WITH)\\b", "DROP\\s+TABLE\\s+\\w+", "a{3}", "(ab)+", "(a|b)*c", "x[0-9]+y"]) {
      expect(() => loadPolicy({ rules: [{ action: "sql", pattern, effect: "deny" }] }), pattern).not.toThrow();
    }
    expect(problemsOf(() => loadPolicy({ rules: [{ action: "sql", pattern: "a".repeat(600), effect: "deny" }] }))[0].message).toContain("at most 512 characters");
  });

  it("parses units into numbers", () => {
    const policy = loadPolicy("limits: { memory: 64MiB, output: 1KB, wallTime: 1.5s, httpTimeout: 2m, fuel: 5, hostCalls: 0, fsReadBytes: 2048 }");
    expect(policy.limits).toEqual({ memory: 64 * 1024 * 1024, output: 1000, wallTime: 1500, httpTimeout: 120_000, fuel: 5, hostCalls: 0, fsReadBytes: 2048 });
  });
});

describe("loading good policies", () => {
  it("loads the announcement's example unchanged, with aliases", () => {
    const policy = loadPolicy(join(FIXTURES, "valid/seed.yaml"));
    expect(policy.rules.map((r) => [r.id, r.actions])).toEqual([
      ["rule-0", ["fs.write"]],
      ["rule-1", ["sql.query"]],
    ]);
    expect(policy.defaultEffect).toBe("deny");
    expect(policy.name).toBe("seed");
    expect(policy.source).toBe(join(FIXTURES, "valid/seed.yaml"));
  });

  it("loads JSON with a $schema key", () => {
    const policy = loadPolicy(join(FIXTURES, "valid/everything.json"));
    expect(policy.name).toBe("everything-json");
    expect(policy.decide(canonicalRequest("fs.read", "/data/x.csv")).effect).toBe("allow");
  });

  it("exposes verification settings and copies a rule's overrides into its decisions", () => {
    const policy = loadPolicy(join(FIXTURES, "valid/everything.yaml"));
    expect(policy.verification).toEqual({
      models: [
        { provider: "openai", model: "gpt-4o-mini", baseUrl: "http://127.0.0.1:11434/v1", apiKeyEnv: "OPENAI_API_KEY" },
        { provider: "anthropic", model: "claude-haiku" },
      ],
      threshold: 0.5,
      timeout: 10_000,
      cache: true,
    });
    const d = policy.decide(canonicalRequest("fs.write", "/workspace/a"));
    expect(d).toMatchObject({ effect: "verify", rule: "verify-workspace-writes" });
    expect(d.verify).toEqual({ threshold: 1, timeout: 5000, models: [{ provider: "anthropic", model: "claude-opus" }] });
  });

  it("gives equal policies equal hashes and different ones different hashes", () => {
    const a = loadPolicy("rules: [{action: fs.read, effect: allow}]");
    const b = loadPolicy({ rules: [{ effect: "allow", action: "fs.read" }] });
    const c = loadPolicy("rules: [{action: fs.read, effect: deny}]");
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.hash).toBe(b.hash);
    expect(a.hash).not.toBe(c.hash);
  });

  it("keeps rules read-only", () => {
    const policy = loadPolicy("rules: [{id: r, action: fs.read, effect: deny}]");
    expect(() => ((policy.rules[0] as { effect: string }).effect = "allow")).toThrow(TypeError);
    expect(policy.decide(canonicalRequest("fs.read", "/x")).effect).toBe("deny");
  });
});

describe("extends", () => {
  it("merges parents first; the child's default and limits override per key", () => {
    const policy = loadPolicy(join(FIXTURES, "valid/child-of-strict.yaml"));
    const ids = policy.rules.map((r) => r.id);
    expect(ids.slice(0, 4)).toEqual(["base-log", "base-clock", "base-random", "base-process"]);
    expect(ids).toContain("strict-read-workspace");
    expect(ids).toContain("extra-limits:rule-0");
    expect(ids.at(-1)).toBe("child-api");
    expect(ids.filter((id) => id === "base-log")).toHaveLength(1); // base reached twice, merged once
    expect(policy.limits).toMatchObject({ memory: 32 * 1024 * 1024, wallTime: 20_000, hostCalls: 1000 });
    expect(policy.decide(canonicalRequest("http.fetch", "https://api.example.com/v1")).effect).toBe("allow");
    expect(policy.decide(canonicalRequest("fs.read", "/etc/hostname")).effect).toBe("allow");
    expect(policy.decide(canonicalRequest("fs.write", "/workspace/x")).effect).toBe("deny");
  });

  it("inherits the parent's default when the child has none", () => {
    expect(loadPolicy("extends: permissive").defaultEffect).toBe("allow");
    expect(loadPolicy("extends: permissive\ndefault: deny").defaultEffect).toBe("deny");
  });

  it("resolves relative paths of inline text against baseDir", () => {
    const policy = loadPolicy("extends: [./extra-limits.yaml]", { baseDir: join(FIXTURES, "parts") });
    expect(policy.limits.memory).toBe(32 * 1024 * 1024);
  });

  it("reports problems in a parent file with that file's positions", () => {
    const problems = problemsOf(() => loadPolicy("extends: [./unknown-effect.yaml]", { baseDir: join(FIXTURES, "invalid") }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ line: 7, column: 13, field: "rules[0].effect" });
    expect(problems[0].file).toMatch(/unknown-effect\.yaml$/);
  });
});

describe("resolvePolicy", () => {
  it("loads every built-in by name", () => {
    for (const name of BUILTIN_POLICIES) expect(resolvePolicy(name).name).toBe(name);
    expect(BUILTIN_POLICIES).toEqual(["strict", "standard", "readonly", "permissive", "audit"]);
  });

  it("passes a loaded policy through and validates objects", () => {
    const policy = resolvePolicy("strict");
    expect(resolvePolicy(policy)).toBe(policy);
    expect(() => resolvePolicy({ default: "allwo" })).toThrow(/did you mean "allow"/);
  });

  it("names the built-ins for an unknown name", () => {
    expect(() => resolvePolicy("strcit")).toThrow(
      'unknown policy "strcit" (did you mean "strict"?): it is neither a built-in policy nor an existing file; built-in policies are: strict, standard, readonly, permissive, audit',
    );
  });

  it("loads an existing file whatever its extension", () => {
    const dir = mkdtempSync(join(tmpdir(), "policy-"));
    writeFileSync(join(dir, "policy.txt"), "default: allow\n");
    expect(resolvePolicy(join(dir, "policy.txt")).defaultEffect).toBe("allow");
  });
});

describe("a policy file that changes after it was loaded", () => {
  it("fails closed: the reload throws, no kernel starts on it, and the policy loaded before keeps its own decisions", () => {
    const dir = mkdtempSync(join(tmpdir(), "policy-"));
    const file = join(dir, "live.yaml");
    writeFileSync(file, "rules:\n  - action: fs.read\n    resource: /workspace/**\n    effect: allow\n");
    const before = loadPolicy(file);
    const read = canonicalRequest("fs.read", "/workspace/a");
    const write = canonicalRequest("fs.write", "/workspace/a");
    expect([before.decide(read).effect, before.decide(write).effect]).toEqual(["allow", "deny"]);

    // Permissive and invalid: refused by every way to load it.
    writeFileSync(file, "default: allow\nrules:\n  - action: fs.read\n    effect: alow\n");
    expect(() => loadPolicy(file)).toThrow(PolicyError);
    expect(() => resolvePolicy(file)).toThrow(/live\.yaml:4:13: rules\[0\]\.effect: unknown effect "alow"/);
    expect(() => new KernelSpace({ policy: file, log: false, pool: { warm: 0 } })).toThrow(PolicyError);

    // Permissive and valid: a new load allows the write...
    writeFileSync(file, "default: allow\n");
    expect(loadPolicy(file).decide(write).effect).toBe("allow");
    // ...and the policy loaded earlier still decides as it did: it does not re-read its file
    // (one that did would allow the write now, or deny the read while the file was invalid).
    expect([before.decide(read).effect, before.decide(write).effect]).toEqual(["allow", "deny"]);

    writeFileSync(file, "rules: [");
    expect(() => loadPolicy(file)).toThrow(/invalid YAML/);
    expect([before.decide(read).effect, before.decide(write).effect]).toEqual(["allow", "deny"]);
  });
});

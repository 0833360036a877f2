import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { policyCommand } from "../../dist/runtime/cli/policy.js";
import { FIXTURES } from "./fixtures.js";

async function run(...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await policyCommand(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), isTTY: false });
  return { code, stdout, stderr };
}

describe("agent-os policy", () => {
  it("prints usage on --help (exit 0) and with no arguments (exit 2)", async () => {
    expect(await run("--help")).toMatchObject({ code: 0, stdout: expect.stringContaining("agent-os policy check <policy>...") });
    expect((await run()).code).toBe(2);
    expect((await run("frobnicate")).code).toBe(2);
  });

  it("check: ok for good files and built-in names, exit 2 with located errors for any bad one", async () => {
    const good = await run("check", "strict", join(FIXTURES, "valid/seed.yaml"));
    expect(good.code).toBe(0);
    expect(good.stdout).toContain("ok strict: strict, 7 rules, default deny");
    const bad = await run("check", join(FIXTURES, "valid/seed.yaml"), join(FIXTURES, "invalid/several-errors.yaml"));
    expect(bad.code).toBe(2);
    expect(bad.stdout).toContain("ok test/fixtures/policies/valid/seed.yaml");
    expect(bad.stderr).toContain("does not load (4 problems)");
    expect(bad.stderr).toContain('test/fixtures/policies/invalid/several-errors.yaml:11:13: rules[1].effect: unknown effect "alow" (did you mean "allow"?)');
  });

  it("explain: the decision, the deciding rule and every rule that matched", async () => {
    const out = await run("explain", join(FIXTURES, "valid/everything.yaml"), "--action", "file_write", "--resource", "/prod/./x");
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('request:  fs.write "/prod/x"');
    expect(out.stdout).toContain("decision: deny");
    expect(out.stdout).toContain("rule:     no-prod-writes");
    expect(out.stdout).toContain("reason:   production is read-only");
    expect(out.stdout).toMatch(/✓ no-prod-writes \(deny\) at .*everything\.yaml:32:5/);
    expect(out.stdout).toMatch(/✗ verify-workspace-writes \(verify\)/);
  });

  it("explain: SQL and methods, and JSON output", async () => {
    const out = await run("explain", "strict", "--action", "sql", "--resource", "main", "--sql", "select 1; drop table x", "--json");
    const json = JSON.parse(out.stdout);
    expect(json.decision).toMatchObject({ effect: "deny", rule: "strict-sql-destructive" });
    const http = await run("explain", "policies/examples/standard-with-api.yaml", "--action", "http.fetch", "--resource", "HTTPS://api.example.com:443/v1", "--method", "get");
    expect(http.stdout).toContain("decision: allow");
  });

  it("explain: bad input exits 2 with a message", async () => {
    expect((await run("explain", "strict", "--action", "fs.wirte", "--resource", "/x")).stderr).toContain('did you mean "fs.write"');
    expect((await run("explain", "strict", "--action", "fs.read", "--resource", "relative")).code).toBe(2);
    expect((await run("explain", "strict", "--bogus")).code).toBe(2);
    expect((await run("explain", "nope.yaml", "--action", "fs.read")).code).toBe(2);
  });

  it("test: a table of cases; exit 0 when all pass, 1 when one fails, 2 for a bad file", async () => {
    const pass = await run("test", join(FIXTURES, "valid/seed.yaml"), join(FIXTURES, "cases/seed-cases.yaml"));
    expect(pass.code).toBe(0);
    expect(pass.stdout).toContain("3 passed, 0 failed");
    expect(pass.stdout).toMatch(/ok\s+writes to prod are denied\s+deny by rule-0\s+deny by rule-0/);
    const fail = await run("test", join(FIXTURES, "valid/seed.yaml"), join(FIXTURES, "cases/failing-cases.yaml"));
    expect(fail.code).toBe(1);
    expect(fail.stdout).toMatch(/FAIL\s+this expectation is wrong\s+allow\s+deny by rule-0/);
    expect(fail.stdout).toContain("1 passed, 1 failed");
    const bad = await run("test", join(FIXTURES, "valid/seed.yaml"), join(FIXTURES, "cases/bad-cases.yaml"));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('bad-cases.yaml:3:11: cases[0].expect: unknown effect "alow"');
    expect(bad.stderr).toContain('bad-cases.yaml:5:3: cases[1].resorce: unknown field "resorce" in a case (did you mean "resource"?)');
  });
});

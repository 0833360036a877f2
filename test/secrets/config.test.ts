/**
 * The `secrets:` block as the loader reads it: validated (a value instead of a variable is an
 * error naming the secret), merged across `extends` by name, part of the policy's hash; and the
 * echo forms the http capability scrubs.
 */
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { echoForms } from "../../dist/runtime/capabilities/secrets.js";
import { PolicyError } from "../../dist/runtime/errors.js";
import { loadPolicy } from "../../dist/runtime/policy/index.js";
import { parseOrigin } from "../../dist/runtime/policy/secrets.js";
import { FIXTURES } from "../policy/fixtures.js";

const parent = resolve(FIXTURES, "parts/secrets-parent.yaml");

function problems(text: string): string[] {
  try {
    loadPolicy(text);
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyError);
    return (error as PolicyError).problems.map((p) => `${p.field}: ${p.message}`);
  }
  throw new Error("expected a PolicyError");
}

const secret = (fields: string) => `secrets:\n  - name: gh\n${fields}`;

describe("secrets: the policy block", () => {
  it("merges across extends by name: the child's secret replaces its parent's, the others stay", () => {
    const child = loadPolicy(`extends: ${join(FIXTURES, "parts/secrets-parent.yaml")}\nsecrets:\n  - name: github\n    env: CHILD_TOKEN\n    origins: https://api.github.com\n    header: Authorization\n`);
    expect(child.secrets).toEqual([
      { name: "github", env: "CHILD_TOKEN", origins: ["https://api.github.com"], header: "Authorization", format: "{value}" },
      { name: "search", env: "SEARCH_KEY", origins: ["https://search.example.com"], header: "X-Key", format: "{value}" },
    ]);
    const inherited = loadPolicy(`extends: ${parent}\n`);
    expect(inherited.secrets?.map((s) => s.env)).toEqual(["PARENT_GITHUB_TOKEN", "SEARCH_KEY"]);
    expect(inherited.hash).not.toBe(child.hash);
    expect(loadPolicy("rules: []").secrets).toBeUndefined();
  });

  it("refuses every way of holding a value, naming the secret and never printing the value", () => {
    const cases = [
      secret("    token: ghp_abcdefabcdef\n    env: GH\n    origins: https://a.example\n    header: Authorization\n"),
      secret("    apiKey: ghp_abcdefabcdef\n    env: GH\n    origins: https://a.example\n    header: Authorization\n"),
      secret("    env: ghp_abcdefabcdef\n    origins: https://a.example\n    header: Authorization\n"),
      secret("    env: GH\n    origins: https://a.example\n    header: Authorization\n    format: Bearer ghp_abcdefabcdef\n"),
      secret("    env: GH\n    origins: https://a.example\n    header: 'Authorization: Bearer ghp_abcdefabcdef'\n"),
      "secrets:\n  - ghp_abcdefabcdef\n",
    ];
    for (const text of cases) {
      const found = problems(text);
      expect(found.length, text).toBeGreaterThan(0);
      expect(found.join("\n"), text).not.toContain("ghp_abcdef");
      if (!text.includes("- ghp")) expect(found.some((p) => p.includes('secret "gh"')), found.join("\n")).toBe(true);
    }
  });

  it("checks names, header names, origins and formats", () => {
    const base = "    env: GH\n    header: Authorization\n";
    expect(problems(secret(`${base}    origins: ["ftp://a.example"]\n`)).join()).toContain("expected an origin");
    expect(problems(secret(`${base}    origins: ["https://user@a.example"]\n`)).join()).toContain("no user info");
    expect(problems(secret(`${base}    origins: ["https://*.example.com"]\n`)).join()).toContain("no wildcard");
    expect(problems(secret(`${base}    origins: []\n`)).join()).toContain("non-empty list of origins");
    expect(problems(secret(`${base}    origins: https://a.example\n    format: "{value}{value}"\n`)).join()).toContain("exactly once");
    expect(problems(secret("    env: GH\n    origins: https://a.example\n    header: Host\n")).join()).toContain("set by the kernel or the connection");
    expect(problems(secret(`${base}    origins: https://a.example\n    extra: 1\n`)).join()).toContain('unknown field "extra"');
    expect(problems(`secrets:\n  - name: "bad name"\n${base}    origins: https://a.example\n`).join()).toContain("expected a name");
    const twice = `secrets:\n  - name: gh\n${base}    origins: https://a.example\n  - name: gh\n${base}    origins: https://b.example\n`;
    expect(problems(twice).join()).toContain("used twice");
    const clash = `secrets:\n  - name: gh\n${base}    origins: https://a.example\n  - name: gh2\n    env: GH2\n    header: authorization\n    origins: [https://b.example, https://a.example]\n`;
    expect(problems(clash).join()).toContain('secret "gh" already sets authorization on https://a.example');
  });

  it("origins are canonical: case, default port and a trailing slash do not matter", () => {
    expect(parseOrigin("HTTPS://API.GitHub.com:443/")).toEqual({ origin: "https://api.github.com" });
    expect(parseOrigin("http://127.0.0.1:8080")).toEqual({ origin: "http://127.0.0.1:8080" });
    expect(parseOrigin("http://[::1]:99")).toEqual({ origin: "http://[::1]:99" });
    expect("problem" in parseOrigin("https://a.example?x=1")).toBe(true);
  });
});

describe("secrets: echo forms", () => {
  it("covers raw, JSON-escaped, percent-encoded and base64 at every alignment", () => {
    const value = 'a/b+c"dé=xyz123';
    const forms = echoForms(value);
    expect(forms).toEqual(expect.arrayContaining([value, 'a/b+c\\"dé=xyz123', 'a\\/b+c\\"d\\u00e9=xyz123', encodeURIComponent(value), encodeURIComponent(value).toLowerCase().replace(/%([0-9a-f]{2})/g, (h) => h)]));
    const blob = (prefix: string) => Buffer.from(`${prefix}${value}--tail`).toString("base64");
    for (const prefix of ["", "x", "xy"]) expect(forms.some((f) => blob(prefix).includes(f) && f.length >= 12), prefix).toBe(true);
  });
});

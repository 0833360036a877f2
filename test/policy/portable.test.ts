/**
 * The portable policy entry (dist/runtime/policy/portable.js): it bundles for the browser with
 * no Node import, runs with Web globals only, and compiles a policy to what Node's loadPolicy
 * makes of it (same hash, same decisions). `extends` of files goes through the host's
 * readPolicy hook; the built-ins come from texts embedded at build time.
 */
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { domainToASCII } from "node:url";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { PolicyError } from "../../dist/runtime/errors.js";
import { canonicalRequest, loadPolicy, resolvePolicy, sqlFactsFromText } from "../../dist/runtime/policy/index.js";
import { BUILTIN_TEXTS, EXTENDABLE_BUILTINS, compilePolicy, type LoadedPolicy } from "../../dist/runtime/policy/portable.js";
import { resolveRef } from "../../dist/runtime/policy/embedded-reader.js";
import { punycodeHost } from "../../dist/runtime/policy/rule.js";
import { OUTPUT, POLICIES_DIR, renderBuiltinTexts } from "../../runtime/policy/embed-builtins.mjs";
import { INLINE, REQUESTS, RICH, RICH_HASH, type RequestSpec } from "./portable-fixtures.js";
import { bundleForWeb, loadInWebContext } from "./web-host.js";

type Portable = typeof import("../../dist/runtime/policy/portable.js");

const ENTRY = "dist/runtime/policy/portable.js";

function request(lib: Pick<Portable, "canonicalRequest" | "sqlFactsFromText">, [action, resource, extra = {}]: RequestSpec) {
  return lib.canonicalRequest(action, resource, {
    ...(extra.method === undefined ? {} : { method: extra.method }),
    ...(extra.sql === undefined ? {} : { sql: lib.sqlFactsFromText(extra.sql) }),
  });
}

/** Decisions as plain data (a decision made in another realm has that realm's prototypes). */
function decisions(policy: LoadedPolicy, lib: Pick<Portable, "canonicalRequest" | "sqlFactsFromText">): unknown[] {
  return REQUESTS.map((spec) => JSON.parse(JSON.stringify(policy.decide(request(lib, spec)))));
}

const NODE_LIB = { canonicalRequest, sqlFactsFromText };
const clock = () => 1_000_000;

describe("the portable entry bundles for the browser", () => {
  it("imports no node: module and no Node built-in, anywhere in its graph", async () => {
    const { nodeImports, code } = await bundleForWeb(ENTRY);
    expect(nodeImports).toEqual([]);
    expect(code.length).toBeGreaterThan(0);
  });

  it("the check finds the Node imports of the Node entry (index.js reads files)", async () => {
    const { nodeImports } = await bundleForWeb("dist/runtime/policy/index.js");
    expect(nodeImports).toContain("dist/runtime/hosts/node/policy/source.js -> node:fs");
    expect(nodeImports).toContain("dist/runtime/hosts/node/policy/builtins.js -> node:url");
  });
});

describe("with Web globals only, it decides as Node does", () => {
  let lib: Portable;
  let run: (code: string) => unknown;

  beforeAll(async () => {
    const bundle = await bundleForWeb(ENTRY);
    ({ exports: lib, run } = loadInWebContext<Portable>(bundle.code));
  });

  it("runs where there is no process, Buffer, require or __dirname", () => {
    expect(run("[typeof process, typeof Buffer, typeof require, typeof __dirname, typeof module].join()")).toBe("undefined,undefined,undefined,undefined,undefined");
    expect(typeof lib.compilePolicy).toBe("function");
  });

  it("compiles the standard built-in to Node's hash, rules and decisions", () => {
    const web = lib.compilePolicy(lib.BUILTIN_TEXTS.standard, { now: clock });
    const node = resolvePolicy("standard", { now: clock });
    expect(web.hash).toBe(node.hash);
    expect(web.name).toBe("standard");
    expect(web.rules.map((r) => r.id)).toEqual(node.rules.map((r) => r.id));
    expect(decisions(web, lib)).toEqual(decisions(node, NODE_LIB));
  });

  it("compiles a policy extending standard to Node's hash and decisions, rate limits included", () => {
    const web = lib.compilePolicy(INLINE, { now: clock });
    const node = loadPolicy(INLINE, { now: clock });
    expect(web.hash).toBe(node.hash);
    const made = decisions(web, lib);
    expect(made).toEqual(decisions(node, NODE_LIB));
    const byRule = (i: number) => made[i] as { effect: string; rule: string | null };
    expect(byRule(0)).toMatchObject({ effect: "allow", rule: "standard-workspace-read" });
    expect(byRule(2)).toMatchObject({ effect: "audit", rule: "standard-workspace-remove" });
    expect(byRule(3)).toMatchObject({ effect: "deny", rule: "standard-system-paths" });
    expect(byRule(4)).toMatchObject({ effect: "deny", rule: "standard-prod" });
    expect(byRule(5)).toMatchObject({ effect: "deny", rule: "team-secrets" });
    expect(byRule(6)).toMatchObject({ effect: "deny", rule: "standard-cloud-metadata" });
    expect(byRule(7)).toMatchObject({ effect: "allow", rule: "team-api" });
    expect(byRule(8)).toMatchObject({ effect: "allow", rule: "team-api" });
    expect(byRule(9)).toMatchObject({ effect: "deny", rule: "team-api" });
    expect(byRule(10)).toMatchObject({ effect: "deny", rule: null });
    expect(byRule(12)).toMatchObject({ effect: "deny", rule: "standard-sql-destructive-text" });
    expect(byRule(13)).toMatchObject({ effect: "allow", rule: "base-log" });
  });

  it("hashes in pure JS what node:crypto hashed before the split, byte for byte", () => {
    expect(lib.compilePolicy(RICH).hash).toBe(RICH_HASH);
    expect(loadPolicy(RICH).hash).toBe(RICH_HASH);
  });

  it("explains as Node does", () => {
    const web = lib.compilePolicy(INLINE);
    const node = loadPolicy(INLINE);
    const spec: RequestSpec = ["fs.read", "/workspace/secrets/../secrets/key"];
    const ids = (policy: LoadedPolicy, from: typeof NODE_LIB) => policy.explain(request(from, spec)).matched.map((t) => t.id);
    expect(ids(web, lib)).toEqual(["standard-workspace-read", "team-secrets"]);
    expect(ids(web, lib)).toEqual(ids(node, NODE_LIB));
  });

  it("gives the punycode hint for an international host in a glob, as Node's domainToASCII did", () => {
    const text = 'rules:\n  - action: http.fetch\n    resource: "https://bücher.example:8443/**"\n    effect: allow\n';
    const expected = '<inline>:3:15: rules[0].resource: international hosts are matched as punycode: write "https://xn--bcher-kva.example:8443/**"';
    expect(() => lib.compilePolicy(text)).toThrow(expected);
    expect(() => loadPolicy(text)).toThrow(expected);
  });

  it("refuses an extends of a file without a readPolicy hook, in the Web context too", () => {
    expect(() => lib.compilePolicy("extends: [./other.yaml]\n")).toThrow(/cannot read "\.\/other\.yaml": this host cannot read policy files/);
  });
});

describe("compilePolicy and extends", () => {
  it("without a readPolicy hook, a path in extends is a PolicyError naming it and saying why", () => {
    let error: unknown;
    try {
      compilePolicy("extends: [standard, ./other.yaml]\n");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PolicyError);
    expect((error as PolicyError).problems).toEqual([
      {
        file: "<inline>",
        line: 1,
        column: 21,
        field: "extends[1]",
        message: expect.stringMatching(/^cannot read "\.\/other\.yaml": this host cannot read policy files; give compilePolicy a readPolicy hook, or extend a built-in policy \(base, strict/),
      },
    ]);
  });

  it("without a hook, a path given as the policy is refused the same way", () => {
    expect(() => compilePolicy("team.yaml")).toThrow(PolicyError);
    expect(() => compilePolicy("team.yaml")).toThrow(/cannot read "team\.yaml": this host cannot read policy files/);
  });

  it("an unknown built-in name is the loader's error, with its suggestion", () => {
    expect(() => compilePolicy("extends: [standrd]\n")).toThrow(/unknown built-in policy "standrd" \(did you mean "standard"\?\)/);
  });

  it("with a hook, follows extends through it (references resolved and normalized) to Node's result", () => {
    const files: Record<string, string> = {
      "other.yaml": "name: other\nextends: [./team/shared.yaml]\nrules:\n  - action: fs.read\n    resource: /data/**\n    effect: allow\n",
      "team/shared.yaml": "extends: [../common.json, strict]\nrules:\n  - action: fs.write\n    resource: /data/**\n    effect: audit\n",
      "common.json": JSON.stringify({ name: "common", rules: [{ id: "common-tmp", action: "fs.*", resource: "/tmp/**", effect: "allow" }] }),
    };
    const root = "extends: [./other.yaml, standard]\nrules:\n  - id: mine\n    action: fs.remove\n    resource: /data/**\n    effect: deny\n";
    const asked: string[] = [];
    const web = compilePolicy(root, {
      readPolicy: (ref) => {
        asked.push(ref);
        if (!(ref in files)) throw new Error(`no such policy ${ref}`);
        return ref.endsWith(".json") ? (JSON.parse(files[ref]) as Record<string, unknown>) : files[ref];
      },
    });
    expect(asked).toEqual(["other.yaml", "team/shared.yaml", "common.json"]);

    const dir = mkdtempSync(join(tmpdir(), "portable-policy-"));
    mkdirSync(join(dir, "team"));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const node = loadPolicy(root, { baseDir: dir });
    expect(web.hash).toBe(node.hash);
    expect(web.rules.map((r) => r.id)).toEqual(node.rules.map((r) => r.id));
    expect(web.rules.map((r) => r.id)).toContain("shared:rule-0");
    expect(web.decide(canonicalRequest("fs.remove", "/data/x"))).toMatchObject({ effect: "deny", rule: "mine" });
    expect(web.decide(canonicalRequest("fs.write", "/tmp/x"))).toMatchObject({ effect: "allow", rule: "common-tmp" });
  });

  it("resolves a reference against the one of the policy naming it, as a relative URL would be", () => {
    expect(resolveRef("./other.yaml", undefined)).toBe("other.yaml");
    expect(resolveRef("../up.yaml", undefined)).toBe("../up.yaml");
    expect(resolveRef("./b.yaml", "team/a.yaml")).toBe("team/b.yaml");
    expect(resolveRef("../../shared/c.yaml", "org/team/a.yaml")).toBe("shared/c.yaml");
    expect(resolveRef("../../c.yaml", "team/a.yaml")).toBe("../c.yaml");
    expect(resolveRef("../../c.yaml", "/team/a.yaml")).toBe("/c.yaml");
    expect(resolveRef("/abs/c.yaml", "team/a.yaml")).toBe("/abs/c.yaml");
    expect(resolveRef("./c.yaml", "https://policies.example/team/a.yaml")).toBe("https://policies.example/team/c.yaml");
    expect(resolveRef("kv:shared/c.yaml", "team/a.yaml")).toBe("kv:shared/c.yaml");
  });

  it("a hook's failure, a promise or a cycle is a PolicyError naming the reference", () => {
    const fail = () => compilePolicy("extends: [./gone.yaml]\n", { readPolicy: () => { throw new Error("not in the store"); } });
    expect(fail).toThrow("gone.yaml: cannot read the policy: not in the store");
    const promised = () => compilePolicy("extends: [./later.yaml]\n", { readPolicy: () => Promise.resolve("rules: []") as unknown as string });
    expect(promised).toThrow(/later\.yaml: cannot read the policy: readPolicy returned a promise/);
    const cycle = { "a.yaml": "extends: [./b.yaml]\n", "b.yaml": "extends: [./a.yaml]\n" } as Record<string, string>;
    expect(() => compilePolicy("extends: [a.yaml]\n", { readPolicy: (ref) => cycle[ref] })).toThrow(/extends cycle: a\.yaml -> b\.yaml -> a\.yaml/);
  });

  it("keeps the options: file names the source, now is the rate-limit clock", () => {
    let time = 0;
    const policy = compilePolicy(INLINE, { file: "team.yaml", now: () => time });
    expect(policy.source).toBe("team.yaml");
    const call = () => policy.decide(canonicalRequest("http.fetch", "https://api.example.com/x", { method: "GET" })).effect;
    expect([call(), call(), call()]).toEqual(["allow", "allow", "deny"]);
    time += 60_001;
    expect(call()).toBe("allow");
  });
});

describe("the embedded built-in texts", () => {
  it("equal the files in policies/, one for each name extends accepts", () => {
    const files = readdirSync(POLICIES_DIR).filter((f) => f.endsWith(".yaml")).map((f) => f.slice(0, -5));
    expect(Object.keys(BUILTIN_TEXTS).sort()).toEqual(files.sort());
    expect(Object.keys(BUILTIN_TEXTS).sort()).toEqual([...EXTENDABLE_BUILTINS].sort());
    for (const name of files) expect(BUILTIN_TEXTS[name], name).toBe(readFileSync(join(POLICIES_DIR, `${name}.yaml`), "utf8"));
    expect(Object.isFrozen(BUILTIN_TEXTS)).toBe(true);
  });

  it("the checked-in builtin-texts.ts is what the generator makes from the YAML files", () => {
    expect(readFileSync(OUTPUT, "utf8")).toBe(renderBuiltinTexts());
  });

  it("give every built-in Node's hash", () => {
    for (const name of EXTENDABLE_BUILTINS) expect(compilePolicy(BUILTIN_TEXTS[name]).hash, name).toBe(resolvePolicy(name).hash);
  });
});

describe("punycodeHost (Web URL) is Node's domainToASCII", () => {
  it("for hosts written in many scripts, and for invalid ones (both give \"\")", () => {
    for (const host of ["bücher.example", "例え.テスト", "ß.de", "xn--tda.de", "a@ü.de", "ü.de:", "ü de", "", "[::1]", "1.2.3.4"]) {
      expect(punycodeHost(host), host).toBe(domainToASCII(host));
    }
  });

  it("for any string", () => {
    const char = fc.constantFrom(..."abü.-:/@?#%[]\\ 0xßΣ例😀\t\u0000\u00ad|*_~".split(""), "\ud800");
    const host = fc.oneof(fc.array(char, { maxLength: 12 }).map((a) => a.join("")), fc.string({ unit: "binary", maxLength: 12 }));
    fc.assert(fc.property(host, (h) => punycodeHost(h) === domainToASCII(h)), { numRuns: 5000 });
  });
});

/**
 * policy.decide and policy.explain canonicalize what they are given (issue 13, item 12): they
 * are called directly by the library API, `agent-os policy explain`, a dashboard or a gateway,
 * not only by the gate. The expected canonical spellings here are written out by hand.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadPolicy } from "../../dist/runtime/policy/index.js";
import { canonicalPath, canonicalUrl } from "../../dist/runtime/canonical.js";
import { isCanonicalPath, isCanonicalUrl } from "../../dist/runtime/policy/canonical-request.js";
import type { Request } from "../../dist/runtime/types.js";

const raw = (action: string, resource: string, method?: string): Request =>
  ({ action, resource, agent: "gateway", pid: 0, ...(method === undefined ? {} : { method }) }) as Request;

const fsPolicy = loadPolicy({
  rules: [
    { id: "ws", action: "fs.*", resource: "/workspace/**", effect: "allow" },
    { id: "secrets", action: "fs.*", resource: "/workspace/secrets/**", effect: "deny" },
  ],
});

describe("paths", () => {
  const spellings = [
    "/workspace/x/../secrets/k",
    "/workspace/./secrets/k",
    "/workspace//secrets/k",
    "//workspace/secrets/k",
    "/workspace/secrets/k/",
    "/workspace/secrets/./k",
    "/workspace/secrets/x/../k",
    "/../workspace/secrets/k",
    "/workspace/a/b/../../secrets/k",
    "/workspace/secrets//k/.",
    "/workspace/./././secrets/k",
    "/workspace/secrets",
    "/workspace/secrets/",
    "/workspace/x/..//secrets",
  ];

  it.each(spellings)("decides %s as the secret it names, for every fs action", (path) => {
    for (const action of ["fs.read", "fs.write", "fs.list", "fs.remove", "fs.stat", "fs.mkdir", "file_read", "file_write", "file_delete"]) {
      expect(fsPolicy.decide(raw(action, path)), action).toMatchObject({ effect: "deny", rule: "secrets", matched: ["ws", "secrets"] });
    }
  });

  it("still allows the workspace, however it is spelt", () => {
    for (const path of ["/workspace/notes.txt", "/workspace/./notes.txt", "/workspace/secrets/../notes.txt", "/workspace//a/", "/workspace/.env"]) {
      expect(fsPolicy.decide(raw("fs.read", path)), path).toMatchObject({ effect: "allow", rule: "ws" });
    }
  });

  it("refuses a path that cannot be canonical, saying why", () => {
    const cases: [string, RegExp][] = [
      ["workspace/secrets/k", /absolute/],
      ["", /absolute/],
      ["/workspace/a\\..\\secrets/k", /backslash/],
      ["/workspace/\0/k", /NUL/],
      ["/workspace/" + "a".repeat(5000), /at most 4096 bytes/],
    ];
    for (const [path, why] of cases) {
      const d = fsPolicy.decide(raw("fs.read", path));
      expect(d.effect).toBe("deny");
      expect(d.rule).toBe(null);
      expect(d.reason).toMatch(/^invalid request: the path cannot be made canonical \(/);
      expect(d.reason).toMatch(why);
      expect(d.reason).toMatch(/denied \(fail closed\)$/);
    }
  });
});

describe("URLs and methods", () => {
  const policy = loadPolicy({
    rules: [
      { id: "api", action: "http", resource: "https://api.example.com/v1/**", methods: ["GET"], effect: "allow" },
      { id: "admin", action: "http", resource: ["https://api.example.com/admin/**", "http://127.0.0.1/**"], effect: "deny" },
    ],
  });

  it.each([
    "HTTPS://API.EXAMPLE.COM:443/v1/users",
    "https://api.example.com:443/v1/users",
    "https://Api.Example.Com/v1/users",
    "https://api.example.com./v1/users",
    "https://api.example.com/v1/x/../users",
    "https://api.example.com/v1/./users",
    "https://api.example.com/v1/%75sers",
    "https://api.example.com/v1/users#fragment",
    "HTTPS://API.EXAMPLE.COM/v1",
  ])("allows %s as the API's URL it is", (url) => {
    expect(policy.decide(raw("http.fetch", url, "GET"))).toMatchObject({ effect: "allow", rule: "api" });
    expect(policy.decide(raw("network", url, "get"))).toMatchObject({ effect: "allow", rule: "api" });
  });

  it.each([
    "HTTPS://API.EXAMPLE.COM/admin/x",
    "https://api.example.com/v1/../admin/x",
    "https://api.example.com:443/v1/%2e%2e/admin/x",
    "https://API.example.com./admin/",
    "http://0x7f.1/x",
    "http://2130706433/x",
    "http://0177.0.0.1/x",
    "http://127.1/x",
    "HTTP://127.0.0.1:80/x",
  ])("denies %s under the deny rule it falls in", (url) => {
    expect(policy.decide(raw("http.fetch", url, "GET"))).toMatchObject({ effect: "deny", rule: "admin" });
  });

  it("refuses a URL that cannot be canonical, saying why", () => {
    for (const url of ["api.example.com/v1/users", "ftp://api.example.com/v1/x", "https://user:pw@api.example.com/v1/x", "https://", "http://exa mple.com/", "http://[::1/x", "https://api.example.com/v1/\0"]) {
      const d = policy.decide(raw("http.fetch", url, "GET"));
      expect(d, url).toMatchObject({ effect: "deny", rule: null });
      expect(d.reason, url).toMatch(/^invalid request: the URL cannot be made canonical \(.+\); denied \(fail closed\)$/);
    }
  });

  it("explains the canonical request and says how it was given", () => {
    const e = policy.explain(raw("network", "HTTPS://API.EXAMPLE.COM:443/v1/../admin/k", "get"));
    expect(e.request).toMatchObject({ action: "http.fetch", resource: "https://api.example.com/admin/k", method: "GET" });
    expect(e.given).toMatchObject({ action: "network", resource: "HTTPS://API.EXAMPLE.COM:443/v1/../admin/k" });
    expect(e.decision).toMatchObject({ effect: "deny", rule: "admin" });
    expect(e.matched.map((t) => t.id)).toEqual(["admin"]);
    const paths = fsPolicy.explain(raw("fs.read", "/workspace/x/../secrets/k"));
    expect(paths.matched.map((t) => t.id)).toEqual(["ws", "secrets"]);
    expect(paths.considered[1].why).toContain('resource "/workspace/secrets/k" matches /workspace/secrets/**');
    expect(fsPolicy.explain(raw("fs.read", "/workspace/secrets/k")).given).toBeUndefined();
  });
});

describe("the fast 'already canonical' checks never accept what canonicalization would change", () => {
  // Mostly near-canonical spellings (so that the fast check says yes often), with every kind
  // of trap mixed in: numeric hosts, punycode, default ports, dot segments, escapes, path
  // parameters, characters a parser encodes.
  const tricky = <T>(common: fc.Arbitrary<T>, traps: T[]) => fc.oneof({ arbitrary: common, weight: 4 }, { arbitrary: fc.constantFrom(...traps), weight: 1 });
  const label = tricky(fc.stringMatching(/^[a-z][a-z0-9-]{0,5}[a-z0-9]$|^[a-z]$|^[0-9]{1,3}$/), [
    "xn--bcher-kva", "xn--a", "0x7f", "0X10", "1", "255", "256", "010", "0", "-a", "a-", "a--b", "ex_ample", "EXAMPLE", "é", "",
  ]);
  const host = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join("."));
  const segment = tricky(fc.stringMatching(/^[A-Za-z0-9._~!$&()*+,=:@-]{0,6}$/), [
    "", ".", "..", "%2e", "%2E%2e", "..;", "a;b", "%2f", "%5c", "%41", "%7e", "a b", "é", "'", '"', "<", "`", "{", ".env", "a\\b", "\t",
  ]);
  const path = fc.array(segment, { maxLength: 5 }).map((s) => "/" + s.join("/"));
  const query = tricky(fc.stringMatching(/^(\?[A-Za-z0-9=&/?.~:@!$()*+,-]{1,8})?$/), ["?", "?a%20b", "?'", "?a b", "?é", "?%7e"]);
  const url = fc
    .tuple(
      tricky(fc.constantFrom("http", "https"), ["HTTP", "Https", "ftp"]),
      host,
      tricky(fc.constantFrom("", ":8080", ":3000", ":65535"), [":80", ":443", ":0", ":080", ":65536", ".", ":"]),
      path,
      query,
      tricky(fc.constant(""), ["#f", "#"]),
    )
    .map(([scheme, h, port, p, q, f]) => `${scheme}://${h}${port}${p}${q}${f}`);

  it("isCanonicalUrl(u) implies canonicalUrl(u) === u", () => {
    let fast = 0;
    fc.assert(
      fc.property(url, (u) => {
        if (!isCanonicalUrl(u)) return;
        fast++;
        expect(canonicalUrl(u)).toBe(u);
      }),
      { numRuns: 3000 },
    );
    expect(fast).toBeGreaterThan(100); // the property was exercised
  }, 120_000);

  it("accepts the common canonical spellings (so the fast path is taken)", () => {
    for (const u of ["https://api.example.com/v1/users", "http://127.0.0.1:8080/x?a=1&b=2", "https://a.b.example/", "http://localhost:3000/a/b/c.json"]) {
      expect(isCanonicalUrl(u), u).toBe(true);
      expect(canonicalUrl(u)).toBe(u);
    }
  });

  it("isCanonicalPath(p) implies canonicalPath(p) === p", () => {
    const anyPath = fc.oneof(path, fc.string(), fc.array(fc.constantFrom("a", ".", "..", "", "\\", "\0", "é", "b c"), { maxLength: 6 }).map((s) => s.join("/")));
    fc.assert(
      fc.property(anyPath, (p) => {
        if (!isCanonicalPath(p)) return;
        expect(canonicalPath(p)).toBe(p);
      }),
      { numRuns: 3000 },
    );
    expect(isCanonicalPath("/" + "é".repeat(1364))).toBe(true);
    expect(canonicalPath("/" + "é".repeat(1364))).toBe("/" + "é".repeat(1364));
  }, 120_000);
});

import { describe, expect, it } from "vitest";
import { GuestError, UsageError } from "../../dist/runtime/errors.js";
import { canonicalRequest, loadPolicy } from "../../dist/runtime/policy/index.js";

const policy = loadPolicy({
  default: "allow",
  rules: [
    { id: "no-prod", action: "fs.*", resource: "/prod/**", effect: "deny" },
    { id: "no-evil", action: "http.fetch", resource: ["https://evil.example/**", "https://xn--bcher-kva.example/**"], effect: "deny" },
    { id: "no-admin", action: "http.fetch", resource: "http://127.0.0.1:8080/admin/**", effect: "deny" },
  ],
});

describe("canonicalization: spellings of the same resource decide the same", () => {
  const paths = ["/prod/db", "/prod//db", "/prod/./db", "/workspace/../prod/db", "/../../prod/db", "//prod/db/", "/prod/x/../db", "/./prod/././db"];
  it.each(paths)("fs.write %s is denied by no-prod", (spelling) => {
    expect(policy.decide(canonicalRequest("fs.write", spelling))).toMatchObject({ effect: "deny", rule: "no-prod" });
    expect(policy.decide(canonicalRequest("file_write", spelling)).rule).toBe("no-prod");
  });

  const urls = [
    "https://evil.example/a",
    "HTTPS://EVIL.EXAMPLE/a",
    "https://evil.example:443/a",
    "https://evil.example./a",
    "https://evil.example/x/../a",
    "https://evil.example/%61",
    "https://evil.example/a#fragment",
    "https://bücher.example/a",
    "https://BÜCHER.example:443/./a",
  ];
  it.each(urls)("http.fetch %s is denied by no-evil", (spelling) => {
    expect(policy.decide(canonicalRequest("network", spelling))).toMatchObject({ effect: "deny", rule: "no-evil" });
  });

  const loopback = ["http://127.0.0.1:8080/admin/x", "http://0x7f.1:8080/admin/x", "http://2130706433:8080/admin/x", "http://0177.0.0.1:8080/admin/%78"];
  it.each(loopback)("http.fetch %s is denied by no-admin", (spelling) => {
    expect(policy.decide(canonicalRequest("http", spelling)).rule).toBe("no-admin");
  });

  it("refuses inputs that cannot be canonical (the gate denies them before the policy)", () => {
    expect(() => canonicalRequest("fs.read", "/prod/\0x")).toThrow(GuestError);
    expect(() => canonicalRequest("fs.read", "prod/x")).toThrow(GuestError);
    expect(() => canonicalRequest("http.fetch", "file:///etc/passwd")).toThrow(GuestError);
    expect(() => canonicalRequest("http.fetch", "https://user:pw@evil.example/")).toThrow(GuestError);
    expect(() => canonicalRequest("fs.wirte", "/x")).toThrow(UsageError);
    expect(() => canonicalRequest("fs.wirte", "/x")).toThrow(/did you mean "fs.write"/);
  });

  it("leaves database names and other resources as they are", () => {
    expect(canonicalRequest("sql", "Main/../x").resource).toBe("Main/../x");
    expect(canonicalRequest("log.write", "info")).toEqual({ action: "log.write", resource: "info", agent: "cli", pid: 0 });
  });
});

describe("canonicalUrl: a path whose meaning depends on the server is refused", () => {
  const refused = [
    ["/allowed/..%2fsecret/x", /an encoded "\/"/],
    ["/allowed/%2e%2e%2fsecret/x", /an encoded "\/"/],
    ["/allowed/..%5Csecret", /an encoded "\\"/],
    ["/allowed/%252e%252e%252fsecret", /an encoded "\/"/],
    ["/allowed/%25252e%25252e/x", /only dots once decoded/],
    ["/allowed/..;/secret", /";", which starts path parameters/],
    ["/allowed/private;jsessionid=1/key", /";", which starts path parameters/],
    ["/allowed//private", /an empty segment/],
    ["/allowed/%c0%ae%c0%ae/x", /not UTF-8/],
    ["/allowed/%e0%80%ae/x", /not UTF-8/],
    ["/allowed/caf%E9", /not UTF-8/],
    ["/allowed/%u002e%u002e/x", /not a %XX escape/],
    ["/allowed/%25u002e%25u002e/x", /%uXXXX escape/],
    ["/allowed/50%", /not a %XX escape/],
    ["/allowed/%EF%BC%8E%EF%BC%8E/x", /only dots once decoded/],
    ["/allowed/..%EF%BC%8Fx", /Unicode folding/],
    ["/allowed/%E2%80%A5/x", /only dots once decoded/],
    ["/allowed/...", /only dots once decoded/],
    ["/allowed/..%20/x", /only dots once decoded/],
    ["/allowed/..%09/x", /control character/],
    ["/allowed/x%00.txt", /control character/],
    ["/allowed/..%3Bx/y", /only dots once decoded/],
    ["/" + "%25".repeat(1) + "25".repeat(9) + "2e", /more than 8 times/],
  ] as const;
  it.each(refused)("refuses %s", (path, why) => {
    let error: unknown;
    try {
      canonicalRequest("http.fetch", `http://h.example${path}`);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GuestError);
    expect((error as GuestError).error).toMatchObject({ tag: "invalid", val: expect.stringMatching(why) });
    expect((error as GuestError).error.val).toMatch(/^a URL path whose meaning depends on the server: segment /);
  });

  const kept = [
    ["/a%20b/a+b/%2B/caf%C3%A9/%F0%9F%98%80", "/a%20b/a+b/%2B/caf%C3%A9/%F0%9F%98%80"],
    ["/日本語/", "/%E6%97%A5%E6%9C%AC%E8%AA%9E/"],
    ["/50%25/%3Bsemi/~u/%7Eu/a.b/...x/..x/.hidden", "/50%25/%3Bsemi/~u/~u/a.b/...x/..x/.hidden"],
    ["/x?next=%2F..%2Fsecret&a=/../..;/&b=%c0%ae", "/x?next=%2F..%2Fsecret&a=/../..;/&b=%C0%AE"],
    ["/allowed/%2e%2e/x", "/x"],
    ["/allowed/.%2E/x", "/x"],
    ["/allowed\\..\\x", "/x"],
  ] as const;
  it.each(kept)("keeps %s as %s", (path, canonical) => {
    expect(canonicalRequest("http.fetch", `http://h.example${path}`).resource).toBe(`http://h.example${canonical}`);
  });
});

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

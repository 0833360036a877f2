/**
 * What the fs case (conformance.js `fsCase`) must report on every host.
 */
import { expect } from "vitest";

export function expectFsCase(r: { first: unknown[][]; second: unknown[][] }): void {
  expect(r.first.map((o) => o[0])).toEqual(["ok", "ok", "ok", "ok", "ok", "ok", "denied", "denied", "denied", "denied", "limit"]);
  expect(r.first[4]).toEqual(["ok", [{ name: "a.txt", kind: "file" }, { name: "big.txt", kind: "file" }, { name: "deep", kind: "directory" }]]);
  expect(r.first[5]).toEqual(["ok", { kind: "file", size: 10 }]);
  expect(r.first[6][1]).toBe("standard-system-paths");
  expect(r.first[8]).toEqual(["denied", "no-secret", "secrets stay put"]);
  expect(r.first[9]).toEqual(["denied", null, "mount /data is read-only"]);
  expect(r.second).toEqual([["ok", "hello edge"], ["ok", { kind: "file", size: 200_000 }], ["ok", null], ["ok", []]]);
}

/**
 * The portable SHA-256: the pure-JS implementation (what a browser or workerd without
 * `nodejs_compat` uses) gives Node's digest for any bytes and any string, lone surrogates
 * included (both hash a string as UTF-8, with U+FFFD for a lone surrogate).
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sha256Hex, sha256HexPortable, sha256Native } from "../../dist/runtime/portable/sha256.js";

describe("portable sha256", () => {
  it("uses Node's crypto on Node", () => {
    expect(sha256Native).toBe(true);
  });

  it("the pure-JS digest equals node:crypto's for bytes and strings", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.string({ unit: "binary", maxLength: 500 }), (bytes, text) => {
        const nodeBytes = createHash("sha256").update(bytes).digest("hex");
        const nodeText = createHash("sha256").update(text).digest("hex");
        expect(sha256HexPortable(bytes)).toBe(nodeBytes);
        expect(sha256HexPortable(text)).toBe(nodeText);
        expect(sha256Hex(bytes)).toBe(nodeBytes);
        expect(sha256Hex(text)).toBe(nodeText);
      }),
      { numRuns: 300 },
    );
    expect(sha256HexPortable("\ud800x\udfff")).toBe(createHash("sha256").update("\ud800x\udfff").digest("hex"));
    expect(sha256HexPortable("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });
});

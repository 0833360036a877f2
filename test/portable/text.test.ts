/**
 * The engine's byte conversions without Buffer: the same results as Node's Buffer for any
 * string (lone surrogates included) and any bytes.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { latin1Text, sameBytes, utf16leBytes, utf16leText } from "../../dist/runtime/engines/quickjs/bytes.js";
import { latin1Bytes } from "../../dist/runtime/portable/bytes.js";
import { utf8Length } from "../../dist/runtime/portable/utf8.js";

describe("portable text and bytes", () => {
  it("utf8Length equals Buffer.byteLength", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => {
      expect(utf8Length(text)).toBe(Buffer.byteLength(text));
    }), { numRuns: 500 });
    expect(utf8Length("\ud800")).toBe(3);
    expect(utf8Length("😀")).toBe(4);
  });

  it("latin1 and UTF-16LE round trips equal Buffer's", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20_000 }), (bytes) => {
        expect(latin1Text(bytes)).toBe(Buffer.from(bytes).toString("latin1"));
        expect(Buffer.from(latin1Bytes(latin1Text(bytes))).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 100 },
    );
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (text) => {
        expect(Buffer.from(utf16leBytes(text)).equals(Buffer.from(text, "utf16le"))).toBe(true);
        expect(utf16leText(utf16leBytes(text))).toBe(text.toWellFormed());
      }),
      { numRuns: 300 },
    );
  });

  it("sameBytes compares ranges, aligned or not", () => {
    const a = new Uint8Array(4096).map((_, i) => i & 0xff);
    const b = a.slice();
    expect(sameBytes(a, 0, b, 0, 4096)).toBe(true);
    b[4095] ^= 1;
    expect(sameBytes(a, 0, b, 0, 4096)).toBe(false);
    expect(sameBytes(a, 1, a.slice(1), 0, 4095)).toBe(true);
    expect(sameBytes(a, 0, b, 0, 5000)).toBe(false);
  });
});

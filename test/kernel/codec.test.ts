import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CodecError, Encoder, decode } from "../../dist/runtime/hosts/node/pool/codec.js";

const roundTrip = (value: unknown): unknown => decode(new Encoder().encode(value).slice());

describe("channel codec", () => {
  it("round-trips the values host calls carry", () => {
    const values: unknown[] = [
      undefined, null, true, false, 0, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 1.5, -0, NaN, Infinity,
      "", "ascii", "ünïcödé ✓ 😀", "x".repeat(5000), 0n, -(2n ** 63n), 2n ** 64n - 1n,
      new Uint8Array([0, 1, 255]), new Uint8Array(0), [], [1, [2, [3]]],
      { op: "log.write", args: ["info", "x", [["k", "v"]]] },
      { ok: { status: 200, headers: [["a", "b"]], body: new Uint8Array([1]) } },
      { err: { tag: "denied", val: { rule: "r", reason: "no" } } },
      new Date(5), new Map([[1, 2]]),
    ];
    for (const value of values) expect(roundTrip(value)).toEqual(value);
    expect(Object.is(roundTrip(-0), -0)).toBe(true);
  });

  it("keeps __proto__ as an own key, never as a prototype", () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    const back = roundTrip(value) as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(back, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("round-trips arbitrary plain data (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(roundTrip(value)).toEqual(value);
      }),
      { numRuns: 300 },
    );
  });

  it("refuses truncated, lying and malformed messages with a CodecError", () => {
    const good = new Encoder().encode({ op: "fs.read", args: ["/workspace/a"] }).slice();
    for (let cut = 0; cut < good.length; cut++) expect(() => decode(good.subarray(0, cut))).toThrow(CodecError);
    expect(() => decode(new Uint8Array([...good, 0]))).toThrow(/trailing/);
    expect(() => decode(new Uint8Array([9, 255, 255, 255, 255]))).toThrow(CodecError); // array of 4G elements
    expect(() => decode(new Uint8Array([7, 3, 0, 0, 0, 0x31, 0x78, 0x32]))).toThrow(/integer/);
    expect(() => decode(new Uint8Array([99]))).toThrow(/unknown tag/);
    const nested = (levels: number): Uint8Array => {
      const bytes = new Uint8Array(levels * 5 + 1); // [[[...undefined...]]]
      for (let i = 0; i < levels; i++) bytes.set([9, 1, 0, 0, 0], i * 5);
      return bytes;
    };
    expect(decode(nested(60))).toBeDefined();
    expect(() => decode(nested(70))).toThrow(/nests too deeply/);
  });

  it("refuses what is not data", () => {
    expect(() => new Encoder().encode({ f: () => 1 })).toThrow(CodecError);
    expect(() => new Encoder().encode(Symbol("s"))).toThrow(CodecError);
  });
});

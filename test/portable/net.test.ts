/**
 * The address guard without node:net: its parser reads textual IP addresses exactly as
 * `node:net`'s isIP does (every spelling it accepts, nothing it refuses), so the same hosts are
 * refused on an edge host as on Node.
 */
import { isIP } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseIp } from "../../dist/runtime/capabilities/net-guard.js";

const versionOf = (text: string): number => {
  const bytes = parseIp(text);
  return bytes === null ? 0 : bytes.length === 4 ? 4 : 6;
};
/** What the guard should say: isIP's version, except that a zone id is refused (parseIp's rule). */
const expected = (text: string): number => (isIP(text) === 6 && text.includes("%") ? 0 : isIP(text));

describe("the address guard's IP parser, without node:net", () => {
  it("agrees with isIP on addresses built from parts", () => {
    const part = fc.constantFrom("0", "1", "ff", "ffff", "FFFF", "fffff", "g1", "1.2.3.4", "255.255.255.255", "01.1.1.1", "256.0.0.1", "", "::");
    const text = fc.tuple(fc.array(fc.tuple(part, fc.constantFrom(":", ":", ":", ".")), { minLength: 1, maxLength: 10 }), fc.boolean()).map(
      ([pieces, zone]) => pieces.map(([p, sep], i) => (i < pieces.length - 1 ? p + sep : p)).join("") + (zone ? "%eth0" : ""),
    );
    fc.assert(
      fc.property(text, (t) => {
        expect(versionOf(t)).toBe(expected(t));
      }),
      { numRuns: 20_000 },
    );
  });

  it("agrees with isIP on random strings of address characters", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEF:.%"), maxLength: 24 }), (t) => {
        expect(versionOf(t)).toBe(expected(t));
      }),
      { numRuns: 20_000 },
    );
    for (const t of ["1.2.3.4::", "::1.2.3.4", "::ffff:127.0.0.1", "1:2:3:4:5:6:7::", "fe80::1%eth0", "01.2.3.4"]) expect(versionOf(t)).toBe(expected(t));
  });
});

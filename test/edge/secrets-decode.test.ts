/**
 * The Web decoder (secrets-web.ts, on DecompressionStream) beside Node's (secrets-node.ts, on
 * node:zlib): the same decoded bytes and headers for what both decode, the same errors for what
 * neither may pass on, and the cases only a Web host has (a body its fetch decoded already).
 * Run in Node, whose DecompressionStream is the Web API's.
 */
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodedForScrubbing } from "../../dist/runtime/hosts/node/net/secrets-node.js";
import { webContentDecoder } from "../../dist/runtime/capabilities/secrets-web.js";
import type { HttpResponse } from "../../dist/runtime/capabilities/types.js";
import { GuestError } from "../../dist/runtime/errors.js";

const CAP = 1 << 20;
const web = webContentDecoder();

function response(coding: string, body: Uint8Array): HttpResponse {
  return { status: 200, headers: [["content-type", "text/plain"], ["content-encoding", coding], ["content-length", String(body.length)]], body: new Uint8Array(body) };
}

/** The WIT error a decoder fails with (tag and text), or the response it gives. */
async function outcome(decode: () => HttpResponse | Promise<HttpResponse>): Promise<{ tag: string; val: unknown } | { headers: [string, string][]; body: string }> {
  try {
    const res = await decode();
    return { headers: res.headers, body: Buffer.from(res.body).toString("latin1") };
  } catch (error) {
    expect(error).toBeInstanceOf(GuestError);
    return (error as GuestError).error;
  }
}

const both = async (coding: string, body: Uint8Array, cap = CAP) => ({
  node: await outcome(() => decodedForScrubbing(response(coding, body), cap)),
  web: await outcome(() => web(response(coding, body), cap)),
});

describe("the Web content decoder, beside Node's", () => {
  it("decodes gzip, zlib deflate and raw deflate to the same bytes and headers", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 20_000 }), fc.constantFrom("gzip", "x-gzip", "deflate", "deflate-raw"), async (plain, kind) => {
        const encoded = kind === "deflate" ? deflateSync(plain) : kind === "deflate-raw" ? deflateRawSync(plain) : gzipSync(plain);
        const { node, web: got } = await both(kind === "deflate-raw" ? "deflate" : kind, encoded);
        expect(got).toEqual(node);
        expect(got).toMatchObject({ body: Buffer.from(plain).toString("latin1") });
        expect((got as { headers: [string, string][] }).headers).toEqual([["content-type", "text/plain"], ["content-length", String(plain.length)]]);
      }),
      { numRuns: 60 },
    );
  });

  it("refuses what neither may pass on: a bad checksum, a truncated stream, garbage, an unknown coding", async () => {
    const plain = Buffer.from("an echo: sk-Zq9/81+kd very-secret ".repeat(40));
    const gz = gzipSync(plain);
    const badCrc = Buffer.concat([gz.subarray(0, -8), Buffer.alloc(8)]);
    const cases: [string, Uint8Array][] = [
      ["gzip", badCrc],
      ["gzip", gz.subarray(0, gz.length - 20)],
      ["deflate", deflateSync(plain).subarray(0, 30)],
      ["deflate", Buffer.from("not deflate at all, but text the platform may have decoded")],
      ["compress", plain],
      ["constructor", plain],
      ["gzip, br", gz],
    ];
    for (const [coding, body] of cases) {
      const { node, web: got } = await both(coding, body);
      expect(got, `${coding} ${body.length}`).toEqual(node);
      expect((got as { tag: string }).tag).toBe("io");
    }
  });

  it("stops at the cap (a bomb is not decoded past it) with the same limit error", async () => {
    const bomb = gzipSync(Buffer.alloc(64 << 20));
    expect(bomb.length).toBeLessThan(100_000);
    const started = performance.now();
    const { node, web: got } = await both("gzip", bomb, 1 << 20);
    expect(got).toEqual(node);
    expect(got).toEqual({ tag: "limit", val: `response body exceeds the limit of ${1 << 20} bytes once decoded` });
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(await outcome(() => web(response("deflate", deflateSync(Buffer.alloc(4 << 20))), 1 << 20))).toMatchObject({ tag: "limit" });
  });

  it("takes a body the platform's fetch decoded already: gzip without gzip's magic, and a coding the host lists", async () => {
    const plain = Buffer.from("already decoded by the platform: sk-secret");
    const expected = { headers: [["content-type", "text/plain"], ["content-length", String(plain.length)]], body: plain.toString("latin1") };
    expect(await outcome(() => web(response("gzip", plain), CAP))).toEqual(expected);
    // A coding it cannot tell decoded from not, and cannot decode: refused unless the host lists it.
    expect(await outcome(() => web(response("br", plain), CAP))).toMatchObject({ tag: "io", val: expect.stringMatching(/cannot decode to scrub it/) });
    expect(await outcome(() => web(response("br", brotliCompressSync(plain)), CAP))).toMatchObject({ tag: "io" });
    const page = webContentDecoder({ decodedByFetch: ["gzip", "deflate", "BR"] });
    expect(await outcome(() => page(response("br", plain), CAP))).toEqual(expected);
    expect(await outcome(() => page(response("deflate", plain), CAP))).toEqual(expected);
    // gzip still encoded is decoded whatever the list says (a platform that did not, or gzip in gzip).
    expect(await outcome(() => page(response("gzip", gzipSync(plain)), CAP))).toEqual(expected);
  });

  it("leaves a response without a content coding as it is", async () => {
    const res: HttpResponse = { status: 200, headers: [["content-encoding", " Identity "]], body: new Uint8Array([1, 2]) };
    expect(await web(res, CAP)).toBe(res);
    const none: HttpResponse = { status: 204, headers: [], body: new Uint8Array(0) };
    expect(await web(none, CAP)).toBe(none);
    expect(decodedForScrubbing(none, CAP)).toBe(none);
  });
});

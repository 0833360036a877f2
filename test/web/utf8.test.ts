/**
 * TextEncoder and TextDecoder on QuickJS go through the engine's own UTF-8 converter (not a
 * kernel call: no call reaches the gate), with the Encoding standard's results: an unpaired
 * surrogate encodes as U+FFFD, a malformed sequence decodes as U+FFFD (or throws with `fatal`),
 * a sequence cut between two streamed chunks waits for the next, a BOM is dropped unless
 * `ignoreBOM`. The expected values are Node's own TextEncoder/TextDecoder on the same input.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelSpace } from "../../dist/runtime/index.js";
import { moduleAgent, policyWith } from "../kernel/helpers.js";

let kernel: KernelSpace;
beforeAll(() => {
  kernel = new KernelSpace({ policy: policyWith([]), log: false, pool: { warm: 1 } });
});
afterAll(async () => {
  await kernel?.close();
});

async function inGuest(body: string): Promise<unknown> {
  const result = await kernel.execute(moduleAgent(`utf8-${body.length}-${body.slice(0, 12)}`, `export function run() { ${body} }`), "");
  expect(result.status, result.error).toBe("ok");
  expect(result.usage.hostCalls).toBe(0);
  return JSON.parse(result.output!);
}

const SAMPLES = ["", "plain ascii", "é ü ß", "€ 中文", "😀 emoji 🎉", "a\u0000b", "lone \ud800 high", "lone \udc00 low", "\ud83d", "x".repeat(70_000) + "é"];

describe("UTF-8 on QuickJS", () => {
  it("encodes as Node's TextEncoder does, unpaired surrogates included", async () => {
    const out = (await inGuest(`return JSON.stringify(${JSON.stringify(SAMPLES)}.map((s) => Array.from(new TextEncoder().encode(s)).join(",")));`)) as string[];
    expect(out).toEqual(SAMPLES.map((s) => Array.from(new TextEncoder().encode(s)).join(",")));
  });

  const BYTES = [[0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf0, 0x9f, 0x98, 0x80], [0xef, 0xbb, 0xbf, 0x61], [0x61, 0x80, 0x62], [0xf4, 0x90, 0x80, 0x80], [0xe0, 0x80, 0xaf]];

  it("decodes as Node's TextDecoder does: replacement characters, fatal, the BOM", async () => {
    const out = (await inGuest(`
      const cases = ${JSON.stringify(BYTES)};
      const fatal = (b) => { try { return new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(b)); } catch (e) { return e.name; } };
      return JSON.stringify(cases.map((b) => [new TextDecoder().decode(new Uint8Array(b)), fatal(b), new TextDecoder("utf-8", { ignoreBOM: true }).decode(new Uint8Array(b))]));`)) as string[][];
    const fatal = (b: number[]) => {
      try {
        return new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(b));
      } catch (e) {
        return (e as Error).name;
      }
    };
    expect(out).toEqual(BYTES.map((b) => [new TextDecoder().decode(new Uint8Array(b)), fatal(b), new TextDecoder("utf-8", { ignoreBOM: true }).decode(new Uint8Array(b))]));
  });

  it("streams: a character cut anywhere between chunks comes out whole, and a view into a larger buffer decodes only its bytes", async () => {
    const text = "a😀b€c" + "é".repeat(5);
    const bytes = Array.from(new TextEncoder().encode(text));
    const out = (await inGuest(`
      const bytes = new Uint8Array(${JSON.stringify(bytes)});
      const results = [];
      for (let cut = 0; cut <= bytes.length; cut++) {
        for (let cut2 = cut; cut2 <= bytes.length; cut2 += 3) {
          const d = new TextDecoder();
          results.push(d.decode(bytes.subarray(0, cut), { stream: true }) + d.decode(bytes.subarray(cut, cut2), { stream: true }) + d.decode(bytes.subarray(cut2)));
        }
      }
      const padded = new Uint8Array(bytes.length + 4); padded.set(bytes, 2);
      const view = new TextDecoder().decode(new Uint8Array(padded.buffer, 2, bytes.length));
      const cutAtEnd = new TextDecoder().decode(bytes.subarray(0, 2));
      return JSON.stringify({ all: results.every((r) => r === ${JSON.stringify(text)}), count: results.length, view, cutAtEnd });`)) as { all: boolean; count: number; view: string; cutAtEnd: string };
    expect(out.all).toBe(true);
    expect(out.count).toBeGreaterThan(bytes.length);
    expect(out.view).toBe(text);
    expect(out.cutAtEnd).toBe(new TextDecoder().decode(new Uint8Array(bytes.slice(0, 2))));
  });

  it("a megabyte goes through whole", async () => {
    const out = (await inGuest(`
      const s = "ab€😀".repeat(150000);
      const bytes = new TextEncoder().encode(s);
      return JSON.stringify({ bytes: bytes.length, same: new TextDecoder().decode(bytes) === s });`)) as { bytes: number; same: boolean };
    expect(out).toEqual({ bytes: Buffer.byteLength("ab€😀".repeat(150000)), same: true });
  });
});

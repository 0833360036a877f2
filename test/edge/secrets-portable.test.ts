/**
 * Scrubbing is portable (secrets.ts, on plain Uint8Arrays) and must give what Node's Buffer
 * implementation gave (secrets-reference.ts), byte for byte: on random bodies made of random
 * bytes, text, and the echo forms of random values, for random formats (brackets too, which the
 * masks hold) and one or two secrets. Checked twice: the module as Node loads it, and the same
 * module bundled for the browser and run where there is no Buffer at all, as on an edge host.
 */
import { createContext, runInContext } from "node:vm";
import * as esbuild from "esbuild";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import * as nodeLoaded from "../../dist/runtime/capabilities/secrets.js";
import * as nodeErrors from "../../dist/runtime/errors.js";
import type { SecretSpec } from "../../dist/runtime/types.js";
import { ReferenceScrubber, referenceEchoForms } from "./secrets-reference.js";

type Module = Pick<typeof nodeLoaded, "CallSecrets" | "echoForms"> & Pick<typeof nodeErrors, "GuestError" | "guestErrors">;

const dist = (path: string) => new URL(`../../dist/runtime/${path}`, import.meta.url).pathname;

/** The modules bundled for the browser and run in a context that has no Buffer (nor process). */
async function withoutBuffer(): Promise<Module> {
  const contents = `export { CallSecrets, echoForms } from ${JSON.stringify(dist("capabilities/secrets.js"))};
export { GuestError, guestErrors } from ${JSON.stringify(dist("errors.js"))};`;
  const built = await esbuild.build({ stdin: { contents, resolveDir: dist("") }, bundle: true, platform: "browser", format: "iife", globalName: "portable", write: false, logLevel: "error" });
  const context = createContext({ TextEncoder, TextDecoder, URLSearchParams });
  runInContext(built.outputFiles[0].text, context);
  expect(runInContext("typeof Buffer + typeof process", context)).toBe("undefinedundefined");
  return context.portable as Module;
}

const NAMES = ["api", "k", "x-y"];
const value = fc.oneof(
  fc.string({ minLength: 1, maxLength: 40 }),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }),
  fc.string({ unit: "binary", minLength: 1, maxLength: 12 }), // lone surrogates too
  fc.constantFrom('sk-Zq9/81+kd"x=very-secret-7f3a', "secret", "ecret:api", "api]", "[secret", "a b+c/d?e=f&g", "é€😀 x"),
);
const format = fc.constantFrom("{value}", "Bearer {value}", "token={value}&x", "[{value}]", "{value}]");

/** One or two secrets with their values, and a body built around their echoes. */
const scenario = fc
  .tuple(fc.array(fc.tuple(value, format), { minLength: 1, maxLength: 2 }))
  .chain(([secrets]) => {
    const specs: SecretSpec[] = secrets.map(([, f], i) => ({ name: NAMES[i], env: `V${i}`, origins: ["https://a.example"], header: `X-K${i}`, format: f }));
    const values = Object.fromEntries(secrets.map(([v], i) => [`V${i}`, v]));
    const forms = secrets.flatMap(([v, f], i) => [...referenceEchoForms(v), ...referenceEchoForms(f.split("{value}").join(v)), `[secret:${NAMES[i]}]`]);
    const segment = fc.oneof(
      fc.uint8Array({ maxLength: 24 }),
      fc.string({ maxLength: 24 }).map((s) => new TextEncoder().encode(s)),
      fc.constantFrom(...forms).map((s) => new Uint8Array(Buffer.from(s))),
      fc.tuple(fc.constantFrom(...forms), fc.nat()).map(([s, n]) => new Uint8Array(Buffer.from(s).subarray(0, n % (s.length + 1)))),
    );
    const body = fc.array(segment, { maxLength: 12 }).map((parts) => new Uint8Array(Buffer.concat(parts)));
    return fc.record({ specs: fc.constant(specs), values: fc.constant(values), body, header: fc.array(segment, { maxLength: 4 }) });
  });

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("latin1");
}

function checkSame(m: Module, s: { specs: SecretSpec[]; values: Record<string, string>; body: Uint8Array; header: Uint8Array[] }): void {
  const reference = new ReferenceScrubber(s.specs, s.values);
  const secrets = new m.CallSecrets(s.specs, (name) => s.values[name]);
  const headerText = latin1(Buffer.concat(s.header));
  const res = secrets.scrubResponse({ status: 200, headers: [["x-echo", headerText], [headerText.toLowerCase() || "x", "v"], ["content-length", String(s.body.length)]], body: s.body });
  const expected = reference.body(s.body);
  expect(Buffer.from(res.body).equals(Buffer.from(expected))).toBe(true);
  const changed = !Buffer.from(expected).equals(Buffer.from(s.body));
  // (names are scrubbed too: a short value is found in them)
  const scrubbed = (k: string, v: string) => [reference.latin1(k), reference.latin1(v)];
  expect(res.headers).toEqual([
    scrubbed("x-echo", headerText),
    scrubbed(headerText.toLowerCase() || "x", "v"),
    [reference.latin1("content-length"), changed ? String(expected.length) : reference.latin1(String(s.body.length))],
  ]);
  const text = Buffer.from(s.body).toString("utf8");
  const error = secrets.scrubError(m.guestErrors.io(text));
  expect(error.error).toEqual({ tag: "io", val: reference.utf8(text) });
  const denied = secrets.scrubError(m.guestErrors.denied("r", text));
  expect(denied.error).toEqual({ tag: "denied", val: { rule: "r", reason: reference.utf8(text) } });
  expect(secrets.reveals(text)).toBe(reference.reveals(text));
  expect(secrets.reveals(headerText)).toBe(reference.reveals(headerText));
}

const hosts: [string, () => Module | Promise<Module>][] = [
  ["as Node loads it (bytes on Buffer's methods)", () => ({ ...nodeLoaded, ...nodeErrors })],
  ["bundled for the browser, run without Buffer", withoutBuffer],
];

describe.each(hosts)("portable scrubbing, %s", (_name, load) => {
  let m: Module;
  beforeAll(async () => {
    m = await load();
  });

  it("gives the same echo forms as Buffer did", () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(m.echoForms(v)).toEqual(referenceEchoForms(v));
      }),
      { numRuns: 300 },
    );
  });

  it("scrubs bodies, headers and errors to the same bytes as Buffer did", () => {
    fc.assert(fc.property(scenario, (s) => checkSame(m, s)), { numRuns: 400 });
  });

  it("scrubs a large body with echoes at its edges and inside, as Buffer did", () => {
    const spec: SecretSpec = { name: "api", env: "V", origins: ["https://a.example"], header: "Authorization", format: "Bearer {value}" };
    const v = 'sk-Zq9/81+kd"x=very-secret-7f3a';
    const filler = Buffer.alloc(1 << 20, "The quick brown fox jumps over the lazy dog. ");
    const body = new Uint8Array(Buffer.concat([Buffer.from(`Bearer ${v}`), filler, Buffer.from(Buffer.from(v).toString("base64")), filler, Buffer.from(encodeURIComponent(v))]));
    const got = new m.CallSecrets([spec], () => v).scrubResponse({ status: 200, headers: [], body }).body;
    expect(Buffer.from(got).equals(Buffer.from(new ReferenceScrubber([spec], { V: v }).body(body)))).toBe(true);
    expect(Buffer.from(got).toString("latin1").match(/\[secret:api\]/g)).toHaveLength(3);
  });
});

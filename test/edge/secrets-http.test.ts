/**
 * Secrets in the edge http capability (createEdgeHttp), run in Node against two servers on
 * 127.0.0.1: hop by hop as on Node, and the response decoded for scrubbing through two kinds of
 * platform fetch: one that hands over the bytes as sent (a Node http request), and one that
 * decodes them itself, as Web platforms do (Node's own fetch). And EdgeKernel checks what Node's
 * kernel checks of secrets. workerd.test.ts and chromium.test.ts run the same in those hosts.
 */
import { readFileSync } from "node:fs";
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { EdgeKernel, UsageError, compilePolicy, createEdgeHttp, type FetchFunction } from "../../dist/runtime/edge/index.js";
import { webContentDecoder } from "../../dist/runtime/capabilities/secrets-web.js";
import type { HttpRequest, HttpResponse } from "../../dist/runtime/capabilities/types.js";
import { GuestError } from "../../dist/runtime/errors.js";
import { DEFAULT_LIMITS, type SecretSpec } from "../../dist/runtime/types.js";

const VALUE = 'sk-Zq9/81+kd"x=very-secret-7f3a';
const MASK = "[secret:api]";

interface Stand {
  server: Server;
  origin: string;
  seen: { url: string; authorization: string | undefined }[];
}

function answer(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://x");
  const auth = String(req.headers.authorization ?? "");
  if (url.pathname === "/redirect") return void res.writeHead(302, { location: url.searchParams.get("to") ?? "/" }).end();
  if (url.pathname === "/leak") return void res.writeHead(302, { location: `/landed?t=${encodeURIComponent(auth)}` }).end();
  const text = `you sent: ${auth}; json: ${JSON.stringify({ auth })}`;
  const enc = url.searchParams.get("enc");
  const encoders: Record<string, (b: Buffer) => Buffer> = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync };
  if (enc && encoders[enc]) return void res.writeHead(200, { "content-encoding": enc }).end(encoders[enc](Buffer.from(text)));
  res.writeHead(200, { "x-echo": auth }).end(text);
}

async function stand(): Promise<Stand> {
  const seen: Stand["seen"] = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? "", authorization: req.headers.authorization });
    answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, seen, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A platform fetch that hands over the body as it was sent (no content decoding). */
const bytesAsSent: FetchFunction = (url, init) =>
  new Promise((resolve, reject) => {
    const req = request(url, { method: init.method, headers: Object.fromEntries(init.headers), signal: init.signal }, (res) => {
      const headers = new Headers(Object.entries(res.headers).map(([k, v]) => [k, String(v)]));
      resolve({ status: res.statusCode ?? 0, headers, body: Readable.toWeb(res) as unknown as ReadableStream<Uint8Array> });
    });
    req.on("error", reject);
    req.end(init.body);
  });

/** Node's own fetch decodes gzip, deflate and br itself, as a Web platform's does. */
const decodingFetch = globalThis.fetch as unknown as FetchFunction;

let api: Stand;
let other: Stand;
const env: Record<string, string | undefined> = {};
const allow = async () => true;

function http(platform: FetchFunction, decodedByFetch?: string[]) {
  const spec: SecretSpec = { name: "api", env: "API_TOKEN", origins: [api.origin], header: "Authorization", format: "Bearer {value}" };
  const quota = { limits: { ...DEFAULT_LIMITS }, fsBytesWritten: 0, fsFilesCreated: 0 };
  return createEdgeHttp({ fetch: platform, allowPrivate: ["127.0.0.1"], quota, secrets: [spec], env: (name) => env[name], decode: webContentDecoder({ decodedByFetch }) });
}

async function call(platform: FetchFunction, url: string, headers: [string, string][] = [], decodedByFetch?: string[]): Promise<HttpResponse | GuestError> {
  const req: HttpRequest = { method: "GET", url, headers };
  return http(platform, decodedByFetch).fetch(req, allow).catch((e: unknown) => e as GuestError);
}

const text = (r: HttpResponse | GuestError) => (r instanceof GuestError ? JSON.stringify(r.error) : Buffer.from(r.body).toString("latin1") + JSON.stringify(r.headers));

beforeAll(async () => {
  api = await stand();
  other = await stand();
});

afterAll(async () => {
  for (const s of [api, other]) await new Promise((r) => s.server.close(r));
});

beforeEach(() => {
  env.API_TOKEN = VALUE;
  api.seen.length = 0;
  other.seen.length = 0;
});

describe("secrets in the edge http capability", () => {
  it("sets the header on the secret's origin only, in place of the agent's, and scrubs the echo", async () => {
    const res = (await call(bytesAsSent, `${api.origin}/echo`, [["authorization", "Bearer mine"], ["accept-encoding", "gzip"]])) as HttpResponse;
    expect(api.seen).toEqual([{ url: "/echo", authorization: `Bearer ${VALUE}` }]);
    expect(Buffer.from(res.body).toString()).toBe(`you sent: ${MASK}; json: {"auth":"${MASK}"}`);
    expect(res.headers).toContainEqual(["x-echo", MASK]);
    expect(res.secrets).toEqual(["api"]);
    const elsewhere = (await call(bytesAsSent, `${other.origin}/echo`, [["authorization", "Bearer mine"]])) as HttpResponse;
    expect(other.seen).toEqual([{ url: "/echo", authorization: "Bearer mine" }]);
    expect(elsewhere.secrets).toBeUndefined();
  });

  it("decides hop by hop: not carried to another origin, carried back onto its own; a location holding it is not followed", async () => {
    const back = encodeURIComponent(`${api.origin}/landed`);
    await call(bytesAsSent, `${api.origin}/redirect?to=${encodeURIComponent(`${other.origin}/redirect?to=${back}`)}`);
    expect(api.seen.map((s) => s.authorization)).toEqual([`Bearer ${VALUE}`, `Bearer ${VALUE}`]);
    expect(other.seen).toEqual([{ url: expect.stringMatching(/^\/redirect/), authorization: undefined }]);
    api.seen.length = 0;
    const leak = await call(bytesAsSent, `${api.origin}/leak`);
    expect(leak).toBeInstanceOf(GuestError);
    expect((leak as GuestError).error).toMatchObject({ tag: "denied", val: { reason: expect.stringMatching(/its location holds a secret/) } });
    expect((leak as GuestError & { secrets?: string[] }).secrets).toEqual(["api"]);
    expect(api.seen.map((s) => s.url)).toEqual(["/leak"]);
  });

  it("a variable that is not set fails the call with io naming it, and nothing is sent", async () => {
    delete env.API_TOKEN;
    const res = await call(bytesAsSent, `${api.origin}/echo`);
    expect((res as GuestError).error).toEqual({ tag: "io", val: expect.stringMatching(/API_TOKEN is not set \(nothing was sent\)/) });
    expect(api.seen).toEqual([]);
  });

  it.each([
    ["bytes as sent", bytesAsSent, "gzip"],
    ["bytes as sent", bytesAsSent, "deflate"],
    ["decoded by the platform", decodingFetch, "gzip"],
  ])("scrubs a compressed echo (%s, %s)", async (_kind, platform, enc) => {
    const res = (await call(platform, `${api.origin}/echo?enc=${enc}`)) as HttpResponse;
    expect(Buffer.from(res.body).toString()).toBe(`you sent: ${MASK}; json: {"auth":"${MASK}"}`);
    expect(res.headers.find(([k]) => k === "content-encoding")).toBeUndefined();
  });

  it("refuses what it cannot decode or tell decoded, unless the host lists the coding as its fetch's", async () => {
    for (const [platform, enc] of [[bytesAsSent, "br"], [decodingFetch, "br"], [decodingFetch, "deflate"]] as const) {
      const res = await call(platform, `${api.origin}/echo?enc=${enc}`);
      expect((res as GuestError).error, enc).toMatchObject({ tag: "io" });
      expect(text(res)).not.toContain("very-secret");
    }
    for (const enc of ["br", "deflate"]) {
      const res = (await call(decodingFetch, `${api.origin}/echo?enc=${enc}`, [], ["deflate", "br"])) as HttpResponse;
      expect(Buffer.from(res.body).toString(), enc).toBe(`you sent: ${MASK}; json: {"auth":"${MASK}"}`);
    }
  });
});

describe("EdgeKernel: what Node's kernel checks of secrets", () => {
  const engine = new WebAssembly.Module(readFileSync(new URL("../../runtime/engines/quickjs-async/engine.wasm", import.meta.url)));
  const secret = (name: string, env: string) => `secrets:\n  - name: ${name}\n    env: ${env}\n    origins: ["https://api.example.com"]\n    header: Authorization\n`;

  it("refuses two secrets that set one header on one origin across extends", () => {
    const policy = compilePolicy(`extends: [./parent.yaml]\n${secret("child", "CHILD_TOKEN")}`, { readPolicy: () => `version: 1\nname: parent\n${secret("parent", "PARENT_TOKEN")}` });
    expect(() => new EdgeKernel({ engine, policy })).toThrow(UsageError);
    expect(() => new EdgeKernel({ engine, policy })).toThrow(/secrets "parent" and "child" both set Authorization on https:\/\/api\.example\.com/);
  });

  it("refuses an env or decodedByFetch of the wrong kind", () => {
    expect(() => new EdgeKernel({ engine, policy: "version: 1\n", env: "API_TOKEN" as never })).toThrow(/env must be a function/);
    expect(() => new EdgeKernel({ engine, policy: "version: 1\n", decodedByFetch: "gzip" as never })).toThrow(/decodedByFetch must be a list/);
  });
});

/**
 * What secrets cost an http.fetch: the http capability called directly (no channel, no gate)
 * against a server on 127.0.0.1 that echoes the request's headers in a 16 KiB JSON body, with a
 * secret injected and the answer scrubbed, beside the same capability with no secret configured
 * sending the same headers itself (the baseline, measured in the same round, call by call in
 * turn: a request with an Authorization header costs more on loopback whoever sets it). And the scrub alone over a 1 MiB body, beside one
 * `Buffer.indexOf` over the same bytes (the least any search costs).
 *
 * On a shared machine the loopback round trip's noise is larger than what a secret adds to it, so
 * the same work is also measured in this thread: setting the header and scrubbing a 16 KiB echo.
 *
 * Every figure is the median over ROUNDS rounds of the mean per call over CALLS calls.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createHttp } from "../runtime/hosts/node/net/http.js";
import { CallSecrets, type EchoFormCache } from "../runtime/capabilities/secrets.js";
import type { HopAuthorizer } from "../runtime/capabilities/types.js";
import { DEFAULT_LIMITS, type SecretSpec } from "../runtime/types.js";
import { median, type BenchRow, type BenchSuite } from "./harness.js";

const CALLS = 300;
const ROUNDS = 5;
const VALUE = "bench-secret-0123456789abcdef/+=";
const allow: HopAuthorizer = async () => true;

async function meanUs(count: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await fn();
  return ((performance.now() - t0) * 1000) / count;
}

async function fetchRows(): Promise<BenchRow[]> {
  const padding = "x".repeat(16 * 1024);
  const server = createServer((req, res) => res.end(JSON.stringify({ headers: req.headers, padding })));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.AOS_BENCH_SECRET = VALUE;
  const spec: SecretSpec = { name: "bench", env: "AOS_BENCH_SECRET", origins: [origin], header: "Authorization", format: "Bearer {value}" };
  const quota = () => ({ limits: { ...DEFAULT_LIMITS }, fsBytesWritten: 0, fsFilesCreated: 0 });
  const plain = createHttp({ allowPrivate: ["127.0.0.1"], quota: quota() });
  const secret = createHttp({ allowPrivate: ["127.0.0.1"], quota: quota(), secrets: [spec] });
  const request = { method: "GET", url: `${origin}/echo`, headers: [] as [string, string][] };
  const same = { ...request, headers: [["Authorization", `Bearer ${VALUE}`], ["accept-encoding", "identity"]] as [string, string][] };
  const check = await secret.fetch(request, allow);
  if (!Buffer.from(check.body).toString().includes("[secret:bench]")) throw new Error("bench: the echo was not scrubbed");
  const base: number[] = [];
  const withSecret: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // Call by call, one of each in turn, so that the machine's noise falls on both alike.
      let plainUs = 0;
      let secretUs = 0;
      for (let i = 0; i < CALLS; i++) {
        plainUs += await meanUs(1, () => plain.fetch(same, allow));
        secretUs += await meanUs(1, () => secret.fetch(request, allow));
      }
      base.push(plainUs / CALLS);
      withSecret.push(secretUs / CALLS);
    }
  } finally {
    delete process.env.AOS_BENCH_SECRET;
    await new Promise((r) => server.close(r));
  }
  const b = median(base);
  const s = median(withSecret);
  return [{ name: "http.fetch, secret injected, 16 KiB echo scrubbed", value: s, unit: "µs", better: "lower", baseline: { name: "http.fetch, the same headers set by the caller", value: b } }];
}

/** What the capability does for a secret, in this thread: set the header, scrub the answer. */
async function inProcessRows(): Promise<BenchRow[]> {
  process.env.AOS_BENCH_SECRET = VALUE;
  const spec: SecretSpec = { name: "bench", env: "AOS_BENCH_SECRET", origins: ["https://a.example"], header: "Authorization", format: "Bearer {value}" };
  const echo = Buffer.from(JSON.stringify({ headers: { authorization: `Bearer ${VALUE}` }, padding: "x".repeat(16 * 1024) }));
  const echoed = { status: 200, headers: [["content-type", "application/json"], ["content-length", String(echo.byteLength)]] as [string, string][], body: new Uint8Array(echo) };
  const cache: EchoFormCache = new Map();
  const calls: number[] = [];
  const copies: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      copies.push(await meanUs(2000, () => Buffer.from(echo)));
      calls.push(
        await meanUs(2000, () => {
          const secrets = new CallSecrets([spec], (n) => process.env[n], cache);
          secrets.headersFor("https://a.example", []);
          return secrets.scrubResponse(echoed);
        }),
      );
    }
  } finally {
    delete process.env.AOS_BENCH_SECRET;
  }
  return [{ name: "inject + scrub a 16 KiB echo (in process)", value: median(calls), unit: "µs", better: "lower", baseline: { name: "copy the 16 KiB body", value: median(copies) } }];
}

async function scrubRows(): Promise<BenchRow[]> {
  process.env.AOS_BENCH_SECRET = VALUE;
  const spec: SecretSpec = { name: "bench", env: "AOS_BENCH_SECRET", origins: ["https://a.example"], header: "Authorization", format: "Bearer {value}" };
  const body = new Uint8Array(Buffer.from("y".repeat(1024 * 1024)));
  const needle = Buffer.from(VALUE);
  const response = { status: 200, headers: [["content-type", "text/plain"]] as [string, string][], body };
  const scrubs: number[] = [];
  const searches: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      searches.push(await meanUs(20, () => Buffer.from(body.buffer).indexOf(needle)));
      scrubs.push(await meanUs(20, () => new CallSecrets([spec], (n) => process.env[n]).scrubResponse(response)));
    }
  } finally {
    delete process.env.AOS_BENCH_SECRET;
  }
  return [{ name: "scrub a 1 MiB body (every echo form)", value: median(scrubs), unit: "µs", better: "lower", baseline: { name: "one Buffer.indexOf over it", value: median(searches) } }];
}

export const secretsBench: BenchSuite = {
  title: "Secrets: injection and scrubbing",
  run: async () => [...(await fetchRows()), ...(await inProcessRows()), ...(await scrubRows())],
};

/**
 * The log on a real Durable Object's storage, in workerd through miniflare: a Worker bundled
 * from kv-durable-object-worker.js, whose object opens a new log on its storage for every
 * request (as after an eviction). One request appends, the next goes on with the chain and
 * verifies it all; and the log survives miniflare's restart on persisted storage. Run on
 * KV-backed and on SQLite-backed objects. Local workerd does not enforce Cloudflare's limits
 * (128 keys a put, 128 KiB a value; the memory store does, see kv-backend.test.ts): the object
 * measures every put the log makes instead.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as esbuild from "esbuild";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../dist/runtime/portable/sha256.js";

const WORKER = new URL("./kv-durable-object-worker.js", import.meta.url);
const KiB = 1024;

let script: string;
let persist: string;
let mf: Miniflare | undefined;

function start(): Miniflare {
  return new Miniflare({
    modules: [{ type: "ESModule", path: "worker.mjs", contents: script }],
    compatibilityDate: "2025-01-01",
    durableObjects: { LOG: "LogObject", SQL_LOG: { className: "SqlLogObject", useSQLite: true } },
    durableObjectsPersist: persist,
  });
}

async function call(query: string): Promise<Record<string, any>> {
  const res = await mf!.dispatchFetch(`http://worker/log?${query}`);
  const body = (await res.json()) as Record<string, any>;
  expect(body.thrown).toBeUndefined();
  expect(res.status).toBe(200);
  return body;
}

beforeAll(async () => {
  const bundle = await esbuild.build({ entryPoints: [WORKER.pathname], bundle: true, platform: "browser", format: "esm", write: false, logLevel: "error" });
  script = bundle.outputFiles[0].text;
  persist = await mkdtemp(path.join(os.tmpdir(), "agent-os-do-"));
  mf = start();
}, 60_000);

afterAll(async () => {
  await mf?.dispose();
  await rm(persist, { recursive: true, force: true });
});

const blob = Uint8Array.from({ length: 300 * KiB }, (_, i) => (i * 7) % 256);

describe.each([
  ["KV-backed", "0"],
  ["SQLite-backed", "1"],
])("the log on a %s Durable Object's storage", (_kind, sql) => {
  const at = (query: string) => call(`sql=${sql}&name=log-${sql}&${query}`);

  it("appends 1000 events in one put and a blob of 300 KiB; a second request goes on with the chain and verifies it all", async () => {
    const first = await at("n=1000&run=run-a&size=400&blob=" + blob.length);
    expect(first).toMatchObject({ before: 0, head: { seq: 1000 }, blobHash: sha256Hex(blob) });
    // (one put for the batch of events, one for the blob's: it came in a batch of its own)
    expect(first.puts).toBe(2);
    expect(first.keys).toBeLessThanOrEqual(128);
    expect(first.bytes).toBeLessThanOrEqual(128 * KiB);
    const second = await at(`n=10&run=run-b&verify=1&runs=run-a,run-b,none&getBlob=${sha256Hex(blob)}`);
    expect(second).toMatchObject({ before: 1000, head: { seq: 1010 }, puts: 1 });
    expect(second.report).toEqual({ ok: true, count: 1010, head: second.head.hash });
    expect(second.runs["run-a"]).toHaveLength(1000);
    expect(second.runs["run-b"]).toEqual(Array.from({ length: 10 }, (_, i) => 1001 + i));
    expect(second.runs.none).toEqual([]);
    expect(second.blob).toEqual({ length: blob.length, same: true });
    expect(second.newest).toEqual([1010, 1009, 1008]);
  }, 60_000);

  it("writes a batch too large for one put (150 events of 70 KiB) in several puts, each within the limits", async () => {
    const before = await at("verify=1");
    const big = await at("n=150&run=run-big&size=" + 70 * KiB);
    expect(big.head.seq).toBe(before.head.seq + 150);
    expect(big.puts).toBeGreaterThan(1);
    expect(big.keys).toBeLessThanOrEqual(128);
    expect(big.bytes).toBeLessThanOrEqual(128 * KiB);
    const after = await at("verify=1&runs=run-big");
    expect(after.report).toMatchObject({ ok: true, count: big.head.seq });
    expect(after.runs["run-big"]).toHaveLength(150);
  }, 120_000);

  it("survives a restart of the host on its persisted storage", async () => {
    const before = await at("verify=1");
    await mf!.dispose();
    mf = start();
    const after = await at(`n=1&run=run-c&verify=1&getBlob=${sha256Hex(blob)}`);
    expect(after.before).toBe(before.head.seq);
    expect(after.report).toEqual({ ok: true, count: before.head.seq + 1, head: after.head.hash });
    expect(after.blob).toEqual({ length: blob.length, same: true });
  }, 60_000);
});

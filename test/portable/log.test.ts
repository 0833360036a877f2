/**
 * The log's core on Web-standard APIs only. Its modules bundle for the browser with no `node:`
 * import, and the bundle runs in a context that has only Web globals (no `Buffer`, no `process`):
 * there it chains, stores, reads back and verifies events of every kind the encoder handles, with
 * the hashes and stored records that the Node build makes for the same events at the same times,
 * and it verifies records the Node build wrote. The byte helpers behind it give Node's bytes.
 */
import { webcrypto } from "node:crypto";
import vm from "node:vm";
import * as esbuild from "esbuild";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import * as nodeCore from "../../dist/runtime/episodic/core.js";
import { bytesNative, nodeBytes, portableBytes } from "../../dist/runtime/portable/bytes.js";

const DIST = new URL("../../dist/runtime/episodic/", import.meta.url).pathname;
const ENTRIES = ["log.js", "memory.js", "verify.js", "core.js"];

async function bundle(entry: string, format: "esm" | "iife"): Promise<{ code: string; nodeImports: string[] }> {
  const result = await esbuild.build({
    entryPoints: [DIST + entry],
    bundle: true,
    platform: "browser",
    format,
    globalName: "AgentLog",
    write: false,
    metafile: true,
    logLevel: "silent",
    external: ["node:*"],
  });
  const nodeImports = Object.entries(result.metafile.inputs).flatMap(([file, input]) =>
    input.imports.filter((i) => i.path.startsWith("node:")).map((i) => `${file} -> ${i.path}`),
  );
  return { code: result.outputFiles[0].text, nodeImports };
}

/** A context with only Web globals: what a browser or workerd (without nodejs_compat) offers. */
function webContext(): vm.Context {
  return vm.createContext({ TextEncoder, TextDecoder, URL, crypto: webcrypto, console, queueMicrotask, setTimeout });
}

/**
 * The events, as source text run in both realms: strings with non-ASCII and lone surrogates
 * (short and long), bigints, bytes (small and larger than the writer's arena), nested and deep
 * objects, numbers that are not safe integers, tags' look-alikes, `__proto__`, `undefined`;
 * appended, staged and appended many at once, at fractional times that once go backwards.
 */
const SCENARIO = String.raw`async (api) => {
  const times = [1700000000000.5, 1700000000001.25, 1700000000000, 9007199254740993, 9007199254740994.5];
  let tick = 0;
  const now = () => times[Math.min(tick++, times.length - 1)];
  const backend = api.createMemoryBackend();
  const log = await api.createChainLog(backend, { now });
  const big = new Uint8Array(1500000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 131 + (i >> 9)) & 255;
  let deep = { leaf: 1n };
  for (let i = 0; i < 70; i++) deep = { d: deep, i };
  const bare = Object.create(null);
  bare.z = "null prototype";
  bare.a = [undefined, 1];
  // (copied: in a test's context the host's TextEncoder gives the host's Uint8Array)
  const source = Uint8Array.from(new TextEncoder().encode("export function run() { return 'é'; }"));
  const codeHash = await log.putBlob(source);
  const datas = [
    { engine: "quickjs", codeHash, codeStored: true, task: "tâche", limits: {} },
    { short: "é", lone: "\ud800", lone2: "x\udc00y", pair: "😀", ctl: "a\u0000\u001f\"\\", "k\"ey": 1, "\ud83d": "lone key" },
    { long: "a".repeat(65), longer: "é😀".repeat(100) + "\udfff", escaped: "\"".repeat(70), ascii: "/workspace/" + "x".repeat(200) },
    { n: [0, -0, 1, -1, 2 ** 53, 2 ** 53 + 2, -(2 ** 60), 1e21, 1e300, 5e-324, 0.1 + 0.2, -1.5e-7, NaN, Infinity, -Infinity] },
    { b: [0n, -1n, 2n ** 200n, -(3n ** 90n)], u: [new Uint8Array(0), new Uint8Array([1]), new Uint8Array([1, 2]), new Uint8Array([255, 0, 128])] },
    { nested: { c: { b: { a: [1, [2, [3, { x: null, y: true, z: false }]]] } } }, ...Object.fromEntries(Array.from({ length: 20 }, (_, i) => ["k" + (19 - i), i])) },
    { fake: { $bytes: "AAE=" }, fake2: { $object: { $bigint: "1" } }, proto: JSON.parse('{"__proto__":{"x":1}}'), bare, gone: undefined },
    { deep },
    { big, huge: "é".repeat(700000) },
  ];
  const ev = (type, data) => ({ type, runId: "run-é-\ud800", pid: 7, agent: "agent-😀", data });
  await log.append(ev("spawn", datas[0]));
  log.stage(ev("call", datas[1]));
  log.stage(ev("result", datas[2]));
  const many = log.appendMany([ev("call", datas[3]), ev("result", datas[4]), ev("signal", datas[5])]);
  const appended = log.append(ev("checkpoint", datas[6]));
  const written = log.stage(ev("call", datas[7])).written;
  await Promise.all([many, appended, written, log.append(ev("exit", datas[8]))]);
  const events = [];
  for await (const e of log.query({})) events.push(e);
  const records = [];
  for (let seq = 1; seq <= events.length; seq++) records.push(await backend.get(seq));
  const report = await log.verify();
  const same = (a, b) => api.canonicalJson(api.encodeValue(a)) === api.canonicalJson(api.encodeValue(b));
  const roundTrips = events.map((e, i) => same(api.decodeValue(e.data), datas[i]));
  const chained = events.every((e) => api.chainHash(e.prev, api.eventBody(e)) === e.hash);
  const blob = [...(await log.getBlob(codeHash))];
  await log.close();
  return JSON.stringify({ hashes: events.map((e) => e.hash), times: events.map((e) => e.time), records, report, roundTrips, chained, codeHash, blob, buffer: typeof Buffer, process: typeof process });
}`;

/** Verifies records (hash + body, oldest first) and a blob, through a backend that only holds them; then with one record changed. */
const VERIFY_RECORDS = String.raw`async (api, records, blob) => {
  const backend = (list) => ({
    durable: false, marksRuns: false, location: "records",
    readHead: async () => undefined,
    async *range() { yield list.map((r, i) => [i + 1, r]); },
    blobsAside: async () => [{ hash: blob.hash, seq: 0 }],
    readBlobs: async (places) => places.map((p) => (p.hash === blob.hash ? Uint8Array.from(blob.bytes) : undefined)),
  });
  const sound = await api.verifyChain(backend(records));
  const changed = records.slice();
  changed[3] = changed[3].replace('"pid":7', '"pid":8');
  const broken = await api.verifyChain(backend(changed));
  return JSON.stringify({ sound, broken });
}`;

type Scenario = (api: unknown) => Promise<string>;

describe("the log's core bundles for the browser", () => {
  for (const entry of ENTRIES) {
    it(`${entry} and everything it imports import no node: module`, async () => {
      const { nodeImports } = await bundle(entry, "esm");
      expect(nodeImports).toEqual([]);
    });
  }
});

describe("the log's core without Buffer or process", () => {
  let api: unknown;
  let context: vm.Context;
  let fromNode: Record<string, unknown>;

  beforeAll(async () => {
    const { code } = await bundle("core.js", "iife");
    context = webContext();
    vm.runInContext(code, context);
    api = vm.runInContext("AgentLog", context);
    fromNode = JSON.parse(await ((0, eval)(`(${SCENARIO})`) as Scenario)(nodeCore)) as Record<string, unknown>;
  }, 60_000);

  it("has no Buffer or process there", () => {
    expect(vm.runInContext("typeof Buffer + typeof process + typeof require", context)).toBe("undefinedundefinedundefined");
  });

  it("chains, stores, reads back and verifies every kind of data, with the Node build's hashes and records", async () => {
    const run = vm.runInContext(`(${SCENARIO})`, context) as Scenario;
    const web = JSON.parse(await run(api)) as typeof fromNode & { report: { ok: boolean; count: number } };
    expect(web.buffer).toBe("undefined");
    expect(web.process).toBe("undefined");
    expect(web.report).toMatchObject({ ok: true, count: 9 });
    expect(web.roundTrips).toEqual(Array(9).fill(true));
    expect(web.chained).toBe(true);
    expect(web.blob).toEqual([...new TextEncoder().encode("export function run() { return 'é'; }")]);
    // Same events, same times: the same hashes, the same stored records, on either build.
    expect(fromNode.buffer).toBe("function");
    expect(web.times).toEqual(fromNode.times);
    expect(web.hashes).toEqual(fromNode.hashes);
    expect(web.records).toEqual(fromNode.records);
    expect(web.codeHash).toBe(fromNode.codeHash);
    expect({ ...web, buffer: fromNode.buffer, process: fromNode.process }).toEqual(fromNode);
  });

  it("verifies records the Node build wrote, and finds one changed", async () => {
    const verify = vm.runInContext(`(${VERIFY_RECORDS})`, context) as (api: unknown, records: unknown, blob: unknown) => Promise<string>;
    const blob = { hash: fromNode.codeHash, bytes: fromNode.blob };
    const { sound, broken } = JSON.parse(await verify(api, fromNode.records, blob)) as Record<string, unknown>;
    expect(sound).toEqual({ ok: true, count: 9, head: (fromNode.hashes as string[])[8] });
    expect(broken).toMatchObject({ ok: false, firstBad: 4 });
  });
});

describe("portable bytes", () => {
  const node = nodeBytes(Buffer)!;
  const text = fc.string({ unit: "binary", maxLength: 300 });

  it("uses Buffer on Node, and works on a plain Uint8Array there too", () => {
    expect(bytesNative).toBe(true);
    const plain = new Uint8Array(16);
    expect(node.writeUtf8(plain, "é\ud800", 1)).toBe(5);
    expect(node.readUtf8(plain, 1, 6)).toBe("é\ufffd");
    node.writeLatin1(plain, "ab", 0);
    expect(plain[0]).toBe(97);
  });

  it("writes and reads UTF-8 and Latin-1 as Buffer does, lone surrogates and byte order marks included", () => {
    fc.assert(
      fc.property(text, fc.nat(8), (s, at) => {
        const a = portableBytes.allocBytes(3 * s.length + at);
        const b = Buffer.alloc(3 * s.length + at);
        const n = portableBytes.writeUtf8(a, s, at);
        expect(n).toBe(b.write(s, at, "utf8"));
        expect([...a.subarray(at, at + n)]).toEqual([...b.subarray(at, at + n)]);
        expect(portableBytes.readUtf8(a, at, at + n)).toBe(b.toString("utf8", at, at + n));
        expect([...portableBytes.utf8Bytes(s)]).toEqual([...Buffer.from(s, "utf8")]);
      }),
      { numRuns: 500 },
    );
    expect(portableBytes.readUtf8(Uint8Array.of(0xef, 0xbb, 0xbf, 0x41), 0, 4)).toBe("\ufeffA");
    const hex = "0123456789abcdef".repeat(4);
    const a = new Uint8Array(70);
    portableBytes.writeLatin1(a, hex, 3);
    expect(Buffer.from(a.subarray(3, 67)).toString("latin1")).toBe(hex);
  });

  it("encodes and decodes base64 as Buffer does, large inputs included", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(3), (bytes, spaces) => {
        const b64 = Buffer.from(bytes).toString("base64");
        expect(portableBytes.toBase64(bytes)).toBe(b64);
        expect(node.toBase64(bytes)).toBe(b64);
        const url = Buffer.from(bytes).toString("base64url");
        const spaced = b64.replace(/(.{7})/g, "$1" + " \n\t".slice(0, spaces));
        for (const form of [b64, url, b64.replace(/=+$/, ""), spaced, b64 + "=AAAA"]) {
          expect([...portableBytes.fromBase64(form)]).toEqual([...Buffer.from(form, "base64")]);
        }
      }),
      { numRuns: 500 },
    );
    const big = new Uint8Array(3_000_001).map((_, i) => (i * 7) ^ (i >> 8));
    const b64 = Buffer.from(big).toString("base64");
    expect(portableBytes.toBase64(big)).toBe(b64);
    expect(Buffer.from(portableBytes.fromBase64(b64)).equals(Buffer.from(big))).toBe(true);
  });
});

import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson, decodeValue, encodeValue, eventBody, GENESIS, openLog } from "../../dist/runtime/episodic/index.js";
import { encodeCanonical, sealEvent } from "../../dist/runtime/episodic/encoding.js";
import { toRecord } from "../../dist/runtime/episodic/backend.js";
import { RecordWriter } from "../../dist/runtime/episodic/record-writer.js";
import { LogError } from "../../dist/runtime/errors.js";

describe("encodeValue / decodeValue", () => {
  it("round-trips bigints, bytes, non-finite numbers and look-alike objects through JSON", () => {
    const value = {
      n: 12345678901234567890n,
      neg: -1n,
      b: new Uint8Array([0, 1, 254, 255]),
      f: [NaN, Infinity, -Infinity, 1.5],
      fake: { $bigint: "7" },
      nested: { $object: { x: 1 } },
    };
    const back = decodeValue(JSON.parse(JSON.stringify(encodeValue(value))));
    expect(back).toEqual(value);
    expect((back as { fake: unknown }).fake).toEqual({ $bigint: "7" });
  });

  it("round-trips arbitrary JSON-like values with bigints and bytes (property)", () => {
    // JSON has no -0; everything else must come back exactly.
    const double = fc.double().map((d) => (Object.is(d, -0) ? 0 : d));
    const leaf = fc.oneof(fc.string(), fc.integer(), double, fc.boolean(), fc.constant(null), fc.bigInt(), fc.uint8Array());
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: "small" }, leaf, fc.array(tie("node")), fc.dictionary(fc.string(), tie("node"))),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        const back = decodeValue(JSON.parse(JSON.stringify(encodeValue(v))));
        expect(back).toEqual(v);
        expect(canonicalJson(encodeValue(back))).toBe(canonicalJson(encodeValue(v)));
      }),
      { numRuns: 300 },
    );
  });

  it("refuses what could not be replayed, naming where", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => encodeValue({ a: [1, () => 1] })).toThrow(/value\.a\[1\]: a function/);
    expect(() => encodeValue(cyclic)).toThrow(LogError);
    expect(() => encodeValue({ d: new Date(0) })).toThrow(/value\.d: a Date instance/);
    expect(() => encodeValue({ s: Symbol("x") })).toThrow(/a symbol/);
  });

  it("keeps a __proto__ key as data, never as a prototype", () => {
    const value = JSON.parse('{"__proto__":{"polluted":1n}}'.replace("1n", '{"$bigint":"1"}')) as object;
    const back = decodeValue(JSON.parse(JSON.stringify(encodeValue(value)))) as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.keys(back)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("encodeCanonical (the log's one-walk writer)", () => {
  it("writes exactly canonicalJson(encodeValue(v)), and gives the encoded value (property)", () => {
    const key = fc.oneof(fc.string(), fc.constantFrom("__proto__", "0", "10", "$bigint", "$bytes", "$number", "$object", "a", "B"));
    const leaf = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.bigInt(), fc.uint8Array());
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: "small" }, leaf, fc.array(tie("node")), fc.dictionary(key, tie("node"), { noNullPrototype: false })),
    })).node.filter((v) => v !== undefined);
    fc.assert(
      fc.property(value, (v) => {
        const { value: encoded, json } = encodeCanonical(v);
        expect(json).toBe(canonicalJson(encodeValue(v)));
        expect(canonicalJson(encoded)).toBe(json);
      }),
      { numRuns: 500 },
    );
  });

  it("shares a value that needed no encoding, and falls back to the encoder's errors", () => {
    const plain = { b: [1, "x", null, { c: true }], a: "é\n" };
    expect(encodeCanonical(plain).value).toBe(plain);
    const deep: Record<string, unknown> = {};
    let at = deep;
    for (let i = 0; i < 200; i++) at = (at.x = {}) as Record<string, unknown>;
    expect(encodeCanonical(deep).json).toBe(canonicalJson(encodeValue(deep)));
    const cyclic: Record<string, unknown> = { a: [1] };
    (cyclic.a as unknown[]).push(cyclic);
    expect(() => encodeCanonical(cyclic)).toThrow(/value\.a\[1\]: it refers to itself/);
    expect(() => encodeCanonical({ when: new Date(0) })).toThrow(/value\.when: a Date instance is not plain data/);
  });
});

describe("RecordWriter (events sealed straight into bytes)", () => {
  const key = fc.oneof(fc.string(), fc.constantFrom("__proto__", "0", "10", "$bigint", "$bytes", "$number", "$object", "é", "a\"b"));
  const long = (unit: "grapheme-ascii" | "grapheme" | "binary") => fc.string({ unit, minLength: 60, maxLength: 300 });
  const text = fc.oneof(
    fc.string(),
    fc.string({ unit: "grapheme" }),
    fc.string({ unit: "binary" }),
    long("grapheme-ascii"),
    long("grapheme"),
    long("binary"),
    fc.constantFrom("", "tab\there", "quote\"", "back\\slash", "\ud800 lone", "x".repeat(64) + '"', "y".repeat(65) + "é"),
  );
  const leaf = fc.oneof(text, fc.integer(), fc.maxSafeInteger(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.bigInt(), fc.uint8Array());
  const value = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: "small" }, leaf, fc.array(tie("node")), fc.dictionary(key, tie("node"), { noNullPrototype: false })),
  })).node;
  const event = fc.record({
    type: fc.constantFrom("spawn", "call", "result", "signal", "vote", "checkpoint", "exit"),
    runId: text,
    pid: fc.oneof(fc.integer({ min: 0, max: 1 << 30 }), fc.maxSafeInteger()),
    agent: text,
    data: fc.dictionary(key, value, { noNullPrototype: false }),
  });

  it("writes the same record and hash as the string encoder, event after event (property)", () => {
    const writer = new RecordWriter();
    let prev = GENESIS;
    let seq = 0;
    fc.assert(
      fc.property(event, fc.oneof(fc.integer({ min: 0, max: 2 ** 48 }), fc.maxSafeInteger(), fc.double({ noNaN: true, noDefaultInfinity: true })), (e, time) => {
        seq++;
        const expected = sealEvent(e as never, seq, time, prev);
        const sealed = writer.seal(e as never, seq, time, prev);
        expect(Buffer.from(writer.lastRecord()).toString("utf8")).toBe(toRecord(expected));
        expect(sealed.hash).toBe(expected.event.hash);
        expect(canonicalJson(sealed.data)).toBe(canonicalJson(expected.event.data));
        prev = sealed.hash;
      }),
      { numRuns: 400 },
    );
  });

  it("starts its arena over when told, and copies the previous hash from where it wrote it", () => {
    const writer = new RecordWriter();
    const e = (i: number) => ({ type: "call" as const, runId: "r", pid: -i, agent: "a", data: { i, big: 2 ** 53 - 1 - i, neg: -i, s: "z".repeat(i) } });
    let prev = GENESIS;
    for (let i = 1; i <= 300; i++) {
      const time = 1_700_000_000_000 + i;
      const sealed = writer.seal(e(i), i, time, prev);
      const expected = sealEvent(e(i), i, time, prev);
      expect(sealed.hash).toBe(expected.event.hash);
      expect(Buffer.from(writer.lastRecord()).toString("utf8")).toBe(toRecord(expected));
      if (i % 7 === 0) writer.recycle();
      prev = sealed.hash;
    }
    // A prev other than the last hash made (another chain) is written as given.
    const other = "a".repeat(64);
    expect(writer.seal(e(1), 1, 0, other).hash).toBe(sealEvent(e(1), 1, 0, other).event.hash);
    expect(() => writer.seal(e(1), 1, 0, "A".repeat(64))).toThrow(/not 64 hex digits/);
  });

  it("encodes own keys only, even with an enumerable key added to Object.prototype", () => {
    const writer = new RecordWriter();
    const e = () => ({ type: "call" as const, runId: "r", pid: 1, agent: "a", data: { b: 1, a: { d: 2, c: [3] } } });
    // An object of the same first keys plus "polluted" of its own: its form is remembered.
    const own = { type: "call" as const, runId: "r", pid: 1, agent: "a", data: { b: 1, a: { d: 2, c: [3], polluted: 0 }, polluted: 0 } };
    const first = writer.seal(own, 1, 0, GENESIS);
    expect(first.hash).toBe(sealEvent(own, 1, 0, GENESIS).event.hash);
    const proto = Object.prototype as Record<string, unknown>;
    proto.polluted = "x";
    try {
      const sealed = writer.seal(e(), 2, 0, first.hash);
      expect(sealed.hash).toBe(sealEvent(e(), 2, 0, first.hash).event.hash);
      expect(Buffer.from(writer.lastRecord()).toString("utf8")).not.toContain("polluted");
    } finally {
      delete proto.polluted;
    }
  });

  it("moves a record that outgrows its arena, and keeps earlier records intact", () => {
    const writer = new RecordWriter();
    const small = writer.seal({ type: "call", runId: "r", pid: 1, agent: "a", data: { x: "before" } }, 1, 0, GENESIS);
    const smallRecord = writer.lastRecord();
    const copy = Buffer.from(smallRecord).toString("utf8");
    const big = { blob: "é".repeat(700_000), n: 1n, list: Array.from({ length: 2000 }, (_, i) => ({ i, s: "x".repeat(50) })) };
    const sealed = writer.seal({ type: "call", runId: "r", pid: 1, agent: "a", data: big }, 2, 0, small.hash);
    expect(Buffer.from(writer.lastRecord()).toString("utf8")).toBe(toRecord(sealEvent({ type: "call", runId: "r", pid: 1, agent: "a", data: big }, 2, 0, small.hash)));
    expect(Buffer.from(smallRecord).toString("utf8")).toBe(copy);
    expect(() => writer.seal({ type: "call", runId: "r", pid: 1, agent: "a", data: { f: () => 1 } }, 3, 0, sealed.hash)).toThrow(/value\.f: a function/);
    const after = writer.seal({ type: "exit", runId: "r", pid: 1, agent: "a", data: {} }, 3, 0, sealed.hash);
    expect(Buffer.from(writer.lastRecord()).toString("utf8")).toBe(toRecord(sealEvent({ type: "exit", runId: "r", pid: 1, agent: "a", data: {} }, 3, 0, sealed.hash)));
  });
});

describe("canonical encoding and the chain", () => {
  it("sorts keys at every depth, including index-like keys, without spaces", () => {
    expect(canonicalJson(encodeValue({ b: 1, a: { d: [true, "x"], c: null }, "10": 1, "9": 2 }))).toBe(
      '{"10":1,"9":2,"a":{"c":null,"d":[true,"x"]},"b":1}',
    );
  });

  it("hashes sha256(prev + newline + canonical event without hash), from the genesis", async () => {
    const log = await openLog(false);
    const first = await log.append({ type: "spawn", runId: "r", pid: 1, agent: "a", data: { z: 1n, a: "é\n" } });
    const second = await log.append({ type: "exit", runId: "r", pid: 1, agent: "a", data: {} });
    const expected = (prev: string, body: string) => createHash("sha256").update(`${prev}\n${body}`).digest("hex");
    expect(first.prev).toBe(GENESIS);
    expect(first.hash).toBe(expected(GENESIS, eventBody(first)));
    expect(eventBody(first)).toBe(
      `{"agent":"a","data":{"a":"é\\n","z":{"$bigint":"1"}},"pid":1,"prev":"${GENESIS}","runId":"r","seq":1,"time":${first.time},"type":"spawn"}`,
    );
    expect(second.prev).toBe(first.hash);
    expect(second.hash).toBe(expected(first.hash, eventBody(second)));
    await log.close();
  });
});

describe("the in-memory log's stored records", () => {
  it("reads back every event whole, across batches, arenas and stores, when records are copied in runs", async () => {
    const log = await openLog(false);
    const texts: string[] = [];
    // Staged as the gate stages them (back to back in the writer's arena), in sizes that cross
    // the 1 MiB arenas and stores at odd places, with a large one that needs a store of its own.
    for (let i = 0; i < 3000; i++) {
      const size = i === 1500 ? 1_500_000 : (i * 7919) % 3000;
      const text = `${i}:` + "é".repeat(size % 5) + "x".repeat(size);
      texts.push(text);
      log.stage({ type: "call", runId: "r", pid: 1, agent: "a", data: { i, text } });
      if (i % 700 === 0) await log.append({ type: "checkpoint", runId: "r", pid: 1, agent: "a", data: { label: `c${i}` } });
    }
    expect((await log.verify()).ok).toBe(true);
    const seen: string[] = [];
    for await (const e of log.query({ type: "call" })) seen.push(e.data.text as string);
    expect(seen).toEqual(texts);
    await log.close();
  });
});

/**
 * The edge fs (runtime/edge/fs.ts): EdgeKernel runs agents whose fs calls go to mounts on
 * key-value stores, in Node. The same scripts run on Node's kernel over host directories, and
 * must answer the same (gate decisions, errors, quotas).
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EdgeKernel, UsageError, memoryKvStore, type KvStore } from "../../dist/runtime/edge/index.js";
import type { Limits } from "../../dist/runtime/types.js";
import { kernelFor, moduleAgent, tempDir } from "../kernel/helpers.js";
import { FS_AGENT_SOURCE, FS_POLICY } from "./fs-agent.js";
import { fsCase } from "./conformance.js";
import { expectFsCase } from "./fs-checks.js";

/** One fs call of a script: the SDK's method and its arguments. */
type FsOp = [string, ...unknown[]];

const engine = new WebAssembly.Module(readFileSync("runtime/engines/quickjs-async/engine.wasm"));
const agent = EdgeKernel.agent("fs-script", FS_AGENT_SOURCE);

type Outcome = [string, ...unknown[]];

async function onEdge(ops: FsOp[], stores: { ws: KvStore; data: KvStore }, limits: Partial<Limits> = {}): Promise<Outcome[]> {
  const kernel = new EdgeKernel({ engine, policy: FS_POLICY, fs: { mounts: { "/workspace": { store: stores.ws }, "/data": { store: stores.data, readOnly: true } } } });
  try {
    const result = await kernel.execute(agent, JSON.stringify(ops), { limits });
    if (result.status !== "ok") throw new Error(`${result.status}: ${result.error}`);
    return JSON.parse(result.output!);
  } finally {
    await kernel.close();
  }
}

const hostDirs = tempDir("agent-os-edge-fs-");
afterAll(() => hostDirs.remove());
let nodeRuns = 0;

async function onNode(ops: FsOp[], limits: Partial<Limits> = {}): Promise<Outcome[]> {
  const base = join(hostDirs.path, String(nodeRuns++));
  mkdirSync(join(base, "ws"), { recursive: true });
  mkdirSync(join(base, "data"), { recursive: true });
  const kernel = kernelFor({ policy: FS_POLICY, mounts: { "/workspace": join(base, "ws"), "/data": { host: join(base, "data"), readOnly: true } } });
  try {
    const result = await kernel.execute(moduleAgent("fs-script", FS_AGENT_SOURCE), JSON.stringify(ops), { limits });
    if (result.status !== "ok") throw new Error(`${result.status}: ${result.error}`);
    return JSON.parse(result.output!);
  } finally {
    await kernel.close();
  }
}

const fresh = () => ({ ws: memoryKvStore(), data: memoryKvStore() });

/** A directory's size is the host filesystem's (4096 on ext4); the edge fs says 0. */
const sizeless = (outcomes: Outcome[]) => outcomes.map((o) => (o[0] === "ok" && (o[1] as { kind?: string })?.kind === "directory" ? ["ok", { kind: "directory" }] : o));

/** Runs a script on both kernels; they must answer the same. */
async function same(ops: FsOp[], limits: Partial<Limits> = {}): Promise<Outcome[]> {
  const edge = await onEdge(ops, fresh(), limits);
  expect(sizeless(edge)).toEqual(sizeless(await onNode(ops, limits)));
  return edge;
}

describe("edge fs: the same answers as Node's", () => {
  it("reads, writes, appends, lists, stats, makes and removes", async () => {
    const out = await same([
      ["mkdir", "/workspace/a"],
      ["write", "/workspace/a/x.txt", "hello"],
      ["write", "/workspace/a/x.txt", " world", { append: true }],
      ["readText", "/workspace/a/x.txt"],
      ["read", "/workspace/a/x.txt"],
      ["stat", "/workspace/a/x.txt"],
      ["stat", "/workspace/a"],
      ["mkdir", "/workspace/b/c/d", { recursive: true }],
      ["write", "/workspace/b/c/d/y.txt", "y"],
      ["list", "/workspace/b"],
      ["list", "/workspace/a"],
      ["remove", "/workspace/a/x.txt"],
      ["list", "/workspace/a"],
      ["remove", "/workspace/b"],
      ["remove", "/workspace/b", { recursive: true }],
      ["stat", "/workspace/b"],
      ["readText", "/workspace/a/missing.txt"],
      ["write", "/workspace/nodir/z.txt", "z"],
      ["mkdir", "/workspace/a"],
      ["mkdir", "/workspace/a", { recursive: true }],
      ["mkdir", "/workspace/p/q"],
      ["write", "/workspace/a", "not a file"],
      ["readText", "/workspace/a"],
      ["write", "/workspace/bin.dat", new Uint8Array([0xff, 0xfe])],
      ["readText", "/workspace/bin.dat"],
      ["write", "/workspace/bin.dat/under", "x"],
    ]);
    expect(out[3]).toEqual(["ok", "hello world"]);
    expect(out[5]).toEqual(["ok", { kind: "file", size: 11 }]);
    expect(out[9]).toEqual(["ok", [{ name: "c", kind: "directory" }]]);
    expect(out[13][0]).toBe("invalid");
    expect(out[15][0]).toBe("not-found");
  });

  it("refuses paths outside the mounts and `..` escapes, and names the rule that denies", async () => {
    const out = await same([
      ["readText", "/etc/passwd"],
      ["readText", "/workspace/../etc/passwd"],
      ["write", "/workspace/../../tmp/x", "x"],
      ["readText", "/workspace/a/../../prod/key"],
      ["readText", "/elsewhere/x"],
      ["readText", "workspace/relative"],
      ["write", "/workspace/secret/key.txt", "k"],
      ["mkdir", "/workspace/secret"],
      ["write", "/workspace/secret-not/key.txt", "k"],
    ]);
    expect(out[0]).toEqual(["denied", "standard-system-paths", "the host's system paths are off limits"]);
    expect(out[1][1]).toBe("standard-system-paths");
    expect(out[3][1]).toBe("standard-prod");
    expect(out[6]).toEqual(["denied", "no-secret", "secrets stay put"]);
  });

  it("decides every entry of a recursive remove and mkdir, and hides what a listing may not show", async () => {
    const out = await same([
      ["mkdir", "/workspace/secret"],
      ["mkdir", "/workspace/tree/deep", { recursive: true }],
      ["write", "/workspace/tree/deep/f.txt", "f"],
      ["write", "/workspace/tree/keep.txt", "k"],
      ["write", "/workspace/tree/hidden.txt", "h"],
      ["list", "/workspace/tree"],
      ["remove", "/workspace/tree", { recursive: true }],
      ["list", "/workspace/tree"],
      ["remove", "/workspace/tree/keep.txt"],
      ["remove", "/workspace/tree/hidden.txt"],
      ["remove", "/workspace/tree/deep", { recursive: true }],
      ["list", "/workspace/tree"],
      ["mkdir", "/workspace/made/secret/x", { recursive: true }],
      ["mkdir", "/workspace/secret/a/b", { recursive: true }],
    ]);
    expect(out[0][0]).toBe("denied");
    expect(out[5]).toEqual(["ok", [{ name: "deep", kind: "directory" }, { name: "keep.txt", kind: "file" }]]);
    expect(out[6]).toEqual(["denied", "keep-me", "on /workspace/tree/keep.txt (an entry the call touches): kept"]);
    expect(out[8][0]).toBe("denied");
    expect(out[11]).toEqual(["ok", [{ name: "keep.txt", kind: "file" }]]);
  });

  it("refuses changes on a read-only mount", async () => {
    const out = await same([
      ["write", "/data/x.txt", "x"],
      ["mkdir", "/data/d"],
      ["remove", "/data/none"],
      ["list", "/data"],
      ["readText", "/data/none"],
      ["write", "/data/none/under", "x"],
      ["remove", "/data"],
    ]);
    expect(out[0]).toEqual(["denied", null, "mount /data is read-only"]);
  });

  it("ends writes past fsWriteBytes and files past fsFilesCreated with `limit`", async () => {
    const bytes = await same([["write", "/workspace/a.txt", "12345"], ["write", "/workspace/a.txt", "678901"], ["write", "/workspace/a.txt", "67890"]], { fsWriteBytes: 10 });
    expect(bytes.map((o) => o[0])).toEqual(["ok", "limit", "ok"]);
    const files = await same([["write", "/workspace/1", "1"], ["mkdir", "/workspace/d"], ["write", "/workspace/3", "3"], ["mkdir", "/workspace/e/f", { recursive: true }], ["write", "/workspace/1", "again"]], { fsFilesCreated: 2 });
    expect(files.map((o) => o[0])).toEqual(["ok", "ok", "limit", "limit", "ok"]);
    const read = await same([["write", "/workspace/big", "0123456789"], ["readText", "/workspace/big"]], { fsReadBytes: 5 });
    expect(read[1][0]).toBe("limit");
  });
});

describe("edge fs: the store", () => {
  it("applies concurrent changes from several agents one at a time", async () => {
    const store = memoryKvStore();
    const kernel = new EdgeKernel({ engine, policy: FS_POLICY, fs: { mounts: { "/workspace": { store } } } });
    try {
      const lines = (who: string) => Array.from({ length: 15 }, (_, i) => ["write", "/workspace/shared.txt", `${who}${i}\n`, { append: true }]);
      const results = await Promise.all(["a", "b", "c"].map((who) => kernel.execute(agent, JSON.stringify(lines(who)))));
      expect(results.map((r) => r.status)).toEqual(["ok", "ok", "ok"]);
      const [[, text]] = JSON.parse((await kernel.execute(agent, JSON.stringify([["readText", "/workspace/shared.txt"]]))).output!);
      expect((text as string).split("\n").filter(Boolean).sort()).toEqual(["a", "b", "c"].flatMap((w) => Array.from({ length: 15 }, (_, i) => `${w}${i}`)).sort());
    } finally {
      await kernel.close();
    }
    const reloaded = await onEdge([["stat", "/workspace/shared.txt"]], { ws: store, data: memoryKvStore() });
    expect(reloaded).toEqual([["ok", { kind: "file", size: 3 * (10 * 3 + 5 * 4) }]]);
  });

  it("keeps what one kernel wrote for a new kernel over the same store", async () => {
    const stores = fresh();
    await onEdge([["mkdir", "/workspace/notes"], ["write", "/workspace/notes/a.txt", "first"], ["write", "/workspace/gone.txt", "x"], ["remove", "/workspace/gone.txt"]], stores);
    const out = await onEdge([["readText", "/workspace/notes/a.txt"], ["list", "/workspace/notes"], ["stat", "/workspace/gone.txt"]], stores);
    expect(out).toEqual([["ok", "first"], ["ok", [{ name: "a.txt", kind: "file" }]], ["not-found", "/workspace/gone.txt"]]);
    const mounted = await onEdge([["readText", "/data/notes/a.txt"], ["write", "/data/notes/b.txt", "no"]], { ws: memoryKvStore(), data: stores.ws });
    expect(mounted[0]).toEqual(["ok", "first"]);
    expect(mounted[1][0]).toBe("denied");
  });

  it("splits a file over the store's value limit into parts, over several puts, and reads it back", async () => {
    const store = memoryKvStore({ keysPerPut: 2, valueBytes: 4096 });
    const big = "abcdefghij".repeat(3000); // 30,000 bytes: 10 parts of 3,072
    await onEdge([["write", "/workspace/big.txt", big], ["write", "/workspace/big.txt", big.toUpperCase()]], { ws: store, data: memoryKvStore() });
    expect(store.puts.length).toBeGreaterThan(10);
    const out = await onEdge([["readText", "/workspace/big.txt"], ["stat", "/workspace/big.txt"]], { ws: store, data: memoryKvStore() });
    expect(out).toEqual([["ok", big.toUpperCase()], ["ok", { kind: "file", size: 30_000 }]]);
  });

  it("answers `io` and changes nothing when the store refuses a write", async () => {
    const stores = fresh();
    const kernel = new EdgeKernel({ engine, policy: FS_POLICY, fs: { mounts: { "/workspace": { store: stores.ws } } } });
    try {
      await kernel.execute(agent, JSON.stringify([["write", "/workspace/a.txt", "kept"]]));
      stores.ws.failNextPuts(1);
      const result = await kernel.execute(agent, JSON.stringify([["write", "/workspace/a.txt", "lost"], ["readText", "/workspace/a.txt"]]));
      expect(JSON.parse(result.output!)).toEqual([["io", "the store refused the change to /workspace/a.txt"], ["ok", "kept"]]);
    } finally {
      await kernel.close();
    }
  });

  it("logs fs calls as on Node: the call's path, effect and rule", async () => {
    const kernel = new EdgeKernel({ engine, policy: FS_POLICY, fs: { mounts: { "/workspace": { store: memoryKvStore() } } } });
    try {
      await kernel.execute(agent, JSON.stringify([["write", "/workspace/a.txt", "x"], ["readText", "/workspace/secret/k"], ["mkdir", "/workspace/t/u", { recursive: true }], ["remove", "/workspace/t", { recursive: true }]]));
      const log = await kernel.log;
      const calls: string[] = [];
      let removed: unknown;
      for await (const e of log.query({ type: "call" })) {
        const d = e.data as { action: string; resource: string; decision: { effect: string; rule: string } };
        calls.push(`${d.action} ${d.resource} ${d.decision.effect} ${d.decision.rule}`);
        if (d.action === "fs.remove") removed = (d as { entries?: unknown }).entries;
      }
      expect(calls).toEqual([
        "fs.write /workspace/a.txt allow standard-workspace-write",
        "fs.read /workspace/secret/k deny no-secret",
        "fs.mkdir /workspace/t/u allow standard-workspace-write",
        "fs.remove /workspace/t audit standard-workspace-remove",
      ]);
      expect(removed).toEqual(["/workspace/t/u"]);
      expect((await log.verify()).ok).toBe(true);
    } finally {
      await kernel.close();
    }
  });

  it("fails its runs, not the host, when a store cannot be loaded", async () => {
    const broken: KvStore = { ...memoryKvStore(), list: async () => Promise.reject(new Error("the store is down")) };
    const kernel = new EdgeKernel({ engine, policy: FS_POLICY, fs: { mounts: { "/workspace": { store: broken } } } });
    try {
      const result = await Promise.race([kernel.execute(agent, "[]").catch((error: unknown) => ({ status: "rejected", error: String(error) })), new Promise((resolve) => setTimeout(() => resolve("hung"), 5000))]);
      expect(result).not.toBe("hung");
      expect(JSON.stringify(result)).toMatch(/the store is down/);
    } finally {
      await kernel.close();
    }
  });

  it("rejects a bad fs option with a UsageError", () => {
    expect(() => new EdgeKernel({ engine, policy: FS_POLICY, fs: { mounts: { "relative": { store: memoryKvStore() } } } })).toThrow(UsageError);
    expect(() => new EdgeKernel({ engine, policy: FS_POLICY, fs: { mounts: { "/ws": { store: {} as KvStore } } } })).toThrow(UsageError);
    const store = memoryKvStore();
    expect(() => new EdgeKernel({ engine, policy: FS_POLICY, fs: { mounts: { "/a": { store }, "/b": { store } } } })).toThrow(/use the same store/);
  });
});

describe("edge fs: the case workerd runs (conformance.js)", () => {
  it("answers in Node as workerd.test.ts expects", async () => {
    expectFsCase(await fsCase(engine));
  });
});

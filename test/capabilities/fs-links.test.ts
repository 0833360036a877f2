/**
 * Symbolic links inside a mount must not defeat a deny rule (issue 13, item 1).
 *
 * The policy allows fs.* on /workspace/** and denies /workspace/secret/**. The mount holds links
 * that lead into secret/ in many spellings (relative, absolute host paths, chains, through `..`,
 * through the mount root, in the middle of a path, through a link inside secret/ itself). A real
 * agent (QuickJS, worker thread, channel, gate) tries every operation through every spelling;
 * then the host is checked: secret/ is byte for byte what it was, and the agent never saw its
 * content. Links are also created and swapped in by the host while an agent runs.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { lstatSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KernelSpace, openLog, redecideRun, observeRuns, suggestPolicy, loadPolicy, type KernelLog, type RunResult } from "../../dist/runtime/index.js";
import { createFs, parseMount } from "../../dist/runtime/capabilities/fs.js";
import { formatEvent } from "../../dist/runtime/episodic/format.js";
import type { FsTarget } from "../../dist/runtime/capabilities/types.js";
import { attacker, type Call, type Told } from "./attacker.js";
import { guestError, makeQuota, snapshotTree, tempDir } from "./helpers.js";

const KEY = "TOP-SECRET-key";
const DEEP = "TOP-SECRET-deep";
const BASICS = { id: "basics", action: ["log.write", "clock.now", "random.bytes", "process.*"], effect: "allow" };

const POLICY = {
  version: 1,
  name: "links",
  default: "deny",
  rules: [
    BASICS,
    { id: "workspace", action: "fs.*", resource: "/workspace/**", effect: "allow" },
    { id: "no-secret", action: "fs.*", resource: "/workspace/secret/**", effect: "deny", reason: "secrets are off limits" },
    { id: "http", action: "http.fetch", effect: "allow" }, // only where allowPrivate lets it: loopback in one test
  ],
};

interface Tree {
  root: string;
  ws: string;
  secret: string;
  /** Everything under secret/, links not followed: must never change. */
  secretSnapshot(): Record<string, string>;
  cleanup(): void;
}

/** ws/ with secret/ (the denied directory), public/, and links into secret/ in many spellings. */
function makeTree(): Tree {
  const tmp = tempDir("links");
  const ws = join(realpathSync(tmp.path), "ws"); // absolute link targets name the real host path
  const secret = join(ws, "secret");
  mkdirSync(join(secret, "sub"), { recursive: true });
  mkdirSync(join(ws, "public"));
  mkdirSync(join(ws, "mid"));
  writeFileSync(join(secret, "key.txt"), KEY);
  writeFileSync(join(secret, "sub", "deep.txt"), DEEP);
  writeFileSync(join(ws, "public", "readme.txt"), "public");
  const links: [string, string][] = [
    ["alias", "secret"],
    ["alias-slash", "secret/"],
    ["alias-abs", secret],
    ["alias-abs-dots", `${ws}/public/../secret`],
    ["file-alias", "secret/key.txt"],
    ["file-alias-abs", join(secret, "key.txt")],
    ["chain", "a"],
    ["a", "b"],
    ["b", "secret"],
    ["dotdot", "public/../secret"],
    ["dot", "./secret/."],
    ["public/up", "../secret"],
    ["public/up-abs", join(ws, "secret")],
    ["root-link", "."],
    ["root-abs", ws],
    ["mid/m", "../secret"],
    ["pl", "public"],
    ["public/back", "../alias"],
    ["to-sub", "secret/sub"],
    ["secret/out", "../public"],
    ["via-secret", "secret/out"],
  ];
  for (const [name, target] of links) symlinkSync(target, join(ws, name));
  return { root: tmp.path, ws, secret, secretSnapshot: () => snapshotTree(secret), cleanup: tmp.cleanup };
}

/** Every spelling of a path into secret/ through links (the directory, then key.txt below it). */
const DIR_SPELLINGS = [
  "/workspace/alias",
  "/workspace/alias-slash",
  "/workspace/alias-abs",
  "/workspace/alias-abs-dots",
  "/workspace/chain",
  "/workspace/a",
  "/workspace/dotdot",
  "/workspace/dot",
  "/workspace/public/up",
  "/workspace/public/up-abs",
  "/workspace/root-link/secret",
  "/workspace/root-abs/secret",
  "/workspace/root-link/root-link/alias",
  "/workspace/mid/m",
  "/workspace/pl/up",
  "/workspace/public/back",
  "/workspace/pl/back",
  "/workspace/./alias/",
  "/workspace/public/../alias",
];

/** Spellings that name a file in secret/ itself. */
const FILE_SPELLINGS = ["/workspace/file-alias", "/workspace/file-alias-abs", "/workspace/to-sub/deep.txt", "/workspace/alias/sub/deep.txt"];

function kernelFor(tree: Tree, options: { log?: { dir: string } | false; allowPrivate?: string[] } = {}): KernelSpace {
  return new KernelSpace({ policy: POLICY, log: options.log ?? false, pool: { warm: 1 }, mounts: { "/workspace": tree.ws }, allowPrivate: options.allowPrivate ?? [] });
}

async function attack(kernel: KernelSpace, calls: Call[], repeat = 1): Promise<{ told: Told[]; result: RunResult }> {
  const result = await kernel.execute(kernel.register(attacker), JSON.stringify({ calls, repeat }));
  expect(result.status, result.error).toBe("ok");
  const told = JSON.parse(result.output ?? "[]") as Told[];
  expect(told).toHaveLength(calls.length * repeat);
  expect(told.filter((t) => t.tag === "thrown")).toEqual([]);
  return { told, result };
}

/** No answer the agent got holds a secret. */
function expectNoSecretSeen(told: Told[]): void {
  for (const t of told) {
    expect(t.value ?? "").not.toContain("TOP-SECRET");
    expect(t.reason ?? "").not.toContain("TOP-SECRET");
  }
}

describe("fs links: a link inside the mount does not defeat a deny rule", () => {
  let tree: Tree;
  let kernel: KernelSpace;
  let before: Record<string, string>;
  beforeEach(() => {
    tree = makeTree();
    kernel = kernelFor(tree);
    before = tree.secretSnapshot();
  });
  afterEach(async () => {
    await kernel.close();
    tree.cleanup();
  });

  it("every look and every change through every spelling is denied, and secret/ is unchanged", async () => {
    const looks: Call[] = [];
    const changes: Call[] = [];
    for (const dir of DIR_SPELLINGS) {
      looks.push({ fs: "read", path: `${dir}/key.txt` }, { fs: "readText", path: `${dir}/key.txt` }, { fs: "stat", path: `${dir}/key.txt` }, { fs: "stat", path: dir }, { fs: "list", path: dir });
      changes.push(
        { fs: "write", path: `${dir}/key.txt`, text: "PWNED" },
        { fs: "append", path: `${dir}/key.txt`, text: "PWNED" },
        { fs: "write", path: `${dir}/new.txt`, text: "PWNED" },
        { fs: "mkdir", path: `${dir}/made` },
        { fs: "remove", path: `${dir}/key.txt` },
        { fs: "remove", path: `${dir}/sub` },
      );
    }
    for (const file of FILE_SPELLINGS) looks.push({ fs: "read", path: file }, { fs: "readText", path: file }, { fs: "stat", path: file }, { fs: "append", path: file, text: "PWNED" });
    const calls = [...looks, ...changes];
    const { told, result } = await attack(kernel, calls);
    calls.forEach((call, i) => expect(told[i], JSON.stringify(call)).toMatchObject({ tag: "denied", rule: "no-secret" }));
    expectNoSecretSeen(told);
    expect(result.denials).toHaveLength(calls.length);
    expect(tree.secretSnapshot()).toEqual(before);
  });

  it("links that stay in allowed places work, but one that passes through secret/ is denied even where it ends outside it", async () => {
    // via-secret -> secret/out -> ../public: the walk passes a link inside the denied directory.
    const { told } = await attack(kernel, [
      { fs: "readText", path: "/workspace/via-secret/readme.txt" },
      { fs: "list", path: "/workspace/via-secret" },
      { fs: "readText", path: "/workspace/public/readme.txt" },
      { fs: "readText", path: "/workspace/pl/readme.txt" },
      { fs: "readText", path: "/workspace/root-link/public/readme.txt" },
      { fs: "write", path: "/workspace/pl/new.txt", text: "via link" },
      // A replacing write acts on the name: the link itself is replaced, its target untouched.
      { fs: "write", path: "/workspace/file-alias", text: "the link is replaced" },
      { fs: "remove", path: "/workspace/alias" },
    ]);
    expect(told[0]).toMatchObject({ tag: "denied", rule: "no-secret" });
    expect(told[0].reason).toBe("on /workspace/secret/out (a link on the way): secrets are off limits");
    expect(told[1]).toMatchObject({ tag: "denied", rule: "no-secret" });
    expect(told.slice(2)).toEqual([
      { tag: "ok", value: "public" },
      { tag: "ok", value: "public" },
      { tag: "ok", value: "public" },
      { tag: "ok", value: "" },
      { tag: "ok", value: "" },
      { tag: "ok", value: "" },
    ]);
    expect(readFileSync(join(tree.ws, "public", "new.txt"), "utf8")).toBe("via link");
    expect(readFileSync(join(tree.ws, "file-alias"), "utf8")).toBe("the link is replaced");
    expect(lstatSync(join(tree.ws, "alias"), { throwIfNoEntry: false })).toBeUndefined();
    expect(tree.secretSnapshot()).toEqual(before);
  });

  it("the log records the resolved path as the resource, with the path as written and the links", async () => {
    const { result } = await attack(kernel, [
      { fs: "readText", path: "/workspace/chain/key.txt" },
      { fs: "readText", path: "/workspace/pl/readme.txt" },
      { fs: "readText", path: "/workspace/public/readme.txt" },
    ]);
    const log = await kernel.log;
    const calls = [];
    const lines: string[] = [];
    for await (const e of log.query({ runId: result.runId, type: "call" })) {
      if (!String(e.data.action).startsWith("fs.")) continue;
      calls.push(e.data);
      lines.push(formatEvent(e));
    }
    expect(lines[0]).toMatch(/call {2}fs\.read {2}\/workspace\/secret\/key\.txt {2}\(as \/workspace\/chain\/key\.txt\) {2}deny {2}no-secret$/);
    expect(calls[0]).toMatchObject({
      resource: "/workspace/secret/key.txt",
      path: "/workspace/chain/key.txt",
      links: ["/workspace/chain", "/workspace/a", "/workspace/b"],
      decision: { effect: "deny", rule: "no-secret" },
    });
    expect(calls[1]).toMatchObject({ resource: "/workspace/public/readme.txt", path: "/workspace/pl/readme.txt", links: ["/workspace/pl"], decision: { effect: "allow" } });
    expect(calls[2].resource).toBe("/workspace/public/readme.txt");
    expect(calls[2]).not.toHaveProperty("path");
    expect(calls[2]).not.toHaveProperty("links");
    expect(result.denials[0]).toMatchObject({ action: "fs.read", resource: "/workspace/secret/key.txt", rule: "no-secret" });
  });

  it("the written path and every link are decided too: a deny on either refuses the call", async () => {
    await kernel.close();
    const policy = {
      ...POLICY,
      rules: [
        ...POLICY.rules.filter((r) => r.id !== "no-secret"),
        { id: "no-link", action: "fs.*", resource: "/workspace/b", effect: "deny" },
        { id: "no-written", action: "fs.*", resource: "/workspace/pl/**", effect: "deny" },
      ],
    };
    kernel = new KernelSpace({ policy, log: false, pool: { warm: 1 }, mounts: { "/workspace": tree.ws } });
    const { told } = await attack(kernel, [
      { fs: "readText", path: "/workspace/chain/key.txt" }, // passes the link /workspace/b
      { fs: "readText", path: "/workspace/pl/readme.txt" }, // written under /workspace/pl, resolved to public/
      { fs: "readText", path: "/workspace/public/readme.txt" },
    ]);
    expect(told[0]).toMatchObject({ tag: "denied", rule: "no-link" });
    expect(told[1]).toMatchObject({ tag: "denied", rule: "no-written" });
    expect(told[1].reason).toContain("/workspace/pl/readme.txt");
    expect(told[2]).toEqual({ tag: "ok", value: "public" });
  });
});

describe("fs links: replay, counterfactual replay and suggest see what the gate decided", () => {
  let tree: Tree;
  let logDir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tree = makeTree();
    logDir = tempDir("links-log");
  });
  afterEach(() => {
    tree.cleanup();
    logDir.cleanup();
  });

  it("replays identically, and another policy is decided on the resolved path and the links", async () => {
    const broad = { version: 1, name: "broad", default: "deny", rules: [BASICS, { id: "fs-any", action: "fs.*", effect: "allow" }] };
    const kernel = new KernelSpace({ policy: broad, log: { dir: logDir.path }, pool: { warm: 1 }, mounts: { "/workspace": tree.ws } });
    let runId: string;
    try {
      const { told, result } = await attack(kernel, [
        { fs: "readText", path: "/workspace/alias/key.txt" },
        { fs: "readText", path: "/workspace/pl/readme.txt" },
        { fs: "list", path: "/workspace/chain" },
      ]);
      runId = result.runId;
      expect(told[0]).toEqual({ tag: "ok", value: KEY }); // the broad policy allows it: the point is what is recorded
      const replay = await kernel.replay({ runId });
      expect(replay.status, JSON.stringify(replay.divergence)).toBe("identical");
    } finally {
      await kernel.close();
    }
    const log: KernelLog = await openLog({ dir: logDir.path });
    try {
      const report = await redecideRun(log, runId, POLICY);
      const changed = report.changes.map((c) => [c.resource, c.after.effect, c.after.rule]);
      expect(changed).toEqual([
        ["/workspace/secret/key.txt", "deny", "no-secret"],
        ["/workspace/secret", "deny", "no-secret"],
      ]);
      // A policy that names only the link is decided on the link, as the gate would.
      const noLink = { ...POLICY, rules: [BASICS, { id: "fs-any", action: "fs.*", effect: "allow" }, { id: "no-pl", action: "fs.*", resource: "/workspace/pl", effect: "deny" }] };
      const byLink = await redecideRun(log, runId, noLink);
      expect(byLink.changes.map((c) => [c.resource, c.after.rule])).toEqual([["/workspace/public/readme.txt", "no-pl"]]);
      expect(byLink.changes[0].after.reason).toContain("/workspace/pl");
      // A suggested policy allows every path the calls were decided on: the run passes it again.
      const { calls } = await observeRuns(log, [runId]);
      const suggested = loadPolicy(suggestPolicy(calls).yaml);
      const again = await redecideRun(log, runId, suggested);
      expect(again.changes).toEqual([]);
    } finally {
      await log.close();
    }
  });
});

describe("fs links: links created or swapped while the agent runs", () => {
  let tree: Tree;
  let swapper: ChildProcess | undefined;
  let server: Server | undefined;
  beforeEach(() => {
    tree = makeTree();
  });
  afterEach(async () => {
    swapper?.kill("SIGKILL");
    swapper = undefined;
    if (server) await new Promise((done) => server!.close(done));
    server = undefined;
    tree.cleanup();
  });

  it("a link the host creates between two calls of a running agent is decided on where it leads", async () => {
    mkdirSync(join(tree.ws, "later"));
    writeFileSync(join(tree.ws, "later", "key.txt"), "benign");
    const before = tree.secretSnapshot();
    // The agent's http call is the moment between two fs calls: the server swaps in the link, then answers.
    server = createServer((_req, res) => {
      rmSync(join(tree.ws, "later"), { recursive: true });
      symlinkSync("secret", join(tree.ws, "later"));
      res.end("swapped");
    });
    await new Promise<void>((done) => server!.listen(0, "127.0.0.1", done));
    const port = (server.address() as AddressInfo).port;
    const kernel = kernelFor(tree, { allowPrivate: ["127.0.0.1"] });
    try {
      const { told } = await attack(kernel, [
        { fs: "readText", path: "/workspace/later/key.txt" },
        { http: `http://127.0.0.1:${port}/swap` },
        { fs: "readText", path: "/workspace/later/key.txt" },
        { fs: "append", path: "/workspace/later/key.txt", text: "PWNED" },
        { fs: "write", path: "/workspace/later/key.txt", text: "PWNED" },
        { fs: "list", path: "/workspace/later" },
        { fs: "remove", path: "/workspace/later/sub" },
      ]);
      expect(told[0]).toEqual({ tag: "ok", value: "benign" });
      expect(told[1].tag).toBe("ok");
      for (const t of told.slice(2)) expect(t).toMatchObject({ tag: "denied", rule: "no-secret" });
      expectNoSecretSeen(told);
      expect(tree.secretSnapshot()).toEqual(before);
    } finally {
      await kernel.close();
    }
  });

  it("never reads or changes secret/ while the host swaps a directory and a link to it in a loop", async () => {
    mkdirSync(join(tree.ws, "race"));
    writeFileSync(join(tree.ws, "race", "key.txt"), "benign");
    mkdirSync(join(tree.ws, "race", "sub"));
    const before = tree.secretSnapshot();
    // Each state (directory, nothing, link, nothing) lasts a random fraction of a millisecond. The
    // agent's mkdir -p may create race/ while it is missing: that one is thrown away.
    const script = `
      const fs = require("node:fs");
      const [race, real, target] = process.argv.slice(1);
      const cell = new Int32Array(new SharedArrayBuffer(4));
      const hold = () => Atomics.wait(cell, 0, 0, Math.random());
      const drop = () => { try { fs.unlinkSync(race); } catch { try { fs.rmSync(race, { recursive: true }); } catch {} } };
      for (;;) {
        try { fs.renameSync(race, real); } catch {}
        hold();
        drop();
        try { fs.symlinkSync(target, race); } catch {}
        hold();
        drop();
        try { fs.renameSync(real, race); } catch {}
        hold();
      }`;
    swapper = spawn(process.execPath, ["-e", script, join(tree.ws, "race"), join(tree.ws, "race-real"), "secret"], { stdio: "ignore" });
    const kernel = kernelFor(tree);
    try {
      const calls: Call[] = [
        { fs: "readText", path: "/workspace/race/key.txt" },
        { fs: "stat", path: "/workspace/race/key.txt" },
        { fs: "list", path: "/workspace/race" },
        { fs: "append", path: "/workspace/race/key.txt", text: "+" },
        { fs: "write", path: "/workspace/race/new.txt", text: "PWNED" },
        { fs: "mkdir", path: "/workspace/race/made/deeper" },
        { fs: "remove", path: "/workspace/race/sub" },
        { fs: "mkdir", path: "/workspace/race/sub" },
      ];
      const { told } = await attack(kernel, calls, 150);
      swapper.kill("SIGKILL");
      expectNoSecretSeen(told);
      // The race was real: some calls went through the directory, some met the link.
      expect(told.some((t) => t.tag === "ok" && t.value?.startsWith("benign"))).toBe(true);
      expect(told.some((t) => t.tag === "denied")).toBe(true);
      for (const t of told) expect(["ok", "denied", "not-found", "invalid"], JSON.stringify(t)).toContain(t.tag);
      expect(tree.secretSnapshot()).toEqual(before);
    } finally {
      await kernel.close();
    }
  }, 180_000); // 1,200 calls against a busy host process
});

describe("fs links: what was decided is what is done (capability level)", () => {
  let tree: Tree;
  let before: Record<string, string>;
  beforeEach(() => {
    tree = makeTree();
    mkdirSync(join(tree.ws, "swap", "sub"), { recursive: true });
    writeFileSync(join(tree.ws, "swap", "key.txt"), "benign");
    before = tree.secretSnapshot();
  });
  afterEach(() => tree.cleanup());

  /** Swaps ws/swap (a real directory when resolved) for a link to secret/. */
  function swapIn(): void {
    renameSync(join(tree.ws, "swap"), join(tree.ws, "swap-real"));
    symlinkSync("secret", join(tree.ws, "swap"));
  }

  it("resolves the link chain, naming each link, and keeps a path to be created as written", () => {
    const fs = createFs({ mounts: [parseMount(`/workspace=${tree.ws}`)], quota: makeQuota() });
    expect(fs.resolve("/workspace/chain/key.txt", "follow")).toEqual({
      written: "/workspace/chain/key.txt",
      resolved: "/workspace/secret/key.txt",
      missing: 0,
      links: ["/workspace/chain", "/workspace/a", "/workspace/b"],
    });
    expect(fs.resolve("/workspace/alias-abs/new/deeper", "follow")).toMatchObject({ resolved: "/workspace/secret/new/deeper", missing: 2, links: ["/workspace/alias-abs"] });
    expect(fs.resolve("/workspace/file-alias", "keep")).toMatchObject({ resolved: "/workspace/file-alias", links: [] });
    expect(fs.resolve("/workspace/root-link/root-abs/public/back", "follow")).toMatchObject({
      resolved: "/workspace/secret",
      links: ["/workspace/root-link", "/workspace/root-abs", "/workspace/public/back", "/workspace/alias"],
    });
  });

  it("a walk follows at most 40 links and looks up at most 4096 segments", async () => {
    const fs = createFs({ mounts: [parseMount(`/workspace=${tree.ws}`)], quota: makeQuota() });
    mkdirSync(join(tree.ws, "hops", "d"), { recursive: true });
    writeFileSync(join(tree.ws, "hops", "end.txt"), "end");
    for (let i = 0; i < 41; i++) symlinkSync(i === 40 ? "end.txt" : `l${i + 1}`, join(tree.ws, "hops", `l${i}`));
    expect(await fs.readText("/workspace/hops/l1")).toBe("end"); // 40 links
    expect((await guestError(() => fs.readText("/workspace/hops/l0"))).error).toEqual({ tag: "not-found", val: "/workspace/hops/l0 (more than 40 links)" });
    // Six links whose targets climb in and out of d/ 800 times each: 4,800 lookups for one path.
    const climb = "d/../".repeat(800);
    for (let i = 0; i < 6; i++) symlinkSync(`${climb}${i === 5 ? "end.txt" : `c${i + 1}`}`, join(tree.ws, "hops", `c${i}`));
    expect(await fs.readText("/workspace/hops/c5")).toBe("end");
    expect((await guestError(() => fs.readText("/workspace/hops/c0"))).error).toEqual({ tag: "not-found", val: "/workspace/hops/c0 (its links name more than 4096 segments)" });
  });

  it("a link swapped in after the path was resolved is refused by every operation", async () => {
    const fs = createFs({ mounts: [parseMount(`/workspace=${tree.ws}`)], quota: makeQuota() });
    const ops: [string, "follow" | "keep", string, (target: FsTarget) => unknown][] = [
      ["read", "follow", "/workspace/swap/key.txt", (t) => fs.read(t)],
      ["stat", "follow", "/workspace/swap/key.txt", (t) => fs.stat(t)],
      ["append", "follow", "/workspace/swap/key.txt", (t) => fs.writeText(t, "PWNED", true)],
      ["replace", "keep", "/workspace/swap/key.txt", (t) => fs.writeText(t, "PWNED", false)],
      ["create", "keep", "/workspace/swap/new.txt", (t) => fs.writeText(t, "PWNED", false)],
      ["mkdir", "follow", "/workspace/swap/made", (t) => fs.mkdir(t, false)],
      ["mkdir -p", "follow", "/workspace/swap/made/deeper", (t) => fs.mkdir(t, true)],
      ["remove", "keep", "/workspace/swap/key.txt", (t) => fs.remove(t, false)],
    ];
    for (const [name, last, path, act] of ops) {
      if (lstatSync(join(tree.ws, "swap")).isSymbolicLink()) {
        unlinkSync(join(tree.ws, "swap"));
        renameSync(join(tree.ws, "swap-real"), join(tree.ws, "swap"));
      }
      const target = fs.resolve(path, last); // the directory is real now...
      expect(target.links, name).toEqual([]);
      swapIn(); // ...and a link to secret/ when the operation acts
      const err = await guestError(() => act(target));
      expect(err.error.tag, name).toBe("denied");
      expect((err.error.val as { reason: string }).reason, name).toContain("changed after the call was decided");
    }
    expect(tree.secretSnapshot()).toEqual(before);
  });

  it("a planned listing or removal meets the swap and touches nothing in secret/", async () => {
    const fs = createFs({ mounts: [parseMount(`/workspace=${tree.ws}`)], quota: makeQuota() });
    const listPlan = await fs.plan(fs.resolve("/workspace/swap", "follow"), "list");
    const removePlan = await fs.plan(fs.resolve("/workspace/swap/sub", "keep"), "remove");
    const mkdirTarget = fs.resolve("/workspace/swap/x/y", "follow");
    swapIn();
    // A listing answers from its plan (what was read, through the exact directory, and decided).
    expect((await fs.list(listPlan)).map((e) => e.name)).toEqual(["key.txt", "sub"]);
    expect((await guestError(() => fs.remove(removePlan, true))).error.tag).toBe("denied");
    expect((await guestError(() => fs.mkdir(mkdirTarget, true))).error.tag).toBe("denied");
    expect(tree.secretSnapshot()).toEqual(before);
  });
});

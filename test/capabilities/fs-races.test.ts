/**
 * Links created or swapped while an agent runs (issue 13, item 1): by the host between two calls
 * of a running agent (agents have no call that makes links), in a loop while the agent works,
 * and right between the decision and the act (capability level, deterministic). What was decided
 * is what is done: the capability acts on the resolved place only, or refuses.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { lstatSync, mkdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createFs, parseMount } from "../../dist/runtime/hosts/node/fs/fs.js";
import type { FsTarget } from "../../dist/runtime/capabilities/types.js";
import type { Call } from "./attacker.js";
import { attack, expectNoSecretSeen, kernelFor, makeTree, type Tree } from "./fs-link-tree.js";
import { guestError, makeQuota } from "./helpers.js";

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

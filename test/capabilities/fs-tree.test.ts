/**
 * Recursive operations decide every entry first (issue 13, item 3).
 *
 * `remove(dir, { recursive: true })`, `mkdir(dir, { recursive: true })` and `list(dir)` touch
 * more than the path the agent wrote. The capability plans what the call would touch, the gate
 * decides each planned entry, and one denied entry refuses the whole removal or mkdir (one call
 * in the log, its decision naming the entry); a listing leaves out the entries the policy would
 * not let the agent stat. The host is checked afterwards: the protected subtree, every file in
 * it, and everything a link inside the tree points to, still exist.
 */
import { existsSync, mkdirSync, realpathSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KernelSpace, openLog, redecideRun } from "../../dist/runtime/index.js";
import { MAX_PLAN_ENTRIES, createFs, parseMount } from "../../dist/runtime/hosts/node/fs/fs.js";
import { attack } from "./attacker.js";
import { guestError, makeQuota, snapshotTree, tempDir } from "./helpers.js";

const BASICS = { id: "basics", action: ["log.write", "clock.now", "random.bytes", "process.*"], effect: "allow" };
const POLICY = {
  version: 1,
  name: "tree",
  default: "deny",
  rules: [
    BASICS,
    { id: "workspace", action: "fs.*", resource: "/workspace/**", effect: "allow" },
    { id: "keep", action: "fs.*", resource: "/workspace/project/keep/**", effect: "deny", reason: "keep/ is protected" },
    { id: "protected", action: "fs.*", resource: "/workspace/protected/**", effect: "deny", reason: "protected" },
    { id: "no-forbidden-dir", action: "fs.mkdir", resource: "/workspace/tmp/forbidden", effect: "deny", reason: "no such directory" },
  ],
};

interface Tree {
  ws: string;
  snapshot(): Record<string, string>;
  cleanup(): void;
}

/** ws/project with keep/ (protected) among ordinary entries, ws/protected/, and links into it from inside trees. */
function makeTree(): Tree {
  const tmp = tempDir("tree");
  const ws = join(realpathSync(tmp.path), "ws");
  for (const d of ["project/src", "project/keep/inner", "protected/sub", "linked/src", "tmp"]) mkdirSync(join(ws, d), { recursive: true });
  writeFileSync(join(ws, "project", "a.txt"), "a");
  writeFileSync(join(ws, "project", "src", "x.ts"), "x");
  writeFileSync(join(ws, "project", "keep", "k1.txt"), "k1");
  writeFileSync(join(ws, "project", "keep", "inner", "k2.txt"), "k2");
  writeFileSync(join(ws, "protected", "p.txt"), "p");
  writeFileSync(join(ws, "protected", "sub", "q.txt"), "q");
  writeFileSync(join(ws, "linked", "src", "y.ts"), "y");
  symlinkSync("../protected", join(ws, "linked", "to-protected"));
  symlinkSync("../protected/p.txt", join(ws, "linked", "src", "p-link"));
  symlinkSync("project", join(ws, "project-alias"));
  symlinkSync("protected", join(ws, "mk"));
  return { ws, snapshot: () => snapshotTree(ws), cleanup: tmp.cleanup };
}

describe("fs trees: every entry is decided before any is touched", () => {
  let tree: Tree;
  let kernel: KernelSpace;
  beforeEach(() => {
    tree = makeTree();
    kernel = new KernelSpace({ policy: POLICY, log: false, pool: { warm: 1 }, mounts: { "/workspace": tree.ws } });
  });
  afterEach(async () => {
    await kernel.close();
    tree.cleanup();
  });

  it("a recursive remove of an ancestor of a protected subtree is refused as a whole, logged as one call naming the entry", async () => {
    const before = tree.snapshot();
    const { told, result } = await attack(kernel, [
      { fs: "remove", path: "/workspace/project" },
      { fs: "remove", path: "/workspace/project-alias/keep" },
      { fs: "remove", path: "/workspace/project/keep/inner" },
    ]);
    expect(told[0]).toMatchObject({ tag: "denied", rule: "keep" });
    expect(told[0].reason).toBe("on /workspace/project/keep (an entry the call touches): keep/ is protected");
    expect(told[1]).toMatchObject({ tag: "denied", rule: "keep" });
    expect(told[2]).toMatchObject({ tag: "denied", rule: "keep" });
    expect(tree.snapshot()).toEqual(before); // nothing at all was removed: not a.txt, not src/
    for (const f of ["project/keep/k1.txt", "project/keep/inner/k2.txt", "project/a.txt", "project/src/x.ts"]) expect(existsSync(join(tree.ws, f))).toBe(true);
    const log = await kernel.log;
    const calls = [];
    for await (const e of log.query({ runId: result.runId, type: "call" })) calls.push(e.data);
    expect(calls).toHaveLength(3);
    expect(calls[0]).toMatchObject({ action: "fs.remove", resource: "/workspace/project", decidedOn: "/workspace/project/keep", decision: { effect: "deny", rule: "keep" } });
    expect(calls[0].entries).toEqual([
      "/workspace/project/a.txt",
      "/workspace/project/keep",
      "/workspace/project/src",
      "/workspace/project/keep/inner",
      "/workspace/project/keep/k1.txt",
      "/workspace/project/src/x.ts",
      "/workspace/project/keep/inner/k2.txt",
    ]);
    expect(result.denials.map((d) => d.resource)).toEqual(["/workspace/project", "/workspace/project/keep", "/workspace/project/keep/inner"]);
  });

  it("a removal never follows a link: a tree holding links to protected/ goes, protected/ stays; a link to a tree is removed as a link", async () => {
    const protectedBefore = snapshotTree(join(tree.ws, "protected"));
    const { told } = await attack(kernel, [
      { fs: "remove", path: "/workspace/linked" },
      { fs: "remove", path: "/workspace/project-alias" },
      { fs: "remove", path: "/workspace/project" }, // still refused: keep/ is protected
    ]);
    expect(told.map((t) => t.tag)).toEqual(["ok", "ok", "denied"]);
    expect(existsSync(join(tree.ws, "linked"))).toBe(false);
    expect(existsSync(join(tree.ws, "project-alias"))).toBe(false);
    expect(snapshotTree(join(tree.ws, "protected"))).toEqual(protectedBefore);
    expect(existsSync(join(tree.ws, "project", "keep", "inner", "k2.txt"))).toBe(true);
  });

  it("mkdir -p decides each directory it would create, and the links it passes; nothing is created when one is denied", async () => {
    const before = tree.snapshot();
    const { told } = await attack(kernel, [
      { fs: "mkdir", path: "/workspace/tmp/forbidden/deeper/leaf" },
      { fs: "mkdir", path: "/workspace/new/tmp/forbidden" },
      { fs: "mkdir", path: "/workspace/mk/made/deeper" },
      { fs: "mkdir", path: "/workspace/project/keep/made" },
      { fs: "mkdir", path: "/workspace/tmp/allowed/deeper" },
    ]);
    expect(told[0]).toMatchObject({ tag: "denied", rule: "no-forbidden-dir" });
    expect(told[0].reason).toBe("on /workspace/tmp/forbidden (an entry the call touches): no such directory");
    expect(told[1].tag).toBe("ok"); // /workspace/new/tmp/forbidden is another path
    expect(told[2]).toMatchObject({ tag: "denied", rule: "protected" });
    expect(told[3]).toMatchObject({ tag: "denied", rule: "keep" });
    expect(told[4].tag).toBe("ok");
    const after = tree.snapshot();
    const created = Object.keys(after).filter((p) => !(p in before)).map((p) => p.slice(tree.ws.length));
    expect(created.sort()).toEqual(["/new", "/new/tmp", "/new/tmp/forbidden", "/tmp/allowed", "/tmp/allowed/deeper"]);
  });

  it("a listing leaves out the entries the agent may not stat, and says how many in the log", async () => {
    const { told, result } = await attack(kernel, [
      { fs: "list", path: "/workspace/project" },
      { fs: "list", path: "/workspace" },
      { fs: "list", path: "/workspace/project/keep" },
    ]);
    expect(told[0]).toEqual({ tag: "ok", value: "a.txt,src" });
    expect(told[1]).toEqual({ tag: "ok", value: "linked,mk,project,project-alias,tmp" });
    expect(told[2]).toMatchObject({ tag: "denied", rule: "keep" });
    const log = await kernel.log;
    const calls = [];
    for await (const e of log.query({ runId: result.runId, type: "call" })) calls.push(e.data);
    expect(calls[0]).toMatchObject({ resource: "/workspace/project", hidden: 1, decision: { effect: "allow" } });
    expect(calls[1]).toMatchObject({ resource: "/workspace", hidden: 1 });
  });

  it(`a tree of more than ${MAX_PLAN_ENTRIES} entries is refused (limit) before anything is removed`, async () => {
    const big = join(tree.ws, "big");
    mkdirSync(join(big, "d"), { recursive: true });
    for (let i = 0; i <= MAX_PLAN_ENTRIES; i++) writeFileSync(join(big, "d", `f${i}`), ""); // one more than a plan holds, in one directory
    const { told } = await attack(kernel, [
      { fs: "remove", path: "/workspace/big" },
      { fs: "list", path: "/workspace/big/d" },
      { fs: "stat", path: "/workspace/big/d/f0" },
    ]);
    expect(told[0]).toMatchObject({ tag: "limit" });
    expect(told[0].reason).toContain(`more than ${MAX_PLAN_ENTRIES} entries`);
    expect(told[1]).toMatchObject({ tag: "limit" });
    expect(told[2]).toEqual({ tag: "ok", value: "file" });
    for (let i = 0; i <= MAX_PLAN_ENTRIES; i += 1000) expect(existsSync(join(big, "d", `f${i}`))).toBe(true);
    expect(existsSync(join(big, "d", `f${MAX_PLAN_ENTRIES}`))).toBe(true);
  }, 180_000); // ten thousand files to create and walk, on a machine that may be busy
});

describe("fs trees: counterfactual replay decides the recorded entries", () => {
  it("a removal allowed under a broad policy would be denied by the policy that protects keep/", async () => {
    const tree = makeTree();
    const logDir = tempDir("tree-log");
    const broad = { version: 1, name: "broad", default: "deny", rules: [BASICS, { id: "fs-any", action: "fs.*", effect: "allow" }] };
    const kernel = new KernelSpace({ policy: broad, log: { dir: logDir.path }, pool: { warm: 1 }, mounts: { "/workspace": tree.ws } });
    try {
      const { told, result } = await attack(kernel, [{ fs: "remove", path: "/workspace/project" }]);
      expect(told[0].tag).toBe("ok");
      expect(existsSync(join(tree.ws, "project"))).toBe(false);
      await kernel.close();
      const log = await openLog({ dir: logDir.path });
      try {
        const report = await redecideRun(log, result.runId, POLICY);
        expect(report.changes).toHaveLength(1);
        expect(report.changes[0]).toMatchObject({ resource: "/workspace/project", before: { effect: "allow" }, after: { effect: "deny", rule: "keep" } });
        expect(report.changes[0].after.reason).toContain("/workspace/project/keep");
      } finally {
        await log.close();
      }
    } finally {
      await kernel.close();
      tree.cleanup();
      logDir.cleanup();
    }
  });
});

describe("fs trees: the capability acts on exactly the plan", () => {
  let tree: Tree;
  beforeEach(() => {
    tree = makeTree();
  });
  afterEach(() => tree.cleanup());

  it("an entry that appears after the plan stays, and so does its directory; a planned directory swapped for a link is refused", async () => {
    const fs = createFs({ mounts: [parseMount(`/workspace=${tree.ws}`)], quota: makeQuota() });
    const plan = await fs.plan(fs.resolve("/workspace/project", "keep"), "remove");
    expect(plan.entries?.map((e) => e.path)).toContain("/workspace/project/keep/inner/k2.txt");
    writeFileSync(join(tree.ws, "project", "src", "late.ts"), "late");
    const err = await guestError(() => fs.remove(plan, true));
    expect(err.error.tag).toBe("denied");
    expect((err.error.val as { reason: string }).reason).toBe("/workspace/project/src holds entries that appeared after the call was decided; they were not removed");
    expect(existsSync(join(tree.ws, "project", "src", "late.ts"))).toBe(true);

    const linked = await fs.plan(fs.resolve("/workspace/linked", "keep"), "remove");
    const protectedBefore = snapshotTree(join(tree.ws, "protected"));
    // src/ (planned as a directory with y.ts and p-link) becomes a link to protected/.
    renameSync(join(tree.ws, "linked", "src"), join(tree.ws, "src-moved"));
    symlinkSync("../protected", join(tree.ws, "linked", "src"));
    const swapped = await guestError(() => fs.remove(linked, true));
    expect(swapped.error.tag).toBe("denied");
    expect(snapshotTree(join(tree.ws, "protected"))).toEqual(protectedBefore);
  });
});

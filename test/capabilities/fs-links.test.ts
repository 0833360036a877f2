/**
 * Symbolic links inside a mount must not defeat a deny rule (issue 13, item 1).
 *
 * The policy allows fs.* on /workspace/** and denies /workspace/secret/**. The mount holds links
 * that lead into secret/ in many spellings (relative, absolute host paths, chains, through `..`,
 * through the mount root, in the middle of a path, through a link inside secret/ itself). A real
 * agent (QuickJS, worker thread, channel, gate) tries every operation through every spelling;
 * then the host is checked: secret/ is byte for byte what it was, and the agent never saw its
 * content. The log, replay, counterfactual replay and suggest are checked too; links created or
 * swapped while an agent runs are in fs-races.test.ts.
 */
import { lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KernelSpace, loadPolicy, observeRuns, openLog, redecideRun, suggestPolicy, type KernelLog } from "../../dist/runtime/index.js";
import { formatEvent } from "../../dist/runtime/episodic/format.js";
import { BASICS, DIR_SPELLINGS, FILE_SPELLINGS, KEY, POLICY, attack, expectNoSecretSeen, kernelFor, makeTree, type Tree } from "./fs-link-tree.js";
import type { Call } from "./attacker.js";
import { tempDir } from "./helpers.js";

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

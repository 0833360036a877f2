/**
 * Hard links (issue 13, item 2): a file inside the mount that is another name of a file outside
 * it. By default such a file (more than one link) is neither read nor appended to; a replacing
 * write renames a new file over the name and so never writes through it; stat and remove touch
 * the name only. A mount opts in with `allowHardLinks` (`--mount /ws=./ws:hardlinks`).
 * A real agent tries each; then the outside file is checked.
 */
import { spawnSync } from "node:child_process";
import { linkSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KernelSpace } from "../../dist/runtime/index.js";
import { SYNC_READ_BYTES, createFs, parseMount } from "../../dist/runtime/hosts/node/fs/fs.js";
import { attack } from "./attacker.js";
import { guestError, makeQuota, tempDir } from "./helpers.js";

const VICTIM = "VICTIM-outside-the-mount";
const BROAD = {
  version: 1,
  name: "broad",
  default: "deny",
  rules: [{ id: "fs-any", action: "fs.*", effect: "allow" }],
};

interface Host {
  root: string;
  ws: string;
  victim: string;
  bigVictim: string;
  cleanup(): void;
}

/** outside/victim.txt (small) and outside/big.txt (read asynchronously), each with a second name in ws/. */
function makeHost(): Host {
  const tmp = tempDir("hardlinks");
  const root = realpathSync(tmp.path);
  const ws = join(root, "ws");
  const outside = join(root, "outside");
  mkdirSync(ws);
  mkdirSync(outside);
  const victim = join(outside, "victim.txt");
  const bigVictim = join(outside, "big.txt");
  writeFileSync(victim, VICTIM);
  writeFileSync(bigVictim, VICTIM.repeat(Math.ceil((SYNC_READ_BYTES * 2) / VICTIM.length)));
  linkSync(victim, join(ws, "hl.txt"));
  linkSync(victim, join(ws, "hl-replace.txt"));
  linkSync(victim, join(ws, "hl-remove.txt"));
  linkSync(bigVictim, join(ws, "hl-big.txt"));
  writeFileSync(join(ws, "plain.txt"), "plain");
  return { root, ws, victim, bigVictim, cleanup: tmp.cleanup };
}

describe("fs hard links: refused by default", () => {
  let host: Host;
  let kernel: KernelSpace;
  beforeEach(() => {
    host = makeHost();
    kernel = new KernelSpace({ policy: BROAD, log: false, pool: { warm: 1 }, mounts: { "/workspace": host.ws } });
  });
  afterEach(async () => {
    await kernel.close();
    host.cleanup();
  });

  it("reads and appends through a second name are denied, naming the reason and no host path; the outside file is unchanged", async () => {
    const { told } = await attack(kernel, [
      { fs: "read", path: "/workspace/hl.txt" },
      { fs: "readText", path: "/workspace/hl.txt" },
      { fs: "readText", path: "/workspace/hl-big.txt" },
      { fs: "append", path: "/workspace/hl.txt", text: "APPENDED" },
      { fs: "append", path: "/workspace/hl-big.txt", text: "APPENDED" },
      { fs: "readText", path: "/workspace/plain.txt" },
      { fs: "append", path: "/workspace/plain.txt", text: "+" },
    ]);
    for (const t of told.slice(0, 5)) {
      expect(t).toMatchObject({ tag: "denied", rule: null });
      expect(t.reason).toMatch(/^\/workspace\/hl(-big)?\.txt has [24] hard links/);
      expect(t.reason).toContain("does not allow");
      expect(t.reason).not.toContain(host.root);
      expect(t.value ?? "").not.toContain("VICTIM");
    }
    expect(told.slice(5)).toEqual([{ tag: "ok", value: "plain" }, { tag: "ok", value: "" }]);
    expect(readFileSync(host.victim, "utf8")).toBe(VICTIM);
    expect(readFileSync(host.bigVictim, "utf8")).not.toContain("APPENDED");
  });

  it("what acts on the name goes through (a replacing write, stat, remove), beside an append that is refused", async () => {
    const { told } = await attack(kernel, [
      { fs: "append", path: "/workspace/hl-replace.txt", text: "+more" },
      { fs: "write", path: "/workspace/hl-replace.txt", text: "replaced" },
      { fs: "append", path: "/workspace/hl-replace.txt", text: "+more" },
      { fs: "readText", path: "/workspace/hl-replace.txt" },
      { fs: "stat", path: "/workspace/hl.txt" },
      { fs: "remove", path: "/workspace/hl-remove.txt" },
    ]);
    expect(told[0]).toMatchObject({ tag: "denied" });
    // The rename put a new file with one link under the name: appending to it is appending to the mount's own file.
    expect(told.slice(1)).toEqual([{ tag: "ok", value: "" }, { tag: "ok", value: "" }, { tag: "ok", value: "replaced+more" }, { tag: "ok", value: "file" }, { tag: "ok", value: "" }]);
    expect(statSync(join(host.ws, "hl-replace.txt")).nlink).toBe(1);
    expect(readFileSync(host.victim, "utf8")).toBe(VICTIM);
  });
});

describe("fs hard links: a mount opts in", () => {
  let host: Host;
  beforeEach(() => {
    host = makeHost();
  });
  afterEach(() => host.cleanup());

  it("with allowHardLinks, reads and appends go through (and so reach the other name); beside it a mount without still refuses", async () => {
    const kernel = new KernelSpace({
      policy: BROAD,
      log: false,
      pool: { warm: 1 },
      mounts: { "/yes": { host: host.ws, allowHardLinks: true }, "/no": { host: host.ws, allowHardLinks: false } },
    });
    try {
      const { told } = await attack(kernel, [
        { fs: "readText", path: "/no/hl.txt" },
        { fs: "append", path: "/no/hl.txt", text: "+refused" },
        { fs: "readText", path: "/yes/hl.txt" },
        { fs: "append", path: "/yes/hl.txt", text: "+shared" },
      ]);
      expect(told[0]).toMatchObject({ tag: "denied" });
      expect(told[1]).toMatchObject({ tag: "denied" });
      expect(told.slice(2)).toEqual([{ tag: "ok", value: VICTIM }, { tag: "ok", value: "" }]);
      expect(readFileSync(host.victim, "utf8")).toBe(`${VICTIM}+shared`);
    } finally {
      await kernel.close();
    }
  });

  it("--mount spells it :hardlinks, and a read-only mount with it still refuses changes", async () => {
    const fs = createFs({ mounts: [parseMount(`/ro=${host.ws}:ro,hardlinks`), parseMount(`/no=${host.ws}`), parseMount(`/yes=${host.ws}:hardlinks`)], quota: makeQuota() });
    expect(new TextDecoder().decode(await fs.read("/ro/hl.txt"))).toBe(VICTIM);
    expect(new TextDecoder().decode(await fs.read("/yes/hl-big.txt"))).toBe(readFileSync(host.bigVictim, "utf8"));
    expect((await guestError(() => fs.writeText("/ro/hl.txt", "x", true))).error).toEqual({ tag: "denied", val: { reason: "mount /ro is read-only" } });
    expect((await guestError(() => fs.read("/no/hl.txt"))).error.tag).toBe("denied");
    expect((await guestError(() => fs.read("/no/hl-big.txt"))).error.tag).toBe("denied");
    expect(readFileSync(host.victim, "utf8")).toBe(VICTIM);
  });
});

describe("fs hard links: agent-os run --mount", () => {
  const bin = new URL("../../dist/runtime/cli/bin.js", import.meta.url).pathname;
  let host: Host;
  beforeEach(() => {
    host = makeHost();
  });
  afterEach(() => host.cleanup());

  /** Runs an agent that reads and appends to /ws/hl.txt under `--mount /ws=<ws><suffix>`; returns what it was told. */
  function runWith(suffix: string): { code: number | null; stdout: string; stderr: string } {
    const agent = join(host.root, "agent.js");
    writeFileSync(
      agent,
      `import { fs } from "agent-os/guest";
export async function run() {
  const told = [];
  for (const step of [() => fs.readText("/ws/hl.txt"), () => fs.write("/ws/hl.txt", "+cli", { append: true })]) {
    try { told.push("ok " + ((await step()) ?? "")); } catch (e) { told.push(e.name + " " + (e.reason ?? e.message)); }
  }
  return told.join("\\n");
}`,
    );
    const policy = join(host.root, "policy.yaml");
    writeFileSync(policy, "version: 1\nname: cli\ndefault: deny\nrules:\n  - id: ws\n    action: fs.*\n    resource: /ws/**\n    effect: allow\n");
    const r = spawnSync(process.execPath, [bin, "run", agent, "--policy", policy, "--mount", `/ws=${host.ws}${suffix}`, "--no-log"], { cwd: host.root, encoding: "utf8", timeout: 120_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it("refuses by default, goes through with :rw,hardlinks, and :ro,hardlinks reads but does not append; a mistyped option exits 2", () => {
    const plain = runWith("");
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout, plain.stderr).toMatch(/^PermissionDenied \/ws\/hl\.txt has 4 hard links.*\nPermissionDenied \/ws\/hl\.txt has 4 hard links/);
    expect(readFileSync(host.victim, "utf8")).toBe(VICTIM);
    const readOnly = runWith(":ro,hardlinks");
    expect(readOnly.stdout, `exit ${readOnly.code}; stderr: ${readOnly.stderr}`).toMatch(new RegExp(`^ok ${VICTIM}\nPermissionDenied mount /ws is read-only`));
    expect(readFileSync(host.victim, "utf8")).toBe(VICTIM);
    const allowed = runWith(":rw,hardlinks");
    expect(allowed.stdout, allowed.stderr).toBe(`ok ${VICTIM}\nok \n`);
    expect(readFileSync(host.victim, "utf8")).toBe(`${VICTIM}+cli`);
    const typo = runWith(":ro,hardlink");
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('mount options after ":" are ro, rw, hardlinks');
  }, 240_000); // four agent-os processes, one after the other, on a machine that may be busy
});

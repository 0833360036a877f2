import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SYNC_READ_BYTES, createFs, normalizeMounts, parseMount } from "../../dist/runtime/hosts/node/fs/fs.js";
import type { FsHost, RunQuota } from "../../dist/runtime/capabilities/types.js";
import { UsageError } from "../../dist/runtime/errors.js";
import { PATH_ATTACKS } from "./attack-tables.js";
import { SECRET, buildPathTree, guestError, makeQuota, outcome, tempDir } from "./helpers.js";

interface Fixture {
  root: string;
  ws: string;
  outside: string;
  data: string;
  fs: FsHost;
  quota: RunQuota;
  /** Every file under outside/, with its content: must never change. */
  outsideSnapshot(): Record<string, string>;
  cleanup(): void;
}

function makeFixture(limits = {}): Fixture {
  const tmp = tempDir("fs");
  const root = tmp.path;
  const { ws, outside, data } = buildPathTree(root);
  const quota = makeQuota(limits);
  const fs = createFs({ mounts: [parseMount(`/workspace=${ws}`), parseMount(`/data=${data}:ro`)], quota });
  const outsideSnapshot = () => Object.fromEntries(readdirSync(outside).map((n) => [n, readFileSync(join(outside, n), "utf8")]));
  return { root, ws, outside, data, fs, quota, outsideSnapshot, cleanup: tmp.cleanup };
}

describe("fs: containment", () => {
  let fx: Fixture;
  let before: Record<string, string>;
  beforeEach(() => {
    fx = makeFixture();
    before = fx.outsideSnapshot();
  });
  afterEach(() => fx.cleanup());

  it(`has at least 30 path spellings`, () => {
    expect(PATH_ATTACKS.length).toBeGreaterThanOrEqual(30);
  });

  it.each(PATH_ATTACKS)("read $path -> $expect, and no operation reaches outside", async ({ path, expect: tag }) => {
    expect(await outcome(() => fx.fs.read(path))).toBe(tag);
    expect(await outcome(() => fx.fs.readText(path))).toBe(tag);
    expect(await outcome(() => fx.fs.stat(path))).toBe(tag);
    // Writes, appends, listing, removal and mkdir through the same spelling: whatever they answer,
    // nothing outside the mount changes.
    await outcome(() => fx.fs.writeText(path, "PWNED", false));
    await outcome(() => fx.fs.writeText(path, "PWNED", true));
    await outcome(() => fx.fs.writeText(`${path}/new.txt`, "PWNED", false));
    const listed = await outcome(() => fx.fs.list(path));
    expect(listed === "ok" ? path : "").not.toMatch(/link-out|up|deep-rel|outside/);
    await outcome(() => fx.fs.mkdir(`${path}/made`, true));
    await outcome(() => fx.fs.remove(path, true));
    expect(fx.outsideSnapshot()).toEqual(before);
    expect(readFileSync(join(fx.outside, "secret.txt"), "utf8")).toBe(SECRET);
  });

  it("error messages name guest paths only", async () => {
    for (const { path } of PATH_ATTACKS) {
      try {
        await fx.fs.read(path);
      } catch (err) {
        expect(String((err as Error).message)).not.toContain(fx.root);
      }
    }
  });

  it("a write through a link that points outside replaces the link, never the target", async () => {
    await fx.fs.writeText("/workspace/file-link", "mine", false);
    expect(readFileSync(join(fx.outside, "secret.txt"), "utf8")).toBe(SECRET);
    expect(readFileSync(join(fx.ws, "file-link"), "utf8")).toBe("mine");
  });

  it("appending through a link that points outside is refused", async () => {
    expect(await outcome(() => fx.fs.writeText("/workspace/abs-link", "more", true))).toBe("not-found");
    expect(readFileSync(join(fx.outside, "secret.txt"), "utf8")).toBe(SECRET);
  });

  it("removing a link removes the link, not what it points to", async () => {
    await fx.fs.remove("/workspace/link-out", true);
    expect(existsSync(join(fx.ws, "link-out"))).toBe(false);
    expect(fx.outsideSnapshot()).toEqual(before);
  });

  it("recursive removal of a directory holding a link to outside leaves outside alone", async () => {
    await fx.fs.remove("/workspace/dir", true);
    expect(existsSync(join(fx.ws, "dir"))).toBe(false);
    expect(fx.outsideSnapshot()).toEqual(before);
  });

  it("links that stay inside the mount work", async () => {
    expect(await fx.fs.readText("/workspace/link-in")).toBe("inner");
    await fx.fs.writeText("/workspace/dir-link/via.txt", "via", false);
    expect(readFileSync(join(fx.ws, "dir", "via.txt"), "utf8")).toBe("via");
  });

  it("a FIFO is not read (and does not hang)", async () => {
    execFileSync("mkfifo", [join(fx.ws, "pipe")]);
    expect(await outcome(() => fx.fs.read("/workspace/pipe"))).toBe("invalid");
  });
});

describe("fs: a link swapped in between check and use", () => {
  let fx: Fixture;
  let attacker: ChildProcess | undefined;
  beforeEach(() => {
    fx = makeFixture();
  });
  afterEach(() => {
    attacker?.kill("SIGKILL");
    fx.cleanup();
  });

  it("never reads or writes outside while a directory and a link are swapped concurrently", async () => {
    // A separate process swaps ws/race between the real directory and a link to outside/ as fast as it can.
    const script = `
      const fs = require("node:fs");
      const [race, real, outside] = process.argv.slice(1);
      for (;;) {
        try { fs.renameSync(race, real); fs.symlinkSync(outside, race); fs.unlinkSync(race); fs.renameSync(real, race); } catch {}
      }`;
    attacker = spawn(process.execPath, ["-e", script, join(fx.ws, "race"), join(fx.ws, "race-real"), fx.outside], { stdio: "ignore" });
    const seen = new Set<string>();
    const deadline = Date.now() + 3000;
    let attempts = 0;
    while (Date.now() < deadline) {
      attempts++;
      try {
        seen.add(await fx.fs.readText("/workspace/race/f.txt"));
      } catch (err) {
        seen.add((err as { error?: { tag?: string } }).error?.tag ?? "other");
      }
      await outcome(() => fx.fs.writeText("/workspace/race/w.txt", "PWNED", false));
      await outcome(() => fx.fs.writeText("/workspace/race/f.txt", "inside", true));
      await outcome(() => fx.fs.mkdir("/workspace/race/sub", false));
      await outcome(() => fx.fs.list("/workspace/race"));
    }
    attacker.kill("SIGKILL");
    expect(attempts).toBeGreaterThan(50);
    expect(seen.has(SECRET)).toBe(false);
    expect(readdirSync(fx.outside).sort()).toEqual(["f.txt", "secret.txt"]);
    expect(readFileSync(join(fx.outside, "f.txt"), "utf8")).toBe(SECRET);
    expect(seen.has("inside") || [...seen].some((s) => s.startsWith("inside"))).toBe(true);
  });
});

describe("fs: operations", () => {
  let fx: Fixture;
  beforeEach(() => {
    fx = makeFixture();
  });
  afterEach(() => fx.cleanup());

  it("writes atomically through a temporary file in the same directory", async () => {
    await fx.fs.writeText("/workspace/a.txt", "one", false);
    await fx.fs.writeText("/workspace/a.txt", "two", false);
    await fx.fs.writeText("/workspace/a.txt", "+three", true);
    expect(await fx.fs.readText("/workspace/a.txt")).toBe("two+three");
    expect(readdirSync(fx.ws).filter((n) => n.includes(".tmp"))).toEqual([]);
    await fx.fs.write("/workspace/b.bin", new Uint8Array([0, 255, 7]), false);
    expect([...(await fx.fs.read("/workspace/b.bin"))]).toEqual([0, 255, 7]);
  });

  it("appends that create a file at once keep every line (the file is created exclusively, not replaced)", async () => {
    const lines = Array.from({ length: 24 }, (_, i) => `line ${i}\n`);
    await Promise.all(lines.map((line) => fx.fs.writeText("/workspace/log.txt", line, true)));
    expect(readFileSync(join(fx.ws, "log.txt"), "utf8").split(/(?<=\n)/).sort()).toEqual([...lines].sort());
    expect(fx.quota.fsFilesCreated).toBe(1);
    expect(readdirSync(fx.ws).filter((n) => n.includes(".tmp"))).toEqual([]);
  });

  it("lists, stats, makes and removes directories", async () => {
    await fx.fs.mkdir("/workspace/x/y/z", true);
    await fx.fs.writeText("/workspace/x/y/z/f.txt", "hi", false);
    expect(await fx.fs.list("/workspace/x/y/z")).toEqual([{ name: "f.txt", kind: "file" }]);
    const listing = await fx.fs.list("/workspace");
    expect(listing.find((e) => e.name === "link-out")).toEqual({ name: "link-out", kind: "symlink" });
    const st = await fx.fs.stat("/workspace/x/y/z/f.txt");
    expect(st.kind).toBe("file");
    expect(st.size).toBe(2n);
    expect(typeof st.modifiedMs).toBe("bigint");
    expect((await fx.fs.stat("/workspace/x")).kind).toBe("directory");
    expect(await outcome(() => fx.fs.mkdir("/workspace/x", false))).toBe("invalid");
    expect(await outcome(() => fx.fs.remove("/workspace/x", false))).toBe("invalid");
    await fx.fs.remove("/workspace/x", true);
    expect(existsSync(join(fx.ws, "x"))).toBe(false);
    expect(await outcome(() => fx.fs.read("/workspace/x/y/z/f.txt"))).toBe("not-found");
  });

  it("refuses a missing parent, a directory as a file and the mount root", async () => {
    expect(await outcome(() => fx.fs.writeText("/workspace/no/such/f.txt", "x", false))).toBe("not-found");
    expect(await outcome(() => fx.fs.writeText("/workspace/dir", "x", false))).toBe("invalid");
    expect(await outcome(() => fx.fs.read("/workspace/dir"))).toBe("invalid");
    const err = await guestError(() => fx.fs.remove("/workspace", true));
    expect(err.error.tag).toBe("denied");
    expect(existsSync(fx.ws)).toBe(true);
  });

  it("a read-only mount refuses every change, naming the mount", async () => {
    for (const op of [
      () => fx.fs.writeText("/data/ro.txt", "x", false),
      () => fx.fs.writeText("/data/new.txt", "x", false),
      () => fx.fs.remove("/data/ro.txt", false),
      () => fx.fs.mkdir("/data/d", false),
    ]) {
      const err = await guestError(op);
      expect(err.error).toEqual({ tag: "denied", val: { reason: "mount /data is read-only" } });
    }
    expect(readFileSync(join(fx.data, "ro.txt"), "utf8")).toBe("read only");
    expect(readdirSync(fx.data)).toEqual(["ro.txt"]);
    expect(await fx.fs.readText("/data/ro.txt")).toBe("read only");
  });

  it("reads small files at once and large ones asynchronously, with the same checks and content", async () => {
    const small = Buffer.alloc(SYNC_READ_BYTES, 7);
    const large = Buffer.alloc(SYNC_READ_BYTES * 3 + 5);
    for (let i = 0; i < large.length; i++) large[i] = 0x21 + ((i * 31) % 90); // printable ASCII: valid UTF-8
    writeFileSync(join(fx.ws, "small.bin"), small);
    writeFileSync(join(fx.ws, "large.bin"), large);
    writeFileSync(join(fx.outside, "large.bin"), large);
    symlinkSync("../outside/large.bin", join(fx.ws, "large-out"));
    const quick = fx.fs.read("/workspace/small.bin");
    expect(quick).toBeInstanceOf(Uint8Array); // no thread-pool round trip for a small file
    expect(Buffer.from(quick as Uint8Array).equals(small)).toBe(true);
    const slow = fx.fs.read("/workspace/large.bin");
    expect(slow).toBeInstanceOf(Promise);
    expect(Buffer.from(await slow).equals(large)).toBe(true);
    expect(await fx.fs.readText("/workspace/large.bin")).toBe(large.toString("latin1"));
    // A large file behind a link that leads outside is no more reachable than a small one.
    expect(await outcome(() => fx.fs.read("/workspace/large-out"))).toBe("not-found");
    expect(await outcome(() => fx.fs.read("/workspace/file-link"))).toBe("not-found");
    expect((fx.fs.stat("/workspace/large.bin") as { size: bigint }).size).toBe(BigInt(large.length));
  });

  it("readText refuses bytes that are not UTF-8", async () => {
    writeFileSync(join(fx.ws, "bad.txt"), Buffer.from([0xff, 0xfe, 0x00]));
    expect(await outcome(() => fx.fs.readText("/workspace/bad.txt"))).toBe("invalid");
  });
});

describe("fs: descriptors", () => {
  it("no operation leaves a descriptor open, whether it succeeds or fails", async () => {
    const fx = makeFixture();
    try {
      const open = () => readdirSync("/proc/self/fd").length;
      writeFileSync(join(fx.ws, "large.bin"), Buffer.alloc(SYNC_READ_BYTES * 2, 0x61));
      mkdirSync(join(fx.ws, "tree", "sub"), { recursive: true });
      const before = open();
      for (let i = 0; i < 100; i++) {
        await fx.fs.read("/workspace/inner.txt");
        await fx.fs.read("/workspace/large.bin");
        await outcome(() => fx.fs.read("/workspace/dir"));
        await outcome(() => fx.fs.read("/workspace/link-out/secret.txt"));
        fx.fs.stat("/workspace/inner.txt");
        await fx.fs.list("/workspace/tree");
        await fx.fs.writeText("/workspace/w.txt", "x", false);
        await fx.fs.writeText("/workspace/w.txt", "y", true);
        await fx.fs.mkdir("/workspace/tree/sub/a/b", true);
        await fx.fs.remove("/workspace/tree/sub/a", true);
        await outcome(() => fx.fs.remove("/workspace/tree", false));
      }
      expect(open()).toBeLessThanOrEqual(before + 2);
    } finally {
      fx.cleanup();
    }
  });
});

describe("fs: quotas", () => {
  it("caps bytes written per run, files created per run and the largest read", async () => {
    const fx = makeFixture({ fsWriteBytes: 10, fsFilesCreated: 2, fsReadBytes: 8 });
    try {
      await fx.fs.writeText("/workspace/q1.txt", "12345", false);
      expect(await outcome(() => fx.fs.writeText("/workspace/q1.txt", "123456", false))).toBe("limit");
      await fx.fs.writeText("/workspace/q2.txt", "1", false);
      expect(await outcome(() => fx.fs.writeText("/workspace/q3.txt", "1", false))).toBe("limit");
      expect(await outcome(() => fx.fs.mkdir("/workspace/qd", false))).toBe("limit");
      expect(existsSync(join(fx.ws, "q3.txt"))).toBe(false);
      expect(fx.quota.fsBytesWritten).toBe(6);
      expect(fx.quota.fsFilesCreated).toBe(2);
      writeFileSync(join(fx.ws, "big.txt"), "123456789");
      expect(await outcome(() => fx.fs.read("/workspace/big.txt"))).toBe("limit");
      expect(await fx.fs.readText("/workspace/q1.txt")).toBe("12345");
    } finally {
      fx.cleanup();
    }
  });

  it("the read limit holds on both sides of the synchronous threshold", async () => {
    const limit = SYNC_READ_BYTES * 2;
    const fx = makeFixture({ fsReadBytes: limit });
    try {
      writeFileSync(join(fx.ws, "at-limit.bin"), Buffer.alloc(limit, 1));
      writeFileSync(join(fx.ws, "over-limit.bin"), Buffer.alloc(limit + 1, 1));
      expect((await fx.fs.read("/workspace/at-limit.bin")).byteLength).toBe(limit);
      expect(await outcome(() => fx.fs.read("/workspace/over-limit.bin"))).toBe("limit");
    } finally {
      fx.cleanup();
    }
  });
});

describe("fs: mounts", () => {
  it("parses --mount and the API form, resolving real paths", () => {
    const tmp = tempDir("mounts");
    try {
      mkdirSync(join(tmp.path, "ws"));
      symlinkSync("ws", join(tmp.path, "ws-link"));
      const ws = join(tmp.path, "ws");
      const plain = { host: ws, readOnly: false, allowHardLinks: false };
      expect(parseMount("/workspace=./ws", tmp.path)).toEqual({ guest: "/workspace", ...plain });
      expect(parseMount("/data//x/=ws-link:ro", tmp.path)).toEqual({ guest: "/data/x", ...plain, readOnly: true });
      expect(parseMount("/w=./ws:rw", tmp.path)).toEqual({ guest: "/w", ...plain });
      expect(parseMount("/w=./ws:hardlinks", tmp.path)).toEqual({ guest: "/w", ...plain, allowHardLinks: true });
      expect(parseMount("/w=./ws:ro,hardlinks", tmp.path)).toEqual({ guest: "/w", ...plain, readOnly: true, allowHardLinks: true });
      expect(parseMount("/w=./ws:hardlinks,rw", tmp.path)).toEqual({ guest: "/w", ...plain, allowHardLinks: true });
      // A suffix that is not a list of options is part of the directory's name.
      mkdirSync(join(tmp.path, "a:b"));
      expect(parseMount("/w=./a:b", tmp.path)).toEqual({ guest: "/w", ...plain, host: join(tmp.path, "a:b") });
      expect(parseMount("/w=./a:b:ro", tmp.path)).toEqual({ guest: "/w", ...plain, host: join(tmp.path, "a:b"), readOnly: true });
      expect(() => parseMount("/w=./ws:ro,rw", tmp.path)).toThrow(/ro or rw, not both/);
      expect(() => parseMount("/w=./ws:ro,ro", tmp.path)).toThrow(/given twice/);
      expect(() => parseMount("/w=./ws:ro,hardlink", tmp.path)).toThrow(/mount options after ":" are ro, rw, hardlinks/);
      expect(() => parseMount("/w=./missing", tmp.path)).toThrow(UsageError);
      writeFileSync(join(tmp.path, "file"), "");
      expect(() => parseMount("/w=./file", tmp.path)).toThrow(UsageError);
      expect(() => parseMount("workspace=./ws", tmp.path)).toThrow(UsageError);
      expect(() => parseMount("./ws", tmp.path)).toThrow(UsageError);
      const mounts = normalizeMounts({ "/a": ws, "/b": { host: ws, readOnly: true }, "/c": { host: ws, allowHardLinks: true } });
      expect(mounts).toEqual([
        { guest: "/a", ...plain },
        { guest: "/b", ...plain, readOnly: true },
        { guest: "/c", ...plain, allowHardLinks: true },
      ]);
      expect(() => normalizeMounts({ "/a": { host: ws, allowHardLinks: "yes" as unknown as boolean } })).toThrow(/allowHardLinks must be true or false/);
      expect(() => normalizeMounts({ "/a": join(tmp.path, "nope") })).toThrow(UsageError);
    } finally {
      tmp.cleanup();
    }
  });

  it("maps a path to the longest matching mount", async () => {
    const tmp = tempDir("nested");
    try {
      mkdirSync(join(tmp.path, "outer"));
      mkdirSync(join(tmp.path, "inner"));
      writeFileSync(join(tmp.path, "inner", "f.txt"), "inner mount");
      writeFileSync(join(tmp.path, "outer", "f.txt"), "outer mount");
      const fs = createFs({ mounts: [parseMount(`/a=${join(tmp.path, "outer")}`), parseMount(`/a/b=${join(tmp.path, "inner")}:ro`)], quota: makeQuota() });
      expect(await fs.readText("/a/b/f.txt")).toBe("inner mount");
      expect(await fs.readText("/a/f.txt")).toBe("outer mount");
      expect(await outcome(() => fs.writeText("/a/b/g.txt", "x", false))).toBe("denied");
    } finally {
      tmp.cleanup();
    }
  });

  it("no mounts: every path is not-found", async () => {
    const fs = createFs({ mounts: [], quota: makeQuota() });
    expect(await outcome(() => fs.read("/etc/passwd"))).toBe("not-found");
    expect(await outcome(() => fs.list("/"))).toBe("not-found");
  });
});

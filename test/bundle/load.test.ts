/**
 * kernel.load() bundles a QuickJS agent with the bundler step of `agent-os build`: its own files,
 * its npm packages, TypeScript; Node built-ins, URLs and files outside its directory refused with
 * the file and line; the bundle cached by content, authenticated, and the cache's entries checked.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sign } from "../../dist/runtime/engines/component/trust.js";
import { AgentLoadError, KernelSpace, UsageError, bundleModule, type KernelOptions } from "../../dist/runtime/index.js";
import { policyWith, tempDir } from "../kernel/helpers.js";
import { OUTPUT, TASK, TS_OUTPUT, makeProject, type Project } from "./project.js";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const scratch = tempDir("agent-os-bundle-cache-");
const key = new Uint8Array(randomBytes(32));
let project: Project;
let kernel: KernelSpace;

const kernelWith = (options: KernelOptions = {}) => new KernelSpace({ policy: policyWith(), log: false, pool: { warm: 1 }, ...options });

beforeAll(() => {
  project = makeProject();
  kernel = kernelWith({ cache: false });
});
afterAll(async () => {
  await kernel.close();
  project.remove();
  scratch.remove();
});

/** The module specifiers a bundle still imports (what the isolate's loader must serve). */
function importsOf(code: string): string[] {
  return [...code.matchAll(/\bfrom\s*"([^"]+)"|\bimport\s*\(\s*"([^"]+)"/g)].map((m) => m[1] ?? m[2]);
}

describe("an agent with dependencies", () => {
  it("runs on QuickJS: a relative import, yaml and a package of its own, bundled into its code", async () => {
    const agent = await kernel.load(project.agent);
    expect(agent).toMatchObject({ name: expect.stringMatching(/^agent-os-bundle-/), kind: "module", engine: "quickjs" });
    expect(agent.codeHash).toBe(sha256(agent.source));
    expect(importsOf(agent.source)).toEqual(["agent-os/guest"]);
    expect(agent.source).toContain('"hello " + name');
    const result = await kernel.execute(agent, TASK);
    expect(result).toMatchObject({ status: "ok", output: OUTPUT });
  });

  it("runs TypeScript directly: types stripped, a .ts module imported as .js, picomatch bundled", async () => {
    const agent = await kernel.load(project.tsAgent);
    expect(agent.name).toBe("ts");
    expect(agent.source).not.toMatch(/interface Matched|: string/);
    expect(await kernel.execute(agent, "a.md b.md x.js notes.md")).toMatchObject({ status: "ok", output: TS_OUTPUT });
  });

  it("bundles the same files to the same code from any working directory", async () => {
    const here = await bundleModule(project.agent, { cache: false });
    const cwd = process.cwd();
    try {
      process.chdir(scratch.path);
      expect((await bundleModule(project.agent, { cache: false })).hash).toBe(here.hash);
    } finally {
      process.chdir(cwd);
    }
  });
});

describe("refused imports: a clear error naming file, line and why, before anything runs", () => {
  const refusals: [string, string, RegExp][] = [
    ["node-fs.js", 'import { readFileSync } from "node:fs";', /node-fs\.js:1:\d+: cannot import "node:fs": a Node built-in/],
    ["bare-fs.js", 'import fs from "fs";', /bare-fs\.js:1:\d+: cannot import "fs": a Node built-in/],
    ["child.js", 'import { execSync } from "child_process";', /child\.js:1:\d+: cannot import "child_process": a Node built-in/],
    ["url.js", 'import x from "https://evil.example/x.js";', /url\.js:1:\d+: cannot import "https:\/\/evil\.example\/x\.js": an agent cannot import from a URL/],
    ["kernel.js", 'import host from "agentos:kernel/_host";', /kernel\.js:1:\d+: cannot import "agentos:kernel\/_host": not an interface of the kernel/],
    ["sub/outside.js", 'import { secret } from "../outside.js";', /sub\/outside\.js:1:\d+: cannot bundle .*\/outside\.js: an agent may bundle only files of its own directory and packages from node_modules/],
    ["absolute.js", 'import text from "/etc/hostname";', /absolute\.js:1:\d+: cannot bundle \/etc\/hostname: an agent may bundle only files/],
  ];

  it.each(refusals)("%s", async (name, line, message) => {
    project.file("refused/outside.js", "export const secret = 'from outside';\n");
    const file = project.file(`refused/${name}`, `${line}\nexport function run() { return "ran"; }\n`);
    const error = await kernel.load(file).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AgentLoadError);
    expect((error as Error).message).toMatch(/the agent does not bundle/);
    expect((error as Error).message).toMatch(message);
  });

  it("a link inside the agent's directory to a file elsewhere is refused", async () => {
    const outside = join(scratch.path, "secret.js");
    writeFileSync(outside, "export const secret = 42;\n");
    symlinkSync(outside, join(project.path, "refused", "linked.js"));
    const file = project.file("refused/uses-link.js", 'import { secret } from "./linked.js";\nexport function run() { return String(secret); }\n');
    await expect(kernel.load(file)).rejects.toThrow(/uses-link\.js:1:\d+: cannot bundle .*secret\.js: an agent may bundle only files/);
  });

  it("a package that requires a Node built-in fails when it runs, inside the isolate, and reaches nothing", async () => {
    project.file("node_modules/evil-dep/package.json", JSON.stringify({ name: "evil-dep", main: "index.js" }));
    project.file("node_modules/evil-dep/index.js", "const cp = require('child_process');\nmodule.exports = () => cp.execSync('id').toString();\n");
    const file = project.file("evil/agent.js", 'import run0 from "evil-dep";\nexport function run() { return run0(); }\n');
    const result = await kernel.execute(await kernel.load(file), "");
    expect(result).toMatchObject({ status: "error" });
    expect(result.error).toMatch(/cannot import "child_process": a Node built-in/);
  });

  it("a dynamic import of a built-in is the same refusal, which the agent can catch", async () => {
    const file = project.file("dynamic/agent.js", 'export async function run() { try { await import("node:fs"); return "imported"; } catch (e) { return e.message; } }\n');
    const result = await kernel.execute(await kernel.load(file), "");
    expect(result).toMatchObject({ status: "ok" });
    expect(result.output).toMatch(/^cannot import "node:fs": a Node built-in; an agent can import only/);
  });

  it("a syntax error in a file the agent imports is named with its file and line", async () => {
    project.file("broken/lib/util.ts", "export const ok = 1;\nexport function half(n: number { return n / 2; }\n");
    const file = project.file("broken/agent.js", 'import { half } from "./lib/util.ts";\nexport function run() { return String(half(4)); }\n');
    await expect(kernel.load(file)).rejects.toThrow(/the agent does not bundle:\n {2}.*broken\/lib\/util\.ts:2:\d+: Expected/);
  });

  it("a module that exports nothing, a missing file and another extension", async () => {
    await expect(kernel.load(project.file("none/agent.js", "const x = 1;\n"))).rejects.toThrow(/must export a function run\(task\)/);
    await expect(kernel.load(join(project.path, "missing.js"))).rejects.toThrow(AgentLoadError);
    await expect(kernel.load(project.file("agent.txt", "x"))).rejects.toThrow(/an agent module is a \.js, \.mjs, \.ts, \.mts file/);
  });
});

describe("the bundle cache", () => {
  const cacheDir = join(scratch.path, "cache");
  const cache = { dir: cacheDir, key };
  const bundles = () => join(cacheDir, "bundles");
  const metaFile = () => join(bundles(), readdirSync(bundles()).find((n) => n.endsWith(".json"))!);
  type Meta = Record<string, unknown> & { bundle: string; mac?: string };
  const readMeta = () => JSON.parse(readFileSync(metaFile(), "utf8")) as Meta;

  /** Puts `code` in the cache entry as the bundle, signed with the key when `signed`. */
  function replaceBundle(code: string, signed: boolean): void {
    const { mac, ...meta } = readMeta();
    writeFileSync(join(bundles(), `${sha256(code)}.js`), code);
    meta.bundle = sha256(code);
    const newMac = signed ? sign({ dir: cacheDir, key }, "bundle", JSON.stringify(meta)) : mac;
    writeFileSync(metaFile(), JSON.stringify({ ...meta, mac: newMac }, null, 2));
  }

  it("stores a bundle on first load and takes it from the cache on the second", async () => {
    const first = await bundleModule(project.agent, { cache });
    expect(first.cached).toBe(false);
    const second = await bundleModule(project.agent, { cache });
    expect(second).toMatchObject({ cached: true, hash: first.hash, code: first.code });
    // What the entry depends on: every input, the packages' manifests, the folders' listings.
    const meta = readMeta() as Meta & { files: Record<string, string | null>; dirs: Record<string, string | null> };
    expect(Object.keys(meta.files)).toEqual(expect.arrayContaining([project.agent, join(project.path, "node_modules/tiny-dep/index.js"), join(project.path, "node_modules/tiny-dep/package.json")]));
    expect(Object.keys(meta.dirs)).toContain(join(project.path, "node_modules"));
  });

  it("kernel.load runs what the cache holds when its entry checks out (the key's signature)", async () => {
    const cached = kernelWith({ cache });
    try {
      await cached.load(project.agent);
      replaceBundle('export function run() { return "from the cache"; }\n', true);
      expect(await cached.execute(await cached.load(project.agent), TASK)).toMatchObject({ status: "ok", output: "from the cache" });
    } finally {
      await cached.close();
    }
  });

  it("never runs a tampered entry: it bundles again and rewrites the entry", async () => {
    const cached = kernelWith({ cache });
    try {
      replaceBundle('export function run() { return "tampered"; }\n', false);
      const agent = await cached.load(project.agent);
      expect(await cached.execute(agent, TASK)).toMatchObject({ status: "ok", output: OUTPUT });
      expect(readMeta().bundle).toBe(agent.codeHash);
      expect(readFileSync(join(bundles(), `${agent.codeHash}.js`), "utf8")).toBe(agent.source);
      // The same with a bundle file changed under a genuine entry.
      writeFileSync(join(bundles(), `${agent.codeHash}.js`), 'export function run() { return "tampered"; }\n');
      expect(await cached.execute(await cached.load(project.agent), TASK)).toMatchObject({ status: "ok", output: OUTPUT });
    } finally {
      await cached.close();
    }
  });

  it("bundles again when a file of the agent or of a package changes", async () => {
    expect((await bundleModule(project.agent, { cache })).cached).toBe(true);
    project.file("lib/shout.js", 'export const shout = (text) => text.toUpperCase() + "?";\n');
    const changed = await bundleModule(project.agent, { cache });
    expect(changed.cached).toBe(false);
    project.file("node_modules/tiny-dep/index.js", "module.exports = function hello(name) { return 'hi ' + name; };\n");
    const cached = kernelWith({ cache });
    try {
      expect(await cached.execute(await cached.load(project.agent), TASK)).toMatchObject({ status: "ok", output: "HI WORLD X2?" });
    } finally {
      await cached.close();
      project.file("lib/shout.js", 'export const shout = (text) => text.toUpperCase() + "!";\n');
      project.file("node_modules/tiny-dep/index.js", "module.exports = function hello(name) { return 'hello ' + name; };\n");
    }
  });

  it("is refused inside a mount, as the component cache is", () => {
    expect(() => kernelWith({ cache: { dir: join(project.path, ".cache"), key }, mounts: { "/workspace": project.path } })).toThrow(UsageError);
    expect(() => kernelWith({ cache: { dir: join(project.path, ".cache"), key }, mounts: { "/workspace": project.path } })).toThrow(/inside mount \/workspace/);
  });
});

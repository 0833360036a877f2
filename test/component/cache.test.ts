/**
 * The component cache cannot inject code. Its glue runs in the kernel's workers, outside any
 * sandbox, and its core modules carry the fuel checks and the memory cap: so every entry is
 * authenticated with a key the cache folder does not hold, and whoever writes the folder (here:
 * the test, as an agent with a mount over it would) can only make the kernel prepare again.
 * A cache an agent could reach (inside a mount, a mount inside it, its key inside a mount) is
 * refused when the kernel starts.
 */
import { createHash, createHmac, randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, transpile } from "@bytecodealliance/jco";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelSpace, UsageError, buildComponent, type KernelOptions } from "../../dist/runtime/index.js";
import { policyWith, tempDir } from "../kernel/helpers.js";
import { AGENTS, BUILD_TIMEOUT_MS, CACHE_DIR, ROOT, prebuild } from "./helpers.js";

const dir = tempDir("agent-os-cache-");
const keyFile = join(dir.path, "config", "cache.key");
afterAll(() => dir.remove());

const sha256 = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");

/** A hand-made component whose run() returns `text`, after `body` (a core instruction sequence). */
async function component(name: string, text: string, body = ""): Promise<string> {
  const wat = `(component
    (core module $m
      (memory (export "memory") 1)
      (data (i32.const 16) "\\00\\00\\00\\00\\20\\00\\00\\00\\${text.length.toString(16).padStart(2, "0")}\\00\\00\\00")
      (data (i32.const 32) "${text}")
      (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 1024)
      (func (export "run") (param i32 i32) (result i32) ${body} i32.const 16))
    (core instance $i (instantiate $m))
    (func $run (param "task" string) (result (result string (error string)))
      (canon lift (core func $i "run") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
    (export "run" (func $run)))`;
  const path = join(dir.path, `${name}.wasm`);
  writeFileSync(path, await parse(wat));
  return path;
}

const kernelWith = (cache: KernelOptions["cache"], options: KernelOptions = {}) =>
  new KernelSpace({ policy: policyWith(), log: false, pool: { warm: 0 }, cache, ...options });

/** The one prepared entry of a component in a cache directory. */
function entryOf(cacheDir: string, file: string): string {
  const hash = sha256(readFileSync(file));
  const name = readdirSync(join(cacheDir, "components")).find((n) => n.startsWith(`${hash}-`));
  if (!name) throw new Error(`no cache entry for ${file}`);
  return join(cacheDir, "components", name);
}

type Meta = { files: Record<string, string>; modules: string[]; instrumented: string[]; initialPages: number; mac?: string };
const readMeta = (entry: string) => JSON.parse(readFileSync(join(entry, "meta.json"), "utf8")) as Meta;
const writeMeta = (entry: string, meta: Meta) => writeFileSync(join(entry, "meta.json"), JSON.stringify(meta, null, 2));

/** Replaces a file of an entry and updates its plain hash in meta.json, as the cache once checked it. */
function forge(entry: string, name: string, bytes: Uint8Array | string, change: (meta: Meta) => void = () => undefined): void {
  writeFileSync(join(entry, name), bytes);
  const meta = readMeta(entry);
  meta.files[name] = sha256(bytes);
  change(meta);
  writeMeta(entry, meta);
}

describe("a prepared entry written by someone else is never used", () => {
  const cacheDir = join(dir.path, "cache");
  const cache = { dir: cacheDir, keyFile };
  let ok: string;
  let other: string;
  let spin: string;
  let genuineGlue: string;

  beforeAll(async () => {
    ok = await component("ok", "hand-made");
    other = await component("other", "other code");
    spin = await component("spin", "spun", "(loop $l (br $l))");
    const kernel = kernelWith(cache);
    try {
      for (const file of [ok, other, spin]) await kernel.load(file);
    } finally {
      await kernel.close();
    }
    genuineGlue = readFileSync(join(entryOf(cacheDir, ok), "glue.mjs"), "utf8");
  }, BUILD_TIMEOUT_MS);

  it("the key file is made on first use, for its owner only, and each entry carries a MAC", () => {
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile).length).toBe(32);
    expect(readMeta(entryOf(cacheDir, ok)).mac).toMatch(/^[0-9a-f]{64}$/);
  });

  /** Loads `file` in a fresh kernel over the same cache, runs it once, and says what happened. */
  async function loadAndRun(file: string, limits = {}) {
    const kernel = kernelWith(cache);
    try {
      return await kernel.execute(await kernel.load(file), "task", { limits });
    } finally {
      await kernel.close();
    }
  }

  let attackNumber = 0;
  let marker = "";
  /** Code that would leave a file on the host if it ever ran (one marker per attack). */
  const injected = () => `import { writeFileSync as __w } from "node:fs"; __w(${JSON.stringify(marker)}, "pwned");\n`;
  /** What an attacker who knows the format but not the key can do: sign with a key of their own. */
  const resign = (entry: string, key: Uint8Array) => {
    const { mac: _old, ...meta } = readMeta(entry);
    writeMeta(entry, { ...meta, mac: createHmac("sha256", key).update("agent-os/prepared\n").update(JSON.stringify(meta)).digest("hex") });
  };
  const attacks: [string, (entry: string) => void | Promise<void>][] = [
    ["a glue with its plain hash updated", (entry) => forge(entry, "glue.mjs", injected() + genuineGlue)],
    ["a glue signed with another key", (entry) => (forge(entry, "glue.mjs", injected() + genuineGlue), resign(entry, randomBytes(32)))],
    ["a glue and no MAC", (entry) => forge(entry, "glue.mjs", injected() + genuineGlue, (meta) => delete meta.mac)],
    [
      "a glue that is a link to a file elsewhere",
      (entry) => {
        const outside = join(dir.path, "evil-glue.mjs");
        writeFileSync(outside, injected() + genuineGlue);
        rmSync(join(entry, "glue.mjs"));
        symlinkSync(outside, join(entry, "glue.mjs"));
        const meta = readMeta(entry);
        meta.files["glue.mjs"] = sha256(injected() + genuineGlue);
        writeMeta(entry, meta);
      },
    ],
    [
      "a whole entry made by the attacker's own kernel, under the attacker's key",
      async (entry) => {
        const theirs = join(dir.path, "their-cache");
        const theirKey = randomBytes(32);
        const kernel = kernelWith({ dir: theirs, key: theirKey });
        try {
          await kernel.load(ok);
        } finally {
          await kernel.close();
        }
        const their = entryOf(theirs, ok);
        for (const name of readdirSync(their)) copyFileSync(join(their, name), join(entry, name));
        forge(entry, "glue.mjs", injected() + genuineGlue);
        resign(entry, theirKey);
      },
    ],
  ];

  it.each(attacks)("%s: the kernel prepares it again, and the injected code never runs", async (_name, attack) => {
    marker = join(dir.path, `PWNED-${++attackNumber}`);
    const entry = entryOf(cacheDir, ok);
    await attack(entry);
    const result = await loadAndRun(ok);
    expect(result).toMatchObject({ status: "ok", output: "hand-made" });
    expect(existsSync(marker)).toBe(false);
    // The entry was written again, whole and genuine.
    expect(readFileSync(join(entry, "glue.mjs"), "utf8")).toBe(genuineGlue);
  });

  it("a core module without its fuel checks is not run: the fuel budget still kills a spin", async () => {
    const entry = entryOf(cacheDir, spin);
    const meta = readMeta(entry);
    // The module as jco emits it, before instrumentation: no fuel checks, a memory of its own.
    const { files } = await transpile(new Uint8Array(readFileSync(spin)), { name: "agent", instantiation: "sync", quiet: true });
    forge(entry, meta.instrumented[0], files[meta.instrumented[0]]);
    const result = await loadAndRun(spin, { fuel: 20_000_000, wallTime: 15_000 });
    expect(result).toMatchObject({ status: "killed", reason: "fuel" });
  });

  it("a meta.json with a larger memory or fewer instrumented modules is not used", async () => {
    const entry = entryOf(cacheDir, ok);
    const meta = readMeta(entry);
    writeMeta(entry, { ...meta, initialPages: 60_000, instrumented: [] });
    expect(await loadAndRun(ok)).toMatchObject({ status: "ok", output: "hand-made" });
    expect(readMeta(entry).instrumented).toEqual(meta.instrumented);
  });

  it("the genuine entry of another component, put in this one's place, is not used", async () => {
    const entry = entryOf(cacheDir, ok);
    const theirs = entryOf(cacheDir, other);
    for (const name of readdirSync(theirs)) copyFileSync(join(theirs, name), join(entry, name));
    expect(await loadAndRun(ok)).toMatchObject({ status: "ok", output: "hand-made" });
  });

  it("an entry made under another key is prepared again, not trusted", async () => {
    const key = randomBytes(32);
    const kernel = kernelWith({ dir: cacheDir, key });
    try {
      expect(await kernel.execute(await kernel.load(ok), "")).toMatchObject({ status: "ok", output: "hand-made" });
    } finally {
      await kernel.close();
    }
    const mac = readMeta(entryOf(cacheDir, ok)).mac;
    expect(await loadAndRun(ok)).toMatchObject({ status: "ok", output: "hand-made" });
    expect(readMeta(entryOf(cacheDir, ok)).mac).not.toBe(mac);
  });

  it("a key file others may read, or that is not a file, is refused", async () => {
    const loose = join(dir.path, "loose.key");
    writeFileSync(loose, randomBytes(32));
    chmodSync(loose, 0o644);
    const linked = join(dir.path, "linked.key");
    symlinkSync(keyFile, linked);
    const short = join(dir.path, "short.key");
    writeFileSync(short, randomBytes(8), { mode: 0o600 });
    for (const [cache, why] of [
      [{ dir: cacheDir, keyFile: loose }, /may be read or written by others \(mode 644\)/],
      [{ dir: cacheDir, keyFile: linked }, /is not a regular file/],
      [{ dir: cacheDir, keyFile: short }, /holds 8 bytes/],
      [{ dir: cacheDir, key: randomBytes(8) }, /at least 32 bytes/],
    ] as const) {
      const kernel = kernelWith(cache);
      try {
        await expect(kernel.load(ok)).rejects.toThrow(UsageError);
        await expect(kernel.load(ok)).rejects.toThrow(why);
      } finally {
        await kernel.close();
      }
    }
  });
});

describe("a built component written by someone else is never used", () => {
  beforeAll(() => prebuild(["hello"]), BUILD_TIMEOUT_MS);

  it(
    "a component swapped into the build cache is built again",
    async () => {
      // A copy of the tests' build cache entry for hello (signed with the default key).
      const built = readFileSync(join(CACHE_DIR, "test-components", "hello.wasm"));
      const name = readdirSync(join(CACHE_DIR, "builds")).find((n) => n.endsWith(".wasm") && sha256(readFileSync(join(CACHE_DIR, "builds", n))) === sha256(built));
      expect(name).toBeDefined();
      const cacheDir = join(dir.path, "build-cache");
      mkdirSync(join(cacheDir, "builds"), { recursive: true });
      const key = name!.slice(0, -".wasm".length);
      copyFileSync(join(CACHE_DIR, "builds", `${key}.wasm`), join(cacheDir, "builds", `${key}.wasm`));
      const mac = join(CACHE_DIR, "builds", `${key}.mac`);
      if (existsSync(mac)) copyFileSync(mac, join(cacheDir, "builds", `${key}.mac`));
      expect(await buildComponent(AGENTS.hello, { cache: { dir: cacheDir } })).toMatchObject({ cached: true, hash: sha256(built) });

      const swapped = readFileSync(await component("swapped", "not hello"));
      writeFileSync(join(cacheDir, "builds", `${key}.wasm`), swapped);
      const rebuilt = await buildComponent(AGENTS.hello, { cache: { dir: cacheDir } });
      expect(rebuilt.cached).toBe(false);
      expect(rebuilt.hash).not.toBe(sha256(swapped));
    },
    BUILD_TIMEOUT_MS,
  );
});

describe("a cache an agent could reach is refused when the kernel starts", () => {
  const project = join(dir.path, "project");
  const cacheDir = join(project, ".agent-os", "cache");
  mkdirSync(join(cacheDir, "components"), { recursive: true });
  const link = join(dir.path, "project-link");
  symlinkSync(project, link);

  it("the cache inside a mount, read-only or not, however the paths are spelled", () => {
    for (const [mounts, cache] of [
      [{ "/ws": project }, { dir: cacheDir, keyFile }],
      [{ "/ws": { host: project, readOnly: true } }, { dir: cacheDir, keyFile }],
      [{ "/ws": dir.path }, { dir: cacheDir, keyFile }],
      [{ "/ws": link }, { dir: cacheDir, keyFile }],
      [{ "/ws": project }, { dir: join(link, ".agent-os", "cache"), keyFile }],
      [{ "/ws": project }, { dir: join(project, ".agent-os", "not-yet", "made"), keyFile }],
      [{ "/ws": project, "/other": ROOT }, { dir: join(project, ".agent-os", "..", ".agent-os", "cache"), keyFile }],
    ] as const) {
      expect(() => kernelWith(cache, { mounts }), JSON.stringify(mounts)).toThrow(UsageError);
      expect(() => kernelWith(cache, { mounts }), JSON.stringify(mounts)).toThrow(/the component cache .* is inside mount \/ws/);
    }
  });

  it("a mount inside the cache, and the key file inside a mount", async () => {
    expect(() => kernelWith({ dir: cacheDir, keyFile }, { mounts: { "/ws": join(cacheDir, "components") } })).toThrow(/mount \/ws .* is inside the component cache/);
    expect(() => kernelWith({ dir: cacheDir, keyFile }, { mounts: { "/config": join(dir.path, "config") } })).toThrow(/key file .* is inside mount \/config/);
    // The default key file guards every cache of the user, so it is refused even with cache: false.
    const config = join(dir.path, "xdg");
    mkdirSync(config);
    const saved = process.env.XDG_CONFIG_HOME;
    process.env.XDG_CONFIG_HOME = config;
    try {
      expect(() => kernelWith(false, { mounts: { "/config": config } })).toThrow(/key file .*xdg\/agent-os\/cache\.key is inside mount \/config/);
    } finally {
      if (saved === undefined) delete process.env.XDG_CONFIG_HOME;
      else process.env.XDG_CONFIG_HOME = saved;
    }
    // With the key given, no key file is involved.
    await kernelWith({ dir: cacheDir, key: randomBytes(32) }, { mounts: { "/config": join(dir.path, "config") } }).close();
  });

  it("the default cache under a mount of the working directory: agent-os run exits 2", () => {
    writeFileSync(join(project, "agent.js"), `export function run() { return "ran"; }`);
    const cli = spawnSync(process.execPath, [join(ROOT, "dist/runtime/cli/bin.js"), "run", "agent.js", "--mount", `/workspace=.`, "--no-log"], {
      cwd: project,
      encoding: "utf8",
      env: { ...process.env, XDG_CONFIG_HOME: join(dir.path, "config-home") },
    });
    expect(cli.status).toBe(2);
    expect(cli.stderr).toMatch(/the component cache .*\.agent-os\/cache is inside mount \/workspace/);
    expect(cli.stdout).not.toContain("ran");
  });
});

/**
 * The bundle cache: an agent's bundle, kept until one of the files it was made from changes.
 *
 * An entry is found by the engine profile and the entry file's path, and holds what the bundle
 * depends on: the sha256 of every input file, of every `package.json`, `tsconfig.json` and
 * `jsconfig.json` from the inputs' directories up to the root (or that there was none: esbuild
 * reads them to resolve and compile), and the names in each input's directory and in each
 * `node_modules` folder on the way up from the agent (a new file can change what an import
 * resolves to). Its key covers the bundler's version and options. A lookup re-hashes all of it:
 * the entry is used only when nothing changed.
 *
 * Like the component cache (component/cache.ts), every entry is authenticated with the cache's
 * key, which the cache folder does not hold: meta.json carries an HMAC over its fields (the
 * bundle's sha256 among them), and the bundle must match its sha256. An entry that does not
 * check out is ignored and rewritten: whoever writes the folder can cost the kernel a bundling,
 * never make it run code of theirs.
 *
 * What it cannot see: a file edited while it is being bundled (the hashes are taken right after
 * the bundling), and a new file that changes what an import resolves to in a folder it does not
 * list (a `node_modules` folder inside a package, say). Either is undone by the next change to a
 * recorded file, or by `cache: false`.
 */
import { createHash, randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { BUNDLE_FORMAT, BUNDLE_OPTIONS } from "./bundle.js";
import { sign, verify, type TrustedCache } from "../../../engines/component/trust.js";

const CONFIG_FILES = ["package.json", "tsconfig.json", "jsconfig.json"];
const LABEL = "bundle";

/** What a cached bundle depends on, and the bundle itself by its sha256. */
export interface BundleMeta {
  format: string;
  bundler: string;
  profile: string;
  entry: string;
  /** sha256 of each file the bundle depends on, or null for a file that must stay absent. */
  files: Record<string, string | null>;
  /** sha256 of the sorted names in each directory whose listing the bundle depends on. */
  dirs: Record<string, string | null>;
  /** The bundle's exports. */
  exports: string[];
  /** sha256 of the bundle. */
  bundle: string;
}

function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

async function bundlerVersion(): Promise<string> {
  return (await import("esbuild")).version;
}

/** Where an entry's meta.json lives: by format, bundler, options, profile and entry path. */
async function metaPath(cache: TrustedCache, profile: string, entry: string): Promise<string> {
  const key = sha256([BUNDLE_FORMAT, await bundlerVersion(), JSON.stringify(BUNDLE_OPTIONS), profile, entry].join("\0"));
  return join(cache.dir, "bundles", `${key}.json`);
}

function fileHash(path: string): string | null {
  if (!existsSync(path)) return null; // (cheaper than the exception of a read)
  try {
    return sha256(readFileSync(path));
  } catch {
    return null;
  }
}

function listingHash(dir: string): string | null {
  try {
    return sha256(readdirSync(dir).sort().join("\0"));
  } catch {
    return null;
  }
}

function ancestors(dir: string): string[] {
  const out = [dir];
  for (let d = dir; dirname(d) !== d; d = dirname(d)) out.push(dirname(d));
  return out;
}

/** Everything a bundle made from `inputs` for an agent in `agentDir` depends on, as it is now. */
export function dependencies(inputs: readonly string[], agentDir: string): Pick<BundleMeta, "files" | "dirs"> {
  const files: Record<string, string | null> = {};
  const dirs: Record<string, string | null> = {};
  for (const input of inputs) files[input] = fileHash(input);
  const inputDirs = new Set(inputs.map((i) => dirname(i)));
  const seen = new Set<string>();
  for (const dir of [...inputDirs, agentDir]) {
    for (const up of ancestors(dir)) {
      if (seen.has(up)) break;
      seen.add(up);
      for (const name of CONFIG_FILES) files[join(up, name)] ??= fileHash(join(up, name));
      const modules = join(up, "node_modules");
      if (existsSync(modules)) dirs[modules] = listingHash(modules);
    }
  }
  for (const dir of inputDirs) dirs[dir] = listingHash(dir);
  return { files, dirs };
}

function unchanged(meta: BundleMeta): boolean {
  for (const [path, hash] of Object.entries(meta.files)) if (fileHash(path) !== hash) return false;
  for (const [dir, hash] of Object.entries(meta.dirs)) if (listingHash(dir) !== hash) return false;
  return true;
}

/**
 * A cached bundle of `entry` for `profile`, or undefined when there is none, it does not check
 * out (MAC, format, bundler, bundle hash), or anything it depends on changed.
 */
export async function readBundle(cache: TrustedCache, profile: string, entry: string): Promise<{ code: string; meta: BundleMeta } | undefined> {
  try {
    const path = await metaPath(cache, profile, entry);
    const { mac, ...meta } = JSON.parse(await readFile(path, "utf8")) as BundleMeta & { mac?: unknown };
    if (!verify(cache, LABEL, JSON.stringify(meta), mac)) return undefined;
    if (meta.format !== BUNDLE_FORMAT || meta.bundler !== (await bundlerVersion()) || meta.profile !== profile || meta.entry !== entry) return undefined;
    if (!unchanged(meta)) return undefined;
    const code = await readFile(join(cache.dir, "bundles", `${meta.bundle}.js`), "utf8");
    return sha256(code) === meta.bundle ? { code, meta } : undefined;
  } catch {
    return undefined;
  }
}

/** Stores a bundle and what it depends on (each file under a temporary name, then renamed). */
export async function writeBundle(
  cache: TrustedCache,
  profile: string,
  entry: string,
  bundle: { code: string; exports: string[]; depends: Pick<BundleMeta, "files" | "dirs"> },
): Promise<void> {
  const dir = join(cache.dir, "bundles");
  await mkdir(dir, { recursive: true });
  const meta: BundleMeta = {
    format: BUNDLE_FORMAT,
    bundler: await bundlerVersion(),
    profile,
    entry,
    ...bundle.depends,
    exports: bundle.exports,
    bundle: sha256(bundle.code),
  };
  const put = async (path: string, data: string) => {
    const temp = `${path}.${randomUUID()}.tmp`;
    await writeFile(temp, data);
    await rename(temp, path);
  };
  await put(join(dir, `${meta.bundle}.js`), bundle.code);
  await put(await metaPath(cache, profile, entry), JSON.stringify({ ...meta, mac: sign(cache, LABEL, JSON.stringify(meta)) }, null, 2));
}

/**
 * The component cache: built components (by bundle content) and prepared components (by the
 * component's content hash and the preparation format), under `.agent-os/cache` by default.
 *
 * Every entry is authenticated with the cache's key, which the cache folder does not hold
 * (trust.ts): a prepared entry's meta.json carries an HMAC over its fields and the sha256 of
 * each of its files, a built component an HMAC over its bundle key and its sha256. An entry
 * that does not check out is ignored (and rewritten): whoever can write the folder can cost the
 * kernel time, never make it run code of theirs.
 *
 * Writers never lock: each entry is written under a temporary name and renamed into place, so
 * a reader sees a whole entry or none, and two writers of the same entry both write the same
 * bytes.
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ComponentMeta, PreparedComponent } from "./prepare.js";
import { sign, verify, type TrustedCache } from "./trust.js";

export { DEFAULT_CACHE_DIR } from "./trust.js";
export const GLUE_FILE = "glue.mjs";
const META_FILE = "meta.json";

export function sha256(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function builtPath(dir: string, key: string, ext: "wasm" | "mac"): string {
  return join(dir, "builds", `${key}.${ext}`);
}

function builtMac(cache: TrustedCache, key: string, component: Uint8Array): string {
  return sign(cache, "build", `${key}\n${sha256(component)}`);
}

/** A built component from the cache, or undefined when there is none or it does not check out. */
export async function readBuilt(cache: TrustedCache, key: string): Promise<Uint8Array | undefined> {
  try {
    const [component, mac] = await Promise.all([readFile(builtPath(cache.dir, key, "wasm")), readFile(builtPath(cache.dir, key, "mac"), "utf8")]);
    const bytes = new Uint8Array(component);
    return verify(cache, "build", `${key}\n${sha256(bytes)}`, mac.trim()) ? bytes : undefined;
  } catch {
    return undefined;
  }
}

export async function writeBuilt(cache: TrustedCache, key: string, component: Uint8Array): Promise<void> {
  await mkdir(join(cache.dir, "builds"), { recursive: true });
  const put = async (path: string, data: Uint8Array | string) => {
    const temp = `${path}.${randomUUID()}.tmp`;
    await writeFile(temp, data);
    await rename(temp, path);
  };
  await put(builtPath(cache.dir, key, "wasm"), component);
  await put(builtPath(cache.dir, key, "mac"), builtMac(cache, key, component));
}

export function preparedDir(dir: string, key: string): string {
  return join(dir, "components", key);
}

export interface CachedComponent {
  meta: ComponentMeta;
  glue: Uint8Array;
  modules: Record<string, Uint8Array>;
}

/**
 * Reads a prepared entry, or undefined when there is none or it does not check out: its MAC
 * (under the cache's key), its format, the component it was made from, and each file's hash.
 */
export async function readPrepared(cache: TrustedCache, key: string, format: string, hash: string): Promise<CachedComponent | undefined> {
  const entry = preparedDir(cache.dir, key);
  try {
    const { mac, ...meta } = JSON.parse(await readFile(join(entry, META_FILE), "utf8")) as ComponentMeta & { mac?: unknown };
    if (!verify(cache, "prepared", JSON.stringify(meta), mac)) return undefined;
    if (meta.format !== format || meta.hash !== hash) return undefined;
    const read = async (name: string) => {
      const bytes = new Uint8Array(await readFile(join(entry, name)));
      if (sha256(bytes) !== meta.files[name]) throw new Error(`${name} does not match its hash`);
      return bytes;
    };
    const glue = await read(GLUE_FILE);
    const modules: Record<string, Uint8Array> = {};
    for (const name of meta.modules) modules[name] = await read(name);
    return { meta, glue, modules };
  } catch {
    return undefined;
  }
}

/** Writes a prepared entry (whole, or not at all); returns its directory. */
export async function writePrepared(
  cache: TrustedCache,
  key: string,
  prepared: PreparedComponent,
  identity: Pick<ComponentMeta, "format" | "hash" | "size">,
): Promise<{ entry: string; meta: ComponentMeta }> {
  const entry = preparedDir(cache.dir, key);
  const temp = join(cache.dir, "components", `.${key}.${randomUUID()}.tmp`);
  await mkdir(temp, { recursive: true });
  try {
    const files: Record<string, string> = {};
    const glue = new TextEncoder().encode(prepared.glue);
    await writeFile(join(temp, GLUE_FILE), glue);
    files[GLUE_FILE] = sha256(glue);
    for (const m of prepared.modules) {
      await writeFile(join(temp, m.name), m.bytes);
      files[m.name] = sha256(m.bytes);
    }
    const meta: ComponentMeta = { ...identity, ...prepared.meta, files };
    const mac = sign(cache, "prepared", JSON.stringify(meta));
    await writeFile(join(temp, META_FILE), JSON.stringify({ ...meta, mac }, null, 2));
    await rm(entry, { recursive: true, force: true });
    try {
      await rename(temp, entry);
    } catch (error) {
      // Another writer put the same entry in place first: theirs is as good as ours.
      if (!["ENOTEMPTY", "EEXIST"].includes((error as NodeJS.ErrnoException).code ?? "")) throw error;
    }
    return { entry, meta };
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

/**
 * The component cache: built components (by bundle content) and prepared components (by the
 * component's content hash and the preparation format), under `.agent-os/cache` by default.
 *
 * Writers never lock: each entry is written under a temporary name and renamed into place, so
 * a reader sees a whole entry or none, and two writers of the same entry both write the same
 * bytes. A prepared entry lists the sha256 of each of its files; an entry that does not match
 * is ignored (and rewritten), so a damaged cache costs time, never correctness.
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ComponentMeta, PreparedComponent } from "./prepare.js";

export const DEFAULT_CACHE_DIR = ".agent-os/cache";
export const GLUE_FILE = "glue.mjs";
const META_FILE = "meta.json";

export function sha256(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function builtPath(dir: string, key: string): string {
  return join(dir, "builds", `${key}.wasm`);
}

export async function readBuilt(dir: string, key: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(builtPath(dir, key)));
  } catch {
    return undefined;
  }
}

export async function writeBuilt(dir: string, key: string, component: Uint8Array): Promise<void> {
  const path = builtPath(dir, key);
  await mkdir(join(dir, "builds"), { recursive: true });
  const temp = `${path}.${randomUUID()}.tmp`;
  await writeFile(temp, component);
  await rename(temp, path);
}

export function preparedDir(dir: string, key: string): string {
  return join(dir, "components", key);
}

export interface CachedComponent {
  meta: ComponentMeta;
  glue: Uint8Array;
  modules: Record<string, Uint8Array>;
}

/** Reads a prepared entry, or undefined when there is none or it does not check out. */
export async function readPrepared(dir: string, key: string, format: string): Promise<CachedComponent | undefined> {
  const entry = preparedDir(dir, key);
  try {
    const meta = JSON.parse(await readFile(join(entry, META_FILE), "utf8")) as ComponentMeta;
    if (meta.format !== format) return undefined;
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
  dir: string,
  key: string,
  prepared: PreparedComponent,
  identity: Pick<ComponentMeta, "format" | "hash" | "size">,
): Promise<{ entry: string; meta: ComponentMeta }> {
  const entry = preparedDir(dir, key);
  const temp = join(dir, "components", `.${key}.${randomUUID()}.tmp`);
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
    await writeFile(join(temp, META_FILE), JSON.stringify(meta, null, 2));
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

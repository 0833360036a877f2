/**
 * Loads a component for the kernel: from the cache when it has been prepared before (the second
 * load of a component reads and compiles, nothing more), otherwise checked, transpiled and
 * instrumented in a tool worker, then cached.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readPrepared, sha256, writePrepared } from "./cache.js";
import { HOST_FORMAT, INSTRUMENTER_VERSION, type ComponentImage } from "./image.js";
import type { ComponentMeta } from "./prepare.js";
import { runTool } from "./tools.js";
import type { TrustedCache } from "./trust.js";
import { Wasm, type WasmModule } from "./wasm.js";

export interface LoadedComponent {
  image: ComponentImage;
  meta: ComponentMeta;
  /** Whether the prepared component came from the cache. */
  cached: boolean;
}

let format: string | undefined;

/** The preparation format: the instrumenter's version, the host's imports and the jco that wrote the glue. */
export function preparedFormat(): string {
  if (format === undefined) {
    let dir = dirname(fileURLToPath(import.meta.resolve("@bytecodealliance/jco")));
    while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
    const jco = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string };
    format = `${INSTRUMENTER_VERSION}+${HOST_FORMAT}+jco-${jco.version}`;
  }
  return format;
}

/**
 * @param where how to name the component in messages (its path as given)
 * @param cache the cache (see trustedCache), or false to prepare in memory every time
 * @throws AgentLoadError when the component does not fit the kernel's world
 */
export async function loadComponent(bytes: Uint8Array, where: string, cache: TrustedCache | false, progress?: (step: string) => void): Promise<LoadedComponent> {
  const hash = sha256(bytes);
  const fmt = preparedFormat();
  const key = `${hash}-${fmt}`;
  if (cache !== false) {
    // Only an entry authenticated with the cache's key is used: its glue runs in the kernel's
    // workers, and its modules carry the fuel checks and the memory cap.
    const hit = await readPrepared(cache, key, fmt, hash);
    if (hit) {
      try {
        return { image: await imageOf(key, dataUrl(hit.glue), hit.modules, hit.meta), meta: hit.meta, cached: true };
      } catch {
        // A module that no longer compiles (another engine version): prepare it again.
      }
    }
  }
  const prepared = await runTool({ type: "prepare", bytes, where }, progress);
  const identity = { format: fmt, hash, size: bytes.length };
  const modules = Object.fromEntries(prepared.modules.map((m) => [m.name, m.bytes]));
  const glue = dataUrl(new TextEncoder().encode(prepared.glue));
  if (cache === false) {
    const meta: ComponentMeta = { ...identity, ...prepared.meta, files: {} };
    return { image: await imageOf(key, glue, modules, meta), meta, cached: false };
  }
  const { meta } = await writePrepared(cache, key, prepared, identity);
  return { image: await imageOf(key, glue, modules, meta), meta, cached: false };
}

/**
 * The glue as the workers import it: from the bytes checked here, never from the cache file
 * again (which could have changed since it was checked).
 */
function dataUrl(glue: Uint8Array): string {
  return `data:text/javascript;base64,${Buffer.from(glue).toString("base64")}`;
}

async function imageOf(key: string, glue: string, bytes: Record<string, Uint8Array>, meta: ComponentMeta): Promise<ComponentImage> {
  const modules: Record<string, WasmModule> = {};
  for (const name of meta.modules) modules[name] = await Wasm.compile(bytes[name]);
  return { key, glue, modules, instrumented: meta.instrumented, memoryModule: meta.memoryModule, initialPages: meta.initialPages };
}

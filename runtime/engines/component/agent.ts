/**
 * `kernel.load()` for the component engine: a `.wasm` component as it is, or an agent source
 * built into one first (through the build cache).
 */
import { readFile } from "node:fs/promises";
import { basename, dirname, extname, resolve } from "node:path";
import { AgentLoadError } from "../../errors.js";
import type { Agent } from "../../kernel/kernel.js";
import type { EngineName } from "../engine.js";
import { buildComponent } from "./build.js";
import { sha256 } from "./cache.js";
import { loadComponent, type LoadedComponent } from "./load.js";
import { trustedCache, type CacheOptions } from "./trust.js";

export interface ComponentAgentOptions {
  name?: string;
  engine?: EngineName;
  cache?: CacheOptions | false;
  /** Components this kernel has loaded, by content hash: loading one again costs nothing. */
  loaded: Map<string, Promise<LoadedComponent>>;
}

export async function loadComponentAgent(path: string, options: ComponentAgentOptions): Promise<Agent> {
  const file = resolve(path);
  const ext = extname(file);
  let bytes: Uint8Array;
  if (ext === ".wasm") {
    if (options.engine === "quickjs") throw new AgentLoadError(`${path}: a WebAssembly component runs on the component engine, not quickjs`);
    try {
      bytes = new Uint8Array(await readFile(file));
    } catch (error) {
      throw new AgentLoadError(`${path}: cannot read the component (${(error as NodeJS.ErrnoException).code ?? "error"})`, { cause: error });
    }
  } else {
    bytes = (await buildComponent(file, { cache: options.cache })).component;
  }
  const hash = sha256(bytes);
  let loading = options.loaded.get(hash);
  if (!loading) {
    loading = loadComponent(bytes, path, trustedCache(options.cache));
    options.loaded.set(hash, loading);
    loading.catch(() => options.loaded.delete(hash));
  }
  const { image } = await loading;
  const stem = basename(file, ext);
  const name = options.name ?? (stem === "agent" || stem === "index" ? basename(dirname(file)) : stem);
  return { name, kind: "module", engine: "component", source: "", codeHash: hash, component: image };
}

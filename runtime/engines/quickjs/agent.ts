/**
 * `kernel.load()` and `agent-os run` for QuickJS: an agent's source file (JavaScript or
 * TypeScript), its own files and its npm packages, bundled into one ES module by the bundler
 * step `agent-os build` uses (../bundle.ts), and cached by what it was made from.
 *
 * The kernel's own modules stay imports, which the isolate's module loader serves:
 * `agent-os/guest` and `agentos:kernel/<interface>` (with or without `@0.1.0`). The agent's code
 * is the bundle: its sha256 is the code hash the spawn event records, and the log keeps it.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { basename, dirname, extname, resolve } from "node:path";
import { AgentLoadError } from "../../errors.js";
import { INTERFACES } from "../../kernel/ops.js";
import type { Agent } from "../../kernel/kernel.js";
import { readBundle, writeBundle, dependencies } from "../../hosts/node/build/bundle-cache.js";
import { SOURCE_EXTENSIONS, bundleAgent, type BundleProfile } from "../../hosts/node/build/bundle.js";
import { trustedCache, type CacheOptions } from "../component/trust.js";
import { SDK_SPECIFIER, WIT_VERSION } from "./guest-modules.js";

const KERNEL_MODULE = new RegExp(`^agentos:kernel/([\\w-]+)(?:@${WIT_VERSION.replace(/\./g, "\\.")})?$`);

/** QuickJS's side of the shared bundler step: the kernel's modules are the isolate's to serve. */
export const QUICKJS_PROFILE: BundleProfile = {
  name: "quickjs",
  resolveKernel(args) {
    if (args.path === SDK_SPECIFIER) return { path: args.path, external: true };
    const iface = KERNEL_MODULE.exec(args.path)?.[1];
    return iface !== undefined && (INTERFACES as readonly string[]).includes(iface) ? { path: args.path, external: true } : undefined;
  },
};

/**
 * Options of bundleModule. Defaults: `cache` `{ dir: ".agent-os/cache" }` with the key in the
 * user's config directory (see CacheOptions); `false` bundles every time and stores nothing.
 */
export interface BundleModuleOptions {
  cache?: CacheOptions | false;
}

/** An agent bundled for QuickJS. */
export interface BundledModule {
  /** The ES module the isolate runs. */
  code: string;
  /** Hex sha256 of `code`: the agent's code hash. */
  hash: string;
  /** The names it exports. */
  exports: string[];
  /** Whether it came from the cache. */
  cached: boolean;
  ms: number;
}

/**
 * Bundles an agent for QuickJS, through the bundle cache.
 * @example const { code, hash } = await bundleModule("examples/hello/agent.js");
 * @throws AgentLoadError for a missing file, another extension, or an agent that does not
 * bundle (each refused import or file named with its file:line:column); UsageError for a bad
 * cache key.
 */
export async function bundleModule(entry: string, options: BundleModuleOptions = {}): Promise<BundledModule> {
  const started = performance.now();
  const file = resolve(entry);
  if (!SOURCE_EXTENSIONS.includes(extname(file))) throw new AgentLoadError(`${entry}: an agent module is a ${SOURCE_EXTENSIONS.join(", ")} file`);
  if (!existsSync(file)) throw new AgentLoadError(`${entry}: cannot read the agent (ENOENT)`);
  const cache = trustedCache(options.cache);
  const hit = cache === false ? undefined : await readBundle(cache, QUICKJS_PROFILE.name, file);
  if (hit) return { code: hit.code, hash: hit.meta.bundle, exports: hit.meta.exports, cached: true, ms: performance.now() - started };
  const bundle = await bundleAgent(file, entry, QUICKJS_PROFILE);
  if (cache !== false) {
    const depends = dependencies(bundle.inputs, bundle.agentDir);
    // A cache that cannot be written costs the next load a bundling, nothing else.
    await writeBundle(cache, QUICKJS_PROFILE.name, file, { code: bundle.code, exports: bundle.exports, depends }).catch(() => undefined);
  }
  return { code: bundle.code, hash: sha256(bundle.code), exports: bundle.exports, cached: false, ms: performance.now() - started };
}

/**
 * An agent module for QuickJS: its bundle, named after its file (or its directory, for an
 * `agent` or `index` file).
 * @throws AgentLoadError as bundleModule, and for a module that exports nothing.
 */
export async function loadModuleAgent(path: string, options: BundleModuleOptions & { name?: string }): Promise<Agent> {
  const file = resolve(path);
  const { code, hash, exports } = await bundleModule(path, options);
  if (exports.length === 0) throw new AgentLoadError(`${path}: an agent module must export a function run(task)`);
  const stem = basename(file, extname(file));
  const name = options.name ?? (stem === "agent" || stem === "index" ? basename(dirname(file)) : stem);
  return { name, kind: "module", engine: "quickjs", source: code, codeHash: hash };
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * `agent-os build`: an agent source file (JavaScript or TypeScript) to a WebAssembly component.
 *
 * 1. esbuild bundles the agent, the guest SDK and the prelude into one ES module (the bundler
 *    step QuickJS agents share, ../bundle.ts); the `agentos:kernel/*` imports stay imports,
 *    Node built-ins and URLs are refused.
 * 2. componentize-js turns the module into a component of the `agent` world, every WASI feature
 *    disabled (in a tool worker: 4-7 s, about 770 MB).
 *
 * Built components are cached by the bundle's content (and the toolchain's versions), so that
 * building an unchanged agent again takes only the bundling.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "../../errors.js";
import { SOURCE_EXTENSIONS, bundleAgent, type BundleProfile } from "../../hosts/node/build/bundle.js";
import { INTERFACES } from "../../kernel/ops.js";
import { readBuilt, writeBuilt } from "./cache.js";
import { DISABLED_FEATURES, WIT_DIR } from "./componentize.js";
import { WEB_COMPONENT_FILE, WEB_FILES, WEB_SPECIFIER } from "../web/component.js";
import { KERNEL_CALL, KERNEL_CALL_SPECIFIER, PRELUDE, PRELUDE_SPECIFIER, RAW_SUFFIX, entrySource, kernelInterface } from "./prelude.js";
import { runTool } from "./tools.js";
import { trustedCache, type CacheOptions } from "./trust.js";
import { WIT_PACKAGE, WIT_VERSION } from "./world.js";

/** Bump when the bundle or the componentize options change. */
export const BUILD_FORMAT = "build-2";

const SDK_FILE = fileURLToPath(new URL("../../../guest-sdk/index.js", import.meta.url));

export type BuildStep = "bundling" | "componentizing" | "cached" | "done";

/**
 * Options of buildComponent. Defaults: `cache` `{ dir: ".agent-os/cache" }`, authenticated with
 * the key in the user's config directory (see CacheOptions; false: build every time, store
 * nothing); no progress reports.
 */
export interface BuildOptions {
  cache?: CacheOptions | false;
  /** Hears each step as it starts (and "done" with the component's size). */
  progress?: (step: BuildStep, detail?: { bytes: number; ms: number }) => void;
}

export interface BuiltComponent {
  /** The component's bytes. */
  component: Uint8Array;
  /** Hex sha256 of the component. */
  hash: string;
  /** Bytes of the bundled ES module that was componentized. */
  bundleBytes: number;
  /** Whether the component came from the cache. */
  cached: boolean;
  ms: number;
}

/**
 * Builds an agent into a component.
 * @example const { component } = await buildComponent("examples/hello/agent.js"); await writeFile("hello.wasm", component);
 * @throws UsageError for a missing file or an unknown extension; AgentLoadError when the agent
 * does not bundle or componentize (the message names the file, line and reason).
 */
export async function buildComponent(entry: string, options: BuildOptions = {}): Promise<BuiltComponent> {
  const started = performance.now();
  const file = resolve(entry);
  if (!SOURCE_EXTENSIONS.includes(extname(file))) throw new UsageError(`${entry}: an agent source is a ${SOURCE_EXTENSIONS.join(", ")} file`);
  if (!existsSync(file)) throw new UsageError(`${entry}: no such file`);
  const progress = options.progress ?? (() => undefined);
  const cache = trustedCache(options.cache);

  progress("bundling");
  const { code: bundle } = await bundleAgent(file, entry, COMPONENT_PROFILE);
  const key = buildKey(bundle);
  const cachedComponent = cache === false ? undefined : await readBuilt(cache, key);
  if (cachedComponent) {
    progress("cached");
    const ms = performance.now() - started;
    progress("done", { bytes: cachedComponent.length, ms });
    return { component: cachedComponent, hash: sha256(cachedComponent), bundleBytes: bundle.length, cached: true, ms };
  }

  progress("componentizing");
  const work = await mkdtemp(join(tmpdir(), "agent-os-build-"));
  let component: Uint8Array;
  try {
    const sourcePath = join(work, "agent.bundle.js");
    await writeFile(sourcePath, bundle);
    ({ component } = await runTool({ type: "componentize", sourcePath, where: entry }));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  if (cache !== false) await writeBuilt(cache, key, component);
  const ms = performance.now() - started;
  progress("done", { bytes: component.length, ms });
  return { component, hash: sha256(component), bundleBytes: bundle.length, cached: false, ms };
}

function buildKey(bundle: string): string {
  const toolchain = JSON.parse(readFileSync(packageJson("@bytecodealliance/componentize-js"), "utf8")) as { version: string };
  return createHash("sha256")
    .update([BUILD_FORMAT, toolchain.version, DISABLED_FEATURES.join(","), readFileSync(join(WIT_DIR, "kernel.wit"), "utf8"), bundle].join("\0"))
    .digest("hex");
}

function packageJson(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.resolve(name)));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return join(dir, "package.json");
}

const KERNEL_IMPORT = new RegExp(`^${WIT_PACKAGE}/([\\w-]+)(?:@${WIT_VERSION.replace(/\./g, "\\.")})?$`);

/** The component's side of the shared bundler step: the prelude, the SDK and the WIT imports. */
const COMPONENT_PROFILE: BundleProfile = {
  name: "component",
  entry: entrySource,
  kernelFiles: [SDK_FILE, ...WEB_FILES],
  resolveKernel(args) {
    if (args.path === "agent-os/guest") return { path: SDK_FILE };
    if (args.path === WEB_SPECIFIER) return { path: WEB_COMPONENT_FILE };
    if (args.path === PRELUDE_SPECIFIER) return { path: PRELUDE_SPECIFIER, namespace: "agentos-prelude" };
    if (args.path === KERNEL_CALL_SPECIFIER) return { path: KERNEL_CALL_SPECIFIER, namespace: "agentos-prelude" };
    // The WIT import itself, only ever imported by the wrapper below.
    if (args.path.endsWith(RAW_SUFFIX)) return { path: args.path.slice(0, -RAW_SUFFIX.length), external: true };
    const iface = KERNEL_IMPORT.exec(args.path)?.[1];
    if (iface === undefined || !(INTERFACES as readonly string[]).includes(iface)) return undefined;
    // Every other import of a kernel interface (static or dynamic: StarlingMonkey has no
    // dynamic import of WIT interfaces) is a bundled wrapper of the WIT import.
    return { path: `${WIT_PACKAGE}/${iface}@${WIT_VERSION}`, namespace: "agentos-kernel" };
  },
  setup(build) {
    build.onLoad({ filter: /.*/, namespace: "agentos-prelude" }, (args) => ({ contents: args.path === PRELUDE_SPECIFIER ? PRELUDE : KERNEL_CALL, loader: "js" }));
    build.onLoad({ filter: /.*/, namespace: "agentos-kernel" }, (args) => ({ contents: kernelInterface(args.path), loader: "js" }));
  },
};

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

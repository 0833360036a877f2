/**
 * The one bundler step of both engines: an agent's entry file, its own files and the npm
 * packages it imports, as one ES module (esbuild). `agent-os build` bundles for a component,
 * `kernel.load()` and `agent-os run` for QuickJS; they differ only in how the kernel's own
 * modules (`agent-os/guest`, `agentos:kernel/*`) are reached (a BundleProfile).
 *
 * Whatever the engine, the same things are refused:
 * - Node built-ins (`fs`, `node:fs`, ...) and URLs (`https://...`, `data:...`): a static import
 *   fails the bundle, a dynamic `import()` or a `require()` fails when (if ever) it runs;
 * - a file outside the agent's directory that is not inside a `node_modules` folder (links are
 *   followed first: a link inside the agent's directory to a file elsewhere is refused too).
 * Each error names the file, line and column, relative to the agent's directory.
 *
 * The output does not depend on where the command runs (paths in it are relative to the agent's
 * directory): the same files give the same bundle, and so the same content hash.
 */
import { realpathSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import type { BuildOptions, OnResolveArgs, OnResolveResult, PluginBuild } from "esbuild";
import { AgentLoadError } from "../../../errors.js";

/** Bump when the bundler's options or plugin change what a bundle holds. */
export const BUNDLE_FORMAT = "bundle-2";
/** The files an agent's entry may be. */
export const SOURCE_EXTENSIONS = [".js", ".mjs", ".ts", ".mts"];

/** The namespace of a module that only throws the refusal (a dynamic import or require of it). */
const REFUSED = "agentos-refused";

/** What differs between the engines: how the kernel's own modules are reached. */
export interface BundleProfile {
  /** "quickjs" or "component": part of every cache key. */
  readonly name: string;
  /** The entry module's source, which imports the agent (default: the agent's file is the entry). */
  entry?(file: string): string;
  /** How `agent-os/guest` and every `agentos:*` specifier resolve; undefined refuses it. */
  resolveKernel(args: OnResolveArgs): OnResolveResult | undefined;
  /** Loaders for the profile's own namespaces. */
  setup?(build: PluginBuild): void;
  /** Files of the kernel itself that the profile bundles (the guest SDK), allowed wherever they are. */
  readonly kernelFiles?: readonly string[];
}

/** One bundled agent. */
export interface AgentBundle {
  /** The ES module. */
  code: string;
  /** Real paths of every file that went into it (the agent's and its packages'), sorted. */
  inputs: string[];
  /** The names the bundle exports. */
  exports: string[];
  /** The agent's directory (a real path): the root of everything it may bundle but packages. */
  agentDir: string;
}

/**
 * The esbuild options every bundle is made with (a cache key covers them).
 *
 * Packages resolve under the "browser" export condition: an agent runs on the Web platform
 * (fetch, streams, timers, no Node built-ins), which is what a package's browser build targets.
 * Without it, packages that ship a Node build and a browser build get the Node one, which needs
 * built-ins an agent cannot import: `@openai/agents-core` (its shims import node:async_hooks,
 * node:stream, ...), `pkce-challenge` (it exports only under "browser" or "node"), and the AI
 * SDK's `@vercel/oidc` (it requires fs and path as it loads).
 */
export const BUNDLE_OPTIONS = {
  bundle: true,
  write: false,
  format: "esm",
  platform: "neutral",
  conditions: ["browser"],
  target: "es2022",
  mainFields: ["module", "main"],
  charset: "utf8",
  legalComments: "none",
  logLevel: "silent",
  metafile: true,
} as const satisfies BuildOptions;

const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const URL_LIKE = /^[a-z][\w+.-]*:/i;

/**
 * Why an import is refused, as the agent (or the operator) reads it.
 * @example notImportable("fs") // 'cannot import "fs": a Node built-in; an agent can import only ...'
 */
export function notImportable(name: string): string {
  const why = NODE_BUILTINS.has(name) || name.startsWith("node:")
    ? "a Node built-in"
    : name.startsWith("agentos:")
      ? "not an interface of the kernel"
      : URL_LIKE.test(name)
        ? "an agent cannot import from a URL"
        : "not available to an agent";
  return `cannot import ${JSON.stringify(name)}: ${why}; an agent can import only "agent-os/guest", "agentos:kernel/*", its own files and packages from node_modules`;
}

/**
 * The refusal of an import: a static import fails the bundle; anything else (a dynamic import,
 * a require) becomes a module that throws the refusal when it runs.
 */
function refuse(args: OnResolveArgs): OnResolveResult {
  return args.kind === "import-statement" ? { errors: [{ text: notImportable(args.path) }] } : { path: args.path, namespace: REFUSED };
}

/**
 * Bundles an agent for an engine.
 * @param file the agent's entry file (absolute)
 * @param entry the file as the user named it (for messages)
 * @example const { code } = await bundleAgent(resolve("agent.ts"), "agent.ts", QUICKJS_PROFILE);
 * @throws AgentLoadError naming each refused import or unbundlable file with its file:line:column.
 */
export async function bundleAgent(file: string, entry: string, profile: BundleProfile): Promise<AgentBundle> {
  const esbuild = await import("esbuild");
  const agentDir = realpathSync(dirname(file));
  const inputs = new Set<string>();
  let result;
  try {
    result = await esbuild.build({
      ...BUNDLE_OPTIONS,
      absWorkingDir: agentDir,
      ...(profile.entry
        ? { stdin: { contents: profile.entry(file), resolveDir: dirname(file), sourcefile: "agent-os-entry.js", loader: "js" as const } }
        : { entryPoints: [file] }),
      plugins: [{ name: "agent-os", setup: (build) => setup(build, profile, agentDir, inputs) }],
    });
  } catch (error) {
    const failure = error as { errors?: { text: string; location?: { file: string; line: number; column: number } | null }[] };
    if (!failure.errors) throw error;
    const messages = failure.errors.map((e) => (e.location ? `${where(e.location.file, agentDir)}:${e.location.line}:${e.location.column}: ${e.text}` : e.text));
    throw new AgentLoadError(`${entry}: the agent does not bundle:\n  ${messages.join("\n  ")}`);
  }
  const output = Object.values(result.metafile.outputs)[0];
  // esbuild turns the agent's own `typeof require` into `typeof __require` (its shim, always a
  // function): an agent asking whether require exists must hear "undefined", as on QuickJS.
  const code = result.outputFiles[0].text.replace(/\btypeof __require\b/g, "typeof require");
  return { code, inputs: [...inputs].sort(), exports: output?.exports ?? [], agentDir };
}

function setup(build: PluginBuild, profile: BundleProfile, agentDir: string, inputs: Set<string>): void {
  build.onResolve({ filter: /^agent-os\/guest$|^agentos:/ }, (args) => profile.resolveKernel(args) ?? refuse(args));
  build.onResolve({ filter: /^[a-z][\w+.-]*:|^[\w@][^:]*$/i }, (args) => {
    if (URL_LIKE.test(args.path) || NODE_BUILTINS.has(args.path)) return refuse(args); // (node:* is URL-like)
    return undefined;
  });
  // Nothing from elsewhere on the machine gets into an agent.
  build.onLoad({ filter: /.*/, namespace: "file" }, (args) => {
    if (!profile.kernelFiles?.includes(args.path) && !insideAgent(args.path, agentDir)) {
      return { errors: [{ text: `cannot bundle ${args.path}: an agent may bundle only files of its own directory and packages from node_modules` }] };
    }
    inputs.add(args.path);
    return undefined;
  });
  build.onLoad({ filter: /.*/, namespace: REFUSED }, (args) => ({ contents: `throw new Error(${JSON.stringify(notImportable(args.path))});`, loader: "js" }));
  profile.setup?.(build);
}

/** A file esbuild names relative to the agent's directory, as a path from where the command runs. */
function where(file: string, agentDir: string): string {
  if (file === "<stdin>" || file === "agent-os-entry.js") return file;
  const path = resolve(agentDir, file);
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

function insideAgent(path: string, agentDir: string): boolean {
  const rel = relative(agentDir, path);
  if (rel !== "" && rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel)) return true;
  return resolve(path).split(sep).includes("node_modules");
}

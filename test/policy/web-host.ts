/**
 * A Web-only host for tests: bundle a module of dist/ for the browser (as esbuild would for a
 * Web page or workerd), list what it imports from Node, and run the bundle in a `node:vm`
 * context that has only Web globals, no `process`, `Buffer` or `require`.
 */
import { builtinModules } from "node:module";
import vm from "node:vm";
import { webcrypto } from "node:crypto";
import * as esbuild from "esbuild";

/** A module of dist/ bundled for the browser, with every import of Node it makes. */
export interface WebBundle {
  /** "importer -> module" for each `node:` module or Node built-in that the graph imports. */
  nodeImports: string[];
  /** The bundle (an IIFE assigning its exports to `globalName`), or "" when it did not bundle. */
  code: string;
}

const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/**
 * Bundles `entry` with `platform: "browser"`. A Node built-in does not resolve there, so esbuild
 * fails naming each importer: those failures are the Node imports (and any other failure is thrown).
 */
export async function bundleForWeb(entry: string, globalName = "PortableModule"): Promise<WebBundle> {
  let result: esbuild.BuildResult<{ write: false; metafile: true }>;
  try {
    result = await esbuild.build({ entryPoints: [entry], platform: "browser", bundle: true, format: "iife", globalName, write: false, metafile: true, logLevel: "silent" });
  } catch (e) {
    const errors = (e as esbuild.BuildFailure).errors ?? [];
    const nodeImports = errors.filter((m) => /^Could not resolve "(.*)"$/.test(m.text) && NODE_BUILTINS.has(/"(.*)"/.exec(m.text)![1]));
    if (nodeImports.length === 0 || nodeImports.length !== errors.length) throw e;
    return { nodeImports: nodeImports.map((m) => `${m.location?.file} -> ${/"(.*)"/.exec(m.text)![1]}`), code: "" };
  }
  const nodeImports: string[] = [];
  for (const [file, input] of Object.entries(result.metafile.inputs)) {
    for (const imp of input.imports) if (imp.external || imp.path.startsWith("node:") || NODE_BUILTINS.has(imp.path)) nodeImports.push(`${file} -> ${imp.path}`);
  }
  return { nodeImports, code: result.outputFiles[0].text };
}

/** The Web globals the context gets (JavaScript's own, such as JSON and Intl, it has anyway). */
export function webGlobals(): Record<string, unknown> {
  return { TextEncoder, TextDecoder, URL, URLSearchParams, crypto: webcrypto, console, structuredClone };
}

/** A fresh context with only Web globals, and a way to evaluate code in it. */
export function webContext(): { run(code: string): unknown; global: Record<string, unknown> } {
  const global = vm.createContext(webGlobals()) as Record<string, unknown>;
  return { run: (code) => vm.runInContext(code, global), global };
}

/**
 * Runs a bundle made by bundleForWeb in a Web-only context: its exports, and a way to evaluate
 * more code in the same context.
 *
 * @example const { exports } = loadInWebContext<typeof import("../../dist/runtime/policy/portable.js")>(bundle.code)
 */
export function loadInWebContext<T>(code: string, globalName = "PortableModule"): { exports: T; run(code: string): unknown } {
  const context = webContext();
  context.run(code);
  return { exports: context.global[globalName] as T, run: context.run };
}

/**
 * Does a component fit the kernel's `agent` world? Checked at load, before anything of it runs:
 * it must be a component (not a core module), import nothing but `agentos:kernel/*@0.1.0`
 * interfaces and the few WASI interfaces StarlingMonkey's timers need (backed by the kernel's
 * clock: see wasi.ts), import each kernel function with exactly the kernel's signature and no
 * WASI function the kernel does not supply, and export
 * `run: func(task: string) -> result<string, string>`.
 */
import { AgentLoadError } from "../../errors.js";
import { INTERFACES } from "../../kernel/ops.js";

export const WIT_PACKAGE = "agentos:kernel";
export const WIT_VERSION = "0.1.0";
export const RUN_EXPORT = "run: func(task: string) -> result<string, string>;";

export const WASI_VERSION = "0.2.12";
/** The WASI functions the kernel supplies (wasi.ts), by interface: a component may import these and no other WASI. */
export const WASI_FUNCTIONS: Readonly<Record<string, readonly string[]>> = {
  "wasi:io/poll": ["poll"],
  "wasi:clocks/monotonic-clock": ["now", "resolution", "subscribeInstant", "subscribeDuration"],
  "wasi:io/error": [],
  "wasi:io/streams": [],
  "wasi:cli/stderr": ["getStderr"],
  "wasi:clocks/wall-clock": ["now", "resolution"],
};
const WASI_IMPORTS = Object.keys(WASI_FUNCTIONS).map((i) => `${i}@${WASI_VERSION}`);

/** Every interface a component may import: the world's, `types`, which they use, and the WASI of timers. */
export const ALLOWED_IMPORTS: readonly string[] = [...["types", ...INTERFACES].map((i) => `${WIT_PACKAGE}/${i}@${WIT_VERSION}`), ...WASI_IMPORTS];

const MAGIC = [0x00, 0x61, 0x73, 0x6d];

/** Refuses what is not a WebAssembly component at all, with a message saying what it is. */
export function checkHeader(bytes: Uint8Array, where: string): void {
  if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new AgentLoadError(`${where}: not a WebAssembly file (no \\0asm header)`);
  }
  const version = bytes[4] | (bytes[5] << 8);
  const layer = bytes[6] | (bytes[7] << 8);
  if (layer === 0 && version === 1) {
    throw new AgentLoadError(`${where}: a core WebAssembly module, not a component; build agents with "agent-os build"`);
  }
  if (layer !== 1) throw new AgentLoadError(`${where}: not a WebAssembly component (layer ${layer}, version ${version})`);
}

export interface WorldSummary {
  imports: string[];
  exports: string[];
}

/** Reads the imports and exports of the world that `jco`'s componentWit prints for a component. */
export function summarizeWorld(wit: string): WorldSummary {
  const world = /^world\s+[\w-]+\s*\{([\s\S]*?)^\}/m.exec(wit);
  const body = world ? world[1] : "";
  const imports: string[] = [];
  const exports: string[] = [];
  // Top-level items of the world only: nested braces (inline interfaces) are skipped.
  let depth = 0;
  for (const raw of body.split("\n")) {
    const line = raw.trim();
    if (depth === 0) {
      const item = /^(import|export)\s+(.*)$/.exec(line);
      if (item) (item[1] === "import" ? imports : exports).push(item[2].replace(/\s+/g, " ").replace(/\s*\{$/, ""));
    }
    depth += (line.match(/\{/g) ?? []).length - (line.match(/\}/g) ?? []).length;
  }
  return { imports, exports };
}

/** The name an import item stands for: `agentos:kernel/fs@0.1.0`, or `foo` for `foo: func()`. */
export function importName(item: string): string {
  return /^([^\s;{]+?)(?=:\s|;|\s|\{|$)/.exec(item)?.[1] ?? item;
}

/**
 * Checks the world a component declares (componentWit's text).
 * @throws AgentLoadError naming the first import the kernel does not provide, or the missing export.
 */
export function checkWorld(wit: string, where: string): WorldSummary {
  const summary = summarizeWorld(wit);
  for (const item of summary.imports) {
    const name = importName(item);
    if (!ALLOWED_IMPORTS.includes(name)) {
      const hint = name.startsWith(`${WIT_PACKAGE}/`)
        ? ` (the kernel provides ${WIT_PACKAGE}/{${INTERFACES.join(",")}}@${WIT_VERSION})`
        : name.startsWith("wasi:")
          ? ` (a component may import only ${WASI_IMPORTS.join(", ")} of WASI, backed by the kernel's clock; "agent-os build" builds it so)`
          : "";
      throw new AgentLoadError(`${where}: imports ${name}, which the kernel does not provide${hint}`);
    }
  }
  const run = summary.exports.find((e) => /^run\s*:/.test(e));
  if (!run) {
    throw new AgentLoadError(`${where}: targets another world: it does not export ${RUN_EXPORT.replace(/;$/, "")} (the kernel's "agent" world)`);
  }
  if (run.replace(/\s+/g, "") !== RUN_EXPORT.replace(/\s+/g, "")) {
    throw new AgentLoadError(`${where}: targets another world: it exports ${run.replace(/;$/, "")}, not ${RUN_EXPORT.replace(/;$/, "")}`);
  }
  return summary;
}

/** Declarations of one generated interface file: "function readText" -> its normalized text. */
export function declarations(dts: string): { module: string | undefined; decls: Map<string, string> } {
  const module = /@module Interface ([^\s*]+)/.exec(dts)?.[1];
  const code = dts.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  const decls = new Map<string, string>();
  const starts = [...code.matchAll(/^export (function|type|interface) (\w+)/gm)];
  starts.forEach((m, i) => {
    const end = i + 1 < starts.length ? starts[i + 1].index : code.length;
    decls.set(`${m[1]} ${m[2]}`, code.slice(m.index, end).replace(/\s+/g, " ").trim());
  });
  return { module, decls };
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

/**
 * Compares the component's view of each kernel interface (the TypeScript declarations jco
 * generates from the component's own types) with the kernel's (generated from wit/).
 * @throws AgentLoadError naming the first function the kernel does not provide, or provides
 * with another signature.
 */
export function checkInterfaces(component: string[], kernel: string[], where: string): void {
  const reference = new Map<string, Map<string, string>>();
  for (const text of kernel) {
    const { module, decls } = declarations(text);
    if (module) reference.set(module, decls);
  }
  for (const text of component) {
    const { module, decls } = declarations(text);
    if (!module) continue;
    if (WASI_IMPORTS.includes(module)) {
      checkWasiFunctions(module, decls, where);
      continue;
    }
    const expected = reference.get(module);
    if (!expected) throw new AgentLoadError(`${where}: imports ${module}, which the kernel does not provide`);
    for (const [key, text] of decls) {
      const [kind, name] = key.split(" ");
      const theirs = expected.get(key);
      if (kind === "function") {
        if (theirs === undefined) throw new AgentLoadError(`${where}: imports ${module}#${kebab(name)}, which the kernel does not provide`);
        if (theirs !== text) {
          throw new AgentLoadError(`${where}: imports ${module}#${kebab(name)} with another signature than the kernel's (${signature(text)} instead of ${signature(theirs)})`);
        }
      } else if (theirs !== undefined && theirs !== text) {
        throw new AgentLoadError(`${where}: ${module} declares ${kind} ${name} differently from the kernel`);
      }
    }
  }
}

/** A WASI interface the kernel supplies: it may import only the functions the kernel has (checked by name). */
function checkWasiFunctions(module: string, decls: Map<string, string>, where: string): void {
  const supplied = WASI_FUNCTIONS[module.split("@")[0]];
  for (const key of decls.keys()) {
    const [kind, name] = key.split(" ");
    if (kind === "function" && !supplied.includes(name)) throw new AgentLoadError(`${where}: imports ${module}#${kebab(name)}, which the kernel does not provide`);
  }
}

function signature(decl: string): string {
  return decl.replace(/^export function /, "").replace(/;$/, "");
}

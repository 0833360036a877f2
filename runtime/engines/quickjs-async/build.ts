/**
 * Builds the asynchronous QuickJS engine: `engine.wasm` beside this file.
 *
 * The input is quickjs-emscripten's published *synchronous* release build (0.32.0), whose bytes
 * and glue are checked against the hashes below. Its C stack is first made 1 MiB instead of
 * 5 MiB, with the heap moved down to start above it (withSmallerStack). Binaryen then:
 * 1. gives its minified imports and exports readable names (the glue in this directory uses
 *    them, so it does not depend on a minifier's choices);
 * 2. runs the asyncify pass with four imports that may suspend: a host function call, the
 *    interrupt handler, and the two module-loader callbacks. The published asyncify build lists
 *    only three (not the interrupt), so a guest in a tight loop could not be paused there;
 * 3. optimizes (-O2).
 *
 * The same input and the same binaryen give the same bytes every time; `engine.wasm.sha256`
 * holds the output's hash, which the loader checks. Run with `npm run build:engine` (about
 * 20 s); `test/engines/engine-build.test.ts` rebuilds and compares.
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { ENGINE_INITIAL_PAGES, ENGINE_STACK_TOP } from "./layout.js";

export { ENGINE_INITIAL_PAGES, ENGINE_STACK_TOP };

/** sha256 of the published files this build starts from (quickjs-emscripten 0.32.0, release-sync). */
export const INPUT_WASM_SHA256 = "105c3bed22d457e43e3d1c3c1c6959fda62a8fe06f0fc8a985303c3a2be72232";
export const INPUT_GLUE_SHA256 = "3b0757e4b1051a5f344322ad6a02c075dadff70cdb50d37b7df6c120d4af77e9";

/**
 * The input's imports (module "a"), by minified name: what each is, as its glue shows. The
 * four host callbacks are the ones that may suspend.
 */
export const IMPORT_NAMES: Readonly<Record<string, string>> = {
  a: "memory",
  b: "__assert_fail",
  c: "fd_write",
  d: "fd_close",
  e: "environ_get",
  f: "environ_sizes_get",
  g: "qts_host_normalize_module",
  h: "qts_host_load_module_source",
  i: "qts_host_interrupt_handler",
  j: "_setitimer_js",
  k: "emscripten_resize_heap",
  l: "_emscripten_runtime_keepalive_clear",
  m: "_localtime_js",
  n: "_tzset_js",
  o: "fd_seek",
  p: "emscripten_date_now",
  q: "_abort_js",
  r: "proc_exit",
  s: "qts_host_call_function",
  t: "qts_host_free_value",
};

export const SUSPENDING_IMPORTS = ["qts_host_call_function", "qts_host_interrupt_handler", "qts_host_load_module_source", "qts_host_normalize_module"];


/**
 * Where the published build's C stack starts (its top: the stack grows down to the end of the
 * static data, at 90,208) and where its heap begins: 5 MiB above the data.
 */
const PUBLISHED_STACK_TOP = 5_333_088;

/**
 * The published wasm with its stack top moved to ENGINE_STACK_TOP, and its heap with it: the
 * top is an `i32.const` twice (the stack pointer global's initial value, and a value the
 * start-up code stores), each rewritten in place as a padded LEB128 of the same length; and the
 * heap's start is the initial value of `sbrk`'s break, a 32-bit word in the data section.
 * @throws if the input does not hold exactly those
 */
function withSmallerStack(wasm: Uint8Array): Uint8Array {
  const bytes = Buffer.from(wasm);
  const constant = Buffer.from([0x41, ...leb128(PUBLISHED_STACK_TOP)]);
  replaceAll(bytes, constant, Buffer.from([0x41, ...leb128(ENGINE_STACK_TOP, constant.length - 1)]), 2);
  const word = (value: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value);
    return b;
  };
  replaceAll(bytes, word(PUBLISHED_STACK_TOP), word(ENGINE_STACK_TOP), 1);
  return new Uint8Array(bytes);
}

/** Replaces the `count` occurrences of `from` in `bytes` by `to` (as long). @throws if there are not exactly `count` */
function replaceAll(bytes: Buffer, from: Buffer, to: Buffer, count: number): void {
  const hits: number[] = [];
  for (let at = bytes.indexOf(from); at >= 0; at = bytes.indexOf(from, at + 1)) hits.push(at);
  if (hits.length !== count) throw new Error(`the engine's stack top ${PUBLISHED_STACK_TOP} appears ${hits.length} times as ${from.toString("hex")}, not ${count}`);
  for (const at of hits) to.copy(bytes, at);
}

/** Unsigned LEB128 of `value`, padded to `length` bytes when given. */
function leb128(value: number, length = 0): number[] {
  const out: number[] = [];
  do {
    out.push(value & 0x7f);
    value = Math.floor(value / 128);
  } while (value > 0 || out.length < length);
  for (let i = 0; i < out.length - 1; i++) out[i] |= 0x80;
  if (length > 0 && out.length !== length) throw new Error(`${value} does not fit in ${length} LEB128 bytes`);
  return out;
}

/**
 * The module with its memory import's minimum set to `pages`, rewritten in place: the import
 * "a"."a" is (memory 256 32768) in the input, and its minimum's two LEB128 bytes become the
 * same number of bytes for `pages` (padded), so that no length changes.
 */
function withInitialMemory(bytes: Uint8Array, pages: number): Uint8Array {
  const entry = [1, 0x61, 1, 0x61, 2, 1, 0x80, 2, 0x80, 0x80, 2]; // "a" "a" memory, flags 1, min 256, max 32768
  let at = -1;
  for (let i = 0; i + entry.length <= bytes.length && at < 0; i++) if (entry.every((b, j) => bytes[i + j] === b)) at = i;
  if (at < 0 || pages >= 128) throw new Error("the engine's memory import is not the expected (memory 256 32768)");
  const out = bytes.slice();
  out[at + 6] = 0x80 | (pages & 0x7f);
  out[at + 7] = pages >> 7;
  return out;
}

/** Exports the glue names only by use: the constructors, the timer callback and the stack helpers. */
const UNNAMED_EXPORTS: Readonly<Record<string, string>> = {
  u: "__wasm_call_ctors",
  La: "_emscripten_timeout",
  Ma: "_emscripten_stack_restore",
  Na: "_emscripten_stack_alloc",
  Oa: "emscripten_stack_get_current",
};

export const ENGINE_WASM = fileURLToPath(new URL("../../../../runtime/engines/quickjs-async/engine.wasm", import.meta.url));

interface Binaryen {
  readBinary(bytes: Uint8Array): BinaryenModule;
  setOptimizeLevel(level: number): void;
  setShrinkLevel(level: number): void;
  setPassArgument(key: string, value: string): void;
  getExportInfo(ref: number): { name: string; value: string; kind: number };
  getFunctionInfo(ref: number): { name: string; module: string | null; base: string | null; params: number; results: number };
  ExternalFunction: number;
  Features: Record<string, number>;
}
interface BinaryenModule {
  setFeatures(features: number): void;
  getNumExports(): number;
  getExportByIndex(i: number): number;
  removeExport(name: string): void;
  addFunctionExport(internal: string, external: string): number;
  getNumFunctions(): number;
  getFunctionByIndex(i: number): number;
  removeFunction(name: string): void;
  addFunctionImport(internal: string, module: string, base: string, params: number, results: number): void;
  getMemoryInfo(name: string): unknown;
  runPasses(passes: string[]): void;
  optimize(): void;
  validate(): number;
  emitBinary(): Uint8Array;
  emitText(): string;
  dispose(): void;
}

function sha256(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The published glue's `Module._NAME = exports.x` lines: the QTS functions, malloc and free. */
function namedExports(glue: string): Map<string, string> {
  const names = new Map<string, string>(Object.entries(UNNAMED_EXPORTS));
  for (const [, name, minified] of glue.matchAll(/d\._(\w+)=\s*b\.([\w$]+)/g)) names.set(minified, name);
  return names;
}

/** Builds the engine from the installed quickjs-emscripten files. @throws if they are not the expected ones */
export async function buildEngine(): Promise<Uint8Array> {
  const require = createRequire(import.meta.url);
  const dist = dirname(require.resolve("@jitl/quickjs-wasmfile-release-sync/wasm"));
  const wasm = readFileSync(join(dist, "emscripten-module.wasm"));
  const glue = readFileSync(join(dist, "emscripten-module.mjs"), "utf8");
  if (sha256(wasm) !== INPUT_WASM_SHA256 || sha256(glue) !== INPUT_GLUE_SHA256) {
    throw new Error("the installed @jitl/quickjs-wasmfile-release-sync is not 0.32.0 as published: update build.ts's tables and hashes for it");
  }
  const binaryen = (await import("binaryen")).default as unknown as Binaryen;
  const mod = binaryen.readBinary(withSmallerStack(wasm));
  try {
    const f = binaryen.Features;
    mod.setFeatures(f.MVP | f.MutableGlobals | f.SignExt | f.BulkMemory | f.BulkMemoryOpt | f.NontrappingFPToInt);
    renameExports(binaryen, mod, namedExports(glue));
    renameImports(binaryen, mod);
    binaryen.setOptimizeLevel(2);
    binaryen.setShrinkLevel(0);
    binaryen.setPassArgument("asyncify-imports", SUSPENDING_IMPORTS.map((name) => `env.${name}`).join(","));
    binaryen.setPassArgument("asyncify-onlylist", unwindingFunctions(mod.emitText()).join(","));
    mod.runPasses(["asyncify"]);
    mod.optimize();
    if (!mod.validate()) throw new Error("the engine did not validate after the asyncify pass");
    return withInitialMemory(mod.emitBinary(), ENGINE_INITIAL_PAGES);
  } finally {
    mod.dispose();
  }
}

/**
 * The functions that may have to unwind: those that can reach a suspending import. Asyncify's
 * own analysis assumes an indirect call may reach any function; here it reaches only the
 * table's functions of its type (what `call_indirect` checks). The difference matters: QuickJS
 * allocates through a function pointer, so by asyncify's rule nearly every function would be
 * instrumented, and the interpreter loop's native frame grows to about 39 KB once V8 optimises
 * it (a guest recursion of 200 then exhausts an 8 MB stack). Sound for this module: it has no
 * `call_ref`, and nothing writes its table after instantiation.
 */
export function unwindingFunctions(text: string): string[] {
  const typeSigs = new Map<string, string>();
  for (const [, id, sig] of text.matchAll(/^ \(type \$(\S+) \(func(.*)\)\)$/gm)) typeSigs.set(id, signature(sig));
  const sigOf = new Map<string, string>();
  const unwinding = new Set<string>();
  for (const [, base, name, sig] of text.matchAll(/^ \(import "env" "(\w+)" \(func \$(\S+)(.*)\)\)$/gm)) {
    sigOf.set(name, signature(sig));
    if (SUSPENDING_IMPORTS.includes(base)) unwinding.add(name);
  }
  const direct = new Map<string, Set<string>>();
  const indirect = new Map<string, Set<string>>();
  const defined: string[] = [];
  for (const body of text.split(/^(?= \(func \$)/m).slice(1)) {
    const header = /^ \(func \$(\S+)(.*)$/m.exec(body);
    if (!header) continue;
    const name = header[1];
    defined.push(name);
    sigOf.set(name, signature(header[2]));
    direct.set(name, new Set([...body.matchAll(/\(call \$(\S+)/g)].map((m) => m[1])));
    indirect.set(name, new Set([...body.matchAll(/\(call_indirect (?:\$\S+ )?\(type \$(\S+)\)/g)].map((m) => typeSigs.get(m[1]) ?? "?")));
  }
  const table = new Map<string, string[]>();
  for (const [, list] of text.matchAll(/^ \(elem \$\S+ \(i32\.const \d+\)((?: \$\S+)*)\)$/gm)) {
    for (const [, fn] of list.matchAll(/\$(\S+)/g)) {
      const sig = sigOf.get(fn) ?? "?";
      table.set(sig, [...(table.get(sig) ?? []), fn]);
    }
  }
  for (let changed = true; changed; ) {
    changed = false;
    const reachable = new Set([...table].filter(([, fns]) => fns.some((fn) => unwinding.has(fn))).map(([sig]) => sig));
    for (const fn of defined) {
      if (unwinding.has(fn)) continue;
      if ([...direct.get(fn)!].some((callee) => unwinding.has(callee)) || [...indirect.get(fn)!].some((sig) => sig === "?" || reachable.has(sig))) {
        unwinding.add(fn);
        changed = true;
      }
    }
  }
  return defined.filter((fn) => unwinding.has(fn));
}

/** "(param $a i32) (param $b i64) (result i32)" or "(param i32 i64) (result i32)" -> "i32,i64->i32". */
function signature(text: string): string {
  const params = [...text.matchAll(/\(param (?:\$\S+ )?([^)]*)\)/g)].flatMap((m) => m[1].trim().split(/\s+/));
  const results = [...text.matchAll(/\(result ([^)]*)\)/g)].flatMap((m) => m[1].trim().split(/\s+/));
  return `${params.join(",")}->${results.join(",")}`;
}

function renameExports(binaryen: Binaryen, mod: BinaryenModule, names: Map<string, string>): void {
  const exports: { name: string; value: string; kind: number }[] = [];
  for (let i = 0; i < mod.getNumExports(); i++) exports.push(binaryen.getExportInfo(mod.getExportByIndex(i)));
  for (const e of exports) {
    if (e.kind !== binaryen.ExternalFunction) continue;
    const name = names.get(e.name);
    if (name === undefined) throw new Error(`the engine's export ${e.name} has no known name`);
    mod.removeExport(e.name);
    mod.addFunctionExport(e.value, name);
  }
}

/** Function imports move to module "env" under their real names (the memory stays "a"."a"). */
function renameImports(binaryen: Binaryen, mod: BinaryenModule): void {
  const imports: { name: string; base: string; params: number; results: number }[] = [];
  for (let i = 0; i < mod.getNumFunctions(); i++) {
    const info = binaryen.getFunctionInfo(mod.getFunctionByIndex(i));
    if (info.module === "a" && info.base !== null) imports.push({ name: info.name, base: info.base, params: info.params, results: info.results });
  }
  for (const imp of imports) {
    const name = IMPORT_NAMES[imp.base];
    if (name === undefined) throw new Error(`the engine's import a.${imp.base} has no known name`);
    mod.removeFunction(imp.name);
    mod.addFunctionImport(imp.name, "env", name, imp.params, imp.results);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now();
  const bytes = await buildEngine();
  writeFileSync(ENGINE_WASM, bytes);
  writeFileSync(ENGINE_WASM + ".sha256", sha256(bytes) + "\n");
  console.log(`engine.wasm: ${bytes.length} bytes, sha256 ${sha256(bytes)}, built in ${Math.round(performance.now() - started)} ms`);
}

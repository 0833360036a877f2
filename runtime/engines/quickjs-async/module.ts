/**
 * The asynchronous engine's module: engine.wasm, compiled once per thread, then instantiated
 * once per agent (about 0.1 ms; compiling each time would cost about 27 ms).
 *
 * Where the module comes from is the host's business: on Node it is read from the package and
 * checked against its recorded hash (runtime/hosts/node/engine-file.ts); an edge host, which may
 * not compile WebAssembly from bytes at all, imports engine.wasm as a module and passes it in
 * (`useEngineModule`).
 */
import { QuickJSFFI } from "@jitl/quickjs-wasmfile-release-sync/ffi";
import { QuickJSWASMModule } from "quickjs-emscripten";
import type { WasmModule } from "../component/wasm.js";
import { EngineGlue, type EngineHooks, type GlueOptions } from "./glue.js";
import { ENGINE_INITIAL_PAGES } from "./layout.js";

/** The engine's initial linear memory: its declared minimum (see build.ts; touched only as used). */
export const ENGINE_INITIAL_BYTES = ENGINE_INITIAL_PAGES * 65536;

let compiled: WasmModule | undefined;
let loader: (() => WasmModule) | undefined;

/** Sets the compiled engine this thread instantiates (an edge host's imported engine.wasm). */
export function useEngineModule(module: WasmModule): void {
  compiled = module;
}

/** Sets how the engine is found the first time it is needed (the Node host reads the file). */
export function setEngineLoader(load: () => WasmModule): void {
  loader = load;
}

/** The compiled engine. @throws Error when the host gave none and has no way to load one */
export function engineModule(): WasmModule {
  if (compiled) return compiled;
  if (!loader) throw new Error("agent-os: this host has no QuickJS engine module: pass engine.wasm, imported as a WebAssembly.Module, to the kernel");
  compiled = loader();
  return compiled;
}

/** One engine instance, and the quickjs-emscripten module over it. */
export interface Engine {
  glue: EngineGlue;
  quickjs: QuickJSWASMModule;
}

/**
 * A fresh engine instance with its own memory of at most `maximumBytes`; with `copyOf`, a copy
 * of another instance (see EngineGlue), whose memory had `initialBytes`.
 */
export function newEngine(hooks: EngineHooks, maximumBytes: number, copyOf?: GlueOptions["copyOf"], initialBytes = ENGINE_INITIAL_BYTES): Engine {
  const glue = new EngineGlue({ module: engineModule(), hooks, initialBytes, maximumBytes, copyOf });
  const ffi = new QuickJSFFI(glue as never);
  return { glue, quickjs: new QuickJSWASMModule(glue as never, ffi) };
}

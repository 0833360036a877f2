/**
 * The asynchronous engine's module: engine.wasm, checked against its recorded hash and compiled
 * once per thread, then instantiated once per agent (about 0.1 ms; compiling each time would
 * cost about 27 ms).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { QuickJSFFI } from "@jitl/quickjs-wasmfile-release-sync/ffi";
import { QuickJSWASMModule } from "quickjs-emscripten";
import { Wasm, type WasmModule } from "../component/wasm.js";
import { ENGINE_INITIAL_PAGES } from "./build.js";
import { EngineGlue, type EngineHooks, type GlueOptions } from "./glue.js";

const WASM_URL = new URL("../../../../runtime/engines/quickjs-async/engine.wasm", import.meta.url);

/** The engine's initial linear memory: its declared minimum (see build.ts; touched only as used). */
export const ENGINE_INITIAL_BYTES = ENGINE_INITIAL_PAGES * 65536;

let compiled: WasmModule | undefined;

/** The compiled engine. @throws Error when engine.wasm is missing or not the recorded build */
export function engineModule(): WasmModule {
  if (compiled) return compiled;
  const bytes = readFileSync(WASM_URL);
  const expected = readFileSync(new URL(WASM_URL.href + ".sha256"), "utf8").trim();
  const actual = createHash("sha256").update(bytes).digest("hex");
  if (actual !== expected) throw new Error(`runtime/engines/quickjs-async/engine.wasm is not the recorded build (sha256 ${actual}, expected ${expected}): run npm run build:engine`);
  const module = new Wasm.Module(bytes);
  compiled = module;
  return module;
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

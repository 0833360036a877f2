/**
 * A component as the kernel runs it: the jco glue and the compiled, instrumented core modules.
 * Built on the kernel's thread at load (or read from the cache) and posted to a pool worker with
 * each run; the compiled code is shared between threads, not copied.
 */
import type { WasmModule } from "./wasm.js";

/** Bump when the instrumentation changes: cached results of another version are not used. */
export const INSTRUMENTER_VERSION = "fuel-8";

/** Bump when what a component may import changes (the world check): entries prepared under another are checked again. */
export const HOST_FORMAT = "wasi-clocks-1";

/** The import module of everything the engine itself supplies to an instrumented core module. */
export const ENGINE_IMPORT = "agentos:engine";
/** `(i32) -> i32`: called with the counter once it is below zero (what was overspent); returns the new counter. */
export const REFUEL_IMPORT = "refuel";
/**
 * `(i32) -> i32`: called with the pages every `memory.grow` asks for, just before it asks;
 * returns them unchanged. It tells the engine when a growth was refused at the run's limit.
 */
export const GROW_IMPORT = "grow";
/** The memory of the module that had one: imported, so that each run sets its maximum. */
export const MEMORY_IMPORT = "memory";
/** The exported counter: units left in the current slice (-1 right after the last one ran out). */
export const FUEL_EXPORT = "agentos-fuel";

export interface ComponentImage {
  /** The component's content hash and the preparation format: names the cache entry. */
  key: string;
  /** The jco glue module, as a data: URL (of the bytes the kernel checked). */
  glue: string;
  /** Compiled core modules by the name the glue asks for them. */
  modules: Record<string, WasmModule>;
  /** The modules that count fuel (import the refuel hook and export the counter). */
  instrumented: string[];
  /** The module whose memory is imported, and that memory's initial size in pages. */
  memoryModule: string;
  initialPages: number;
}

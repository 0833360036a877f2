/**
 * The few WebAssembly JS API types the component engine uses. The project compiles without the
 * DOM library (which is where TypeScript declares `WebAssembly`), so they are declared here, on
 * the engine's side only.
 */

/** A compiled core module; it can be posted to a worker (the compiled code is shared). */
export interface WasmModule {
  readonly __brand?: "WebAssembly.Module";
}

export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

export interface WasmGlobal {
  value: number;
}

export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

interface WasmApi {
  Module: { new (bytes: Uint8Array): WasmModule };
  Instance: { new (module: WasmModule, imports: Record<string, Record<string, unknown>>): WasmInstance };
  Memory: { new (descriptor: { initial: number; maximum?: number }): WasmMemory };
  RuntimeError: new (...args: never[]) => Error;
  compile(bytes: Uint8Array): Promise<WasmModule>;
}

export const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Bytes in one page of linear memory. */
export const PAGE_BYTES = 65536;

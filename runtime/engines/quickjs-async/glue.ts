/**
 * The glue between one instance of the asynchronous engine (engine.wasm, see build.ts) and
 * quickjs-emscripten's FFI: the imports the wasm needs, the module object the FFI expects, and
 * the asyncify runtime that lets a host call or an interrupt suspend the guest's stack.
 *
 * Written for this engine, not generated: it gives the guest nothing of the host's. There is no
 * environment, no file descriptor but a discarded stdout/stderr, and the time zone is UTC.
 *
 * Suspension works only at the bottom of the stack: when the import was reached from an export
 * that `drive()` called, with no host JavaScript frame in between (asyncify cannot unwind
 * through one). `canSuspend()` says whether the import being served could; a host function
 * that cannot suspend must answer synchronously.
 */
import type { EmscriptenModuleCallbacks } from "quickjs-emscripten";
import { Wasm, type WasmMemory, type WasmModule } from "../component/wasm.js";
import type { DirectHostFunction } from "./direct.js";
import { lengthBytesUTF8, stringToUTF8, utf8ToString } from "./heap.js";
import { libcImports } from "./libc.js";

/** What the engine asks of its owner. */
export interface EngineHooks {
  /**
   * Called at each QuickJS interrupt check (every 10,000 interpreter steps). Return true to
   * interrupt the guest, false to go on, or (only when `canSuspend`) a promise of either, to
   * suspend the guest until it settles.
   */
  interrupt(canSuspend: boolean): boolean | Promise<boolean>;
}

/** The engine trapped or was misused: its instance is unusable from now on. */
export class EngineFault extends Error {}

/** The run was abandoned while suspended (killed): nothing of it runs again. */
export class EngineAbandoned extends Error {}

const enum State {
  Normal = 0,
  Unwinding = 1,
  Rewinding = 2,
}

/** Room for the locals of the suspended stack; untouched pages cost nothing. */
const ASYNCIFY_DATA_BYTES = 1024 * 1024;
const PAGE = 65536;

type Export = (...args: number[]) => number;
interface EngineExports {
  [name: string]: Export;
}

type ValueType = "number" | "string" | "boolean" | "array" | null;

export interface GlueOptions {
  /** The compiled engine.wasm. */
  module: WasmModule;
  hooks: EngineHooks;
  /** Initial memory in bytes (the wasm's minimum at least). */
  initialBytes: number;
  /** The most memory this instance may ever have, in bytes. */
  maximumBytes: number;
  /**
   * A copy of another instance of the same module, made when it was idle: its memory's bytes
   * replace the new instance's, so that its constructors have run and its asyncify data is at
   * `asyncifyData` already.
   */
  copyOf?: { restore(memory: Uint8Array): void; asyncifyData: number };
}

/**
 * One engine instance: an emscripten-style module object (what quickjs-emscripten's FFI
 * reads: `cwrap`, `_malloc`, the heap views, the string helpers, `callbacks`) plus `drive`.
 */
export class EngineGlue {
  /** Set by quickjs-emscripten's QuickJSWASMModule: its C-to-host callbacks. */
  callbacks!: EmscriptenModuleCallbacks;
  type = "sync" as const;
  readonly memory: WasmMemory;
  private readonly exports: EngineExports;
  private hooks: EngineHooks;
  private views: { buffer: ArrayBuffer; u8: Uint8Array; i8: Int8Array; i32: Int32Array; u32: Uint32Array } | undefined;
  /** Growth beyond this many bytes is refused (the run's memory budget); Infinity lifts it. */
  heapLimit = Infinity;
  private state = State.Normal;
  /** Where the asyncify data lives in linear memory. */
  readonly data: number;
  private sleeping: Promise<unknown> | undefined;
  private resumeValue: unknown;
  private driving = false;
  private inDriveCall = false;
  /** Host JavaScript frames between the current import and the export drive() called. */
  private depth = 0;
  private entryCanSuspend = false;
  private abandon: ((error: EngineAbandoned) => void) | undefined;
  private abandoned: Promise<never>;
  private dead: string | undefined;
  /** Host functions called without quickjs-emscripten's callbacks, by host-reference id (see direct.ts). */
  private readonly direct = new Map<number, DirectHostFunction>();

  constructor(options: GlueOptions) {
    this.hooks = options.hooks;
    this.memory = new Wasm.Memory({
      initial: Math.ceil(options.initialBytes / PAGE),
      maximum: Math.max(Math.ceil(options.initialBytes / PAGE), Math.floor(options.maximumBytes / PAGE)),
    });
    const instance = new Wasm.Instance(options.module, { env: this.imports(), a: { a: this.memory } });
    this.exports = instance.exports as unknown as EngineExports;
    this.abandoned = this.abandonable();
    // The constructors also set the wasm globals that bound the C stack (not in linear memory).
    this.exports.__wasm_call_ctors();
    if (options.copyOf) {
      options.copyOf.restore(this.HEAPU8);
      this.data = options.copyOf.asyncifyData;
      return;
    }
    this.data = this.exports.malloc(ASYNCIFY_DATA_BYTES);
    if (this.data === 0) throw new EngineFault("the engine has no room for its asyncify data");
  }

  private abandonable(): Promise<never> {
    const abandoned = new Promise<never>((_, reject) => (this.abandon = reject));
    abandoned.catch(() => undefined);
    return abandoned;
  }

  // ---- reuse ----

  /**
   * Whether the instance is idle and whole: never trapped or abandoned, running nothing, no
   * stack suspended, and asyncify's own state back to normal.
   */
  get idle(): boolean {
    return this.dead === undefined && !this.driving && this.sleeping === undefined && this.state === State.Normal && this.exports.asyncify_get_state() === 0;
  }

  /** The C stack pointer (a wasm global, not in linear memory). */
  stackPointer(): number {
    return this.exports.emscripten_stack_get_current();
  }

  /**
   * Makes an idle instance new again for another owner: `restore` puts its memory back as it
   * was (see fork.ts), and every field of this glue starts over. @throws EngineFault when it is not idle
   */
  recycle(hooks: EngineHooks, restore: (memory: Uint8Array) => void): void {
    if (!this.idle) throw new EngineFault("only an idle instance can be reused");
    restore(this.HEAPU8);
    this.direct.clear();
    this.hooks = hooks;
    this.heapLimit = Infinity;
    this.resumeValue = undefined;
    this.depth = 0;
    this.entryCanSuspend = false;
    this.abandoned = this.abandonable();
  }

  // ---- what quickjs-emscripten's FFI reads ----

  get HEAPU8(): Uint8Array {
    return this.view().u8;
  }
  get HEAP8(): Int8Array {
    return this.view().i8;
  }
  get HEAP32(): Int32Array {
    return this.view().i32;
  }
  get HEAPU32(): Uint32Array {
    return this.view().u32;
  }

  _malloc = (size: number): number => this.exports.malloc(size);
  _free = (ptr: number): void => void this.exports.free(ptr);

  quickjsEmscriptenInit = (): { getWasmMemory: () => WasmMemory } => ({ getWasmMemory: () => this.memory });

  cwrap(name: string, returns: ValueType, args: ValueType[]): (...args: unknown[]) => unknown {
    const fn = this.exports[name];
    if (typeof fn !== "function") throw new EngineFault(`the engine has no function ${name}`);
    if (returns !== "string" && returns !== "boolean" && args.every((a) => a === "number" || a === "boolean")) return fn as (...a: unknown[]) => unknown;
    return (...values: unknown[]) => {
      const stack = this.exports.emscripten_stack_get_current();
      try {
        const raw = args.map((type, i) => (type === "string" ? this.stackString(values[i] as string | null) : (values[i] as number)));
        const result = fn(...raw);
        return returns === "string" ? this.UTF8ToString(result) : returns === "boolean" ? Boolean(result) : result;
      } finally {
        // (a suspension here would be a bug: wrapped calls never run guest code that may suspend)
        if (this.state !== State.Unwinding) this.exports._emscripten_stack_restore(stack);
      }
    };
  }

  /** The export `name` itself, for the calls drive() makes (no wrapper may move the C stack around a suspension). */
  raw(name: string): Export {
    const fn = this.exports[name];
    if (typeof fn !== "function") throw new EngineFault(`the engine has no function ${name}`);
    return fn;
  }

  UTF8ToString(ptr: number, maxBytes = Infinity): string {
    return utf8ToString(this.HEAPU8, ptr, maxBytes);
  }

  lengthBytesUTF8(text: string): number {
    return lengthBytesUTF8(text);
  }

  /** Writes `text` as UTF-8 and a NUL at `out`, in at most `maxBytes` bytes; returns the bytes written (without the NUL). */
  stringToUTF8(text: string, out: number, maxBytes: number): number {
    return stringToUTF8(this.HEAPU8, text, out, maxBytes);
  }

  /** Has the host function with host-reference `id` called as `call` (until the id is freed). */
  callDirectly(id: number, call: DirectHostFunction): void {
    this.direct.set(id, call);
  }

  // ---- suspension ----

  /** Whether the host call or interrupt being served right now may suspend the guest. */
  canSuspend(): boolean {
    return this.entryCanSuspend && this.state === State.Normal;
  }

  /** Whether the instance may still be called: not trapped, not abandoned. */
  get usable(): boolean {
    return this.dead === undefined;
  }

  /** Whether the instance is suspended in a host call or an interrupt. */
  get suspended(): boolean {
    return this.sleeping !== undefined;
  }

  /**
   * Calls `call` (one export that may run guest code, with the same arguments every time) until
   * it returns without suspending, waiting out each suspension. Only one drive at a time.
   * @throws EngineFault when the engine traps; EngineAbandoned after abandon().
   */
  async drive(call: () => number): Promise<number> {
    if (this.dead !== undefined) throw new EngineFault(this.dead);
    if (this.driving) throw new EngineFault("the engine is already running guest code");
    this.driving = true;
    try {
      let result = this.callAtBottom(call);
      while (this.state === State.Unwinding) {
        this.exports.asyncify_stop_unwind();
        this.state = State.Normal;
        const sleeping = this.sleeping!;
        this.resumeValue = await Promise.race([sleeping, this.abandoned]);
        this.sleeping = undefined;
        this.exports.asyncify_start_rewind(this.data);
        this.state = State.Rewinding;
        result = this.callAtBottom(call);
      }
      return result;
    } finally {
      this.driving = false;
    }
  }

  /** Ends a suspended run for good: its drive rejects with EngineAbandoned and the stack is never resumed. */
  abandonRun(reason = "abandoned"): void {
    this.dead ??= reason;
    this.abandon?.(new EngineAbandoned(reason));
  }

  private callAtBottom(call: () => number): number {
    this.inDriveCall = true;
    try {
      return call();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.dead =
        error instanceof RangeError && /call stack/i.test(message)
          ? "the engine ran out of the host thread's native stack (RangeError: Maximum call stack size exceeded; a thread with a larger stack gives it more: see pool.stackSizeMb, or node --stack-size in the kernel's own thread)"
          : `the engine trapped: ${message}`;
      throw new EngineFault(this.dead);
    } finally {
      this.inDriveCall = false;
    }
  }

  /**
   * Serves an import that may suspend: on a rewind, answers what the suspension resolved to;
   * otherwise runs `body` with `canSuspend()` telling whether it may.
   */
  private enter(body: () => number): number {
    if (this.state === State.Rewinding) {
      this.exports.asyncify_stop_rewind();
      this.state = State.Normal;
      const value = this.resumeValue;
      this.resumeValue = undefined;
      return value as number;
    }
    const outer = this.entryCanSuspend;
    this.entryCanSuspend = this.inDriveCall && this.depth === 0 && this.sleeping === undefined;
    this.depth++;
    try {
      return body();
    } finally {
      this.depth--;
      this.entryCanSuspend = outer;
    }
  }

  /** Starts unwinding the stack; the drive resumes it once `until` settles with the import's answer. */
  private suspend(until: Promise<unknown>): number {
    if (!this.canSuspend()) throw new EngineFault("the engine was asked to suspend where it cannot");
    const header = this.HEAP32;
    header[this.data >> 2] = this.data + 8;
    header[(this.data + 4) >> 2] = this.data + ASYNCIFY_DATA_BYTES;
    this.sleeping = until;
    this.exports.asyncify_start_unwind(this.data);
    this.state = State.Unwinding;
    return 0;
  }

  /** emscripten's Asyncify.handleSleep, as quickjs-emscripten's callbacks use it. */
  private readonly asyncify = {
    handleSleep: (start: (wake: (value: unknown) => void) => void): unknown => {
      let sync = true;
      let syncValue: unknown;
      let done = false;
      let wake!: (value: unknown) => void;
      const later = new Promise((resolve) => (wake = resolve));
      start((value) => {
        if (sync) {
          done = true;
          syncValue = value;
        } else wake(value);
      });
      sync = false;
      return done ? syncValue : this.suspend(later);
    },
  };

  private imports(): Record<string, (...args: never[]) => unknown> {
    const asyncify = this.asyncify as never;
    return {
      qts_host_call_function: (ctx: number, thisPtr: number, argc: number, argv: number, fnId: number) =>
        this.enter(() => {
          const direct = this.direct.get(fnId);
          if (direct === undefined) return this.callbacks.callFunction(asyncify, ctx as never, thisPtr as never, argc, argv as never, fnId as never) as number;
          const answer = direct(argc, argv);
          return typeof answer === "number" ? answer : this.suspend(answer);
        }),
      qts_host_interrupt_handler: () =>
        this.enter(() => {
          const answer = this.hooks.interrupt(this.canSuspend());
          if (typeof answer === "boolean") return answer ? 1 : 0;
          return this.suspend(answer.then((stop) => (stop ? 1 : 0)));
        }),
      qts_host_load_module_source: (rt: number, ctx: number, name: number) =>
        this.enter(() => this.callbacks.loadModuleSource(asyncify, rt as never, ctx as never, this.UTF8ToString(name) as never) as number),
      qts_host_normalize_module: (rt: number, ctx: number, base: number, name: number) =>
        this.enter(
          () => this.callbacks.normalizeModule(asyncify, rt as never, ctx as never, this.UTF8ToString(base) as never, this.UTF8ToString(name) as never) as number,
        ),
      qts_host_free_value: (rt: number, id: number) => {
        this.direct.delete(id);
        this.callbacks.freeHostRef(undefined as never, rt as never, id as never);
      },
      __assert_fail: (condition: number, file: number, line: number) => {
        throw new EngineFault(`the engine failed an assertion: ${this.UTF8ToString(condition)} at ${this.UTF8ToString(file)}:${line}`);
      },
      _abort_js: () => {
        throw new EngineFault("the engine aborted");
      },
      proc_exit: (code: number) => {
        throw new EngineFault(`the engine exited with code ${code}`);
      },
      emscripten_resize_heap: (requested: number) => this.grow(requested >>> 0),
      ...libcImports(this),
    };
  }

  private grow(requested: number): number {
    const current = this.memory.buffer.byteLength;
    const target = Math.max(requested, Math.min(current * 1.25, current + 96 * 1024 * 1024));
    for (const size of [target, requested]) {
      const pages = Math.ceil((size - current) / PAGE);
      if (current + pages * PAGE > this.heapLimit) continue;
      try {
        this.memory.grow(pages);
        return 1;
      } catch {
        // over the instance's maximum: try the smaller size, then report no memory
      }
    }
    return 0;
  }

  private stackString(text: string | null): number {
    if (text === null || text === undefined) return 0;
    const bytes = this.lengthBytesUTF8(text) + 1;
    const ptr = this.exports._emscripten_stack_alloc(bytes);
    this.stringToUTF8(text, ptr, bytes);
    return ptr;
  }

  private view(): NonNullable<EngineGlue["views"]> {
    const buffer = this.memory.buffer;
    let views = this.views;
    if (views?.buffer !== buffer) {
      views = { buffer, u8: new Uint8Array(buffer), i8: new Int8Array(buffer), i32: new Int32Array(buffer), u32: new Uint32Array(buffer) };
      this.views = views;
    }
    return views;
  }
}

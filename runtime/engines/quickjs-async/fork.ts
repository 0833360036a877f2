/**
 * Copies of a prepared instance. Preparing an instance (its runtime, context, intrinsics, the
 * kernel's functions, the prelude and the SDK's module) costs milliseconds of interpreter work;
 * copying one is a new instance of the compiled module plus a copy of the prepared one's
 * memory (about a megabyte, the pages that are not zero).
 *
 * The copy's memory is the prepared instance's, byte for byte, taken when it was idle (no call
 * in progress, no suspended stack). What lives outside linear memory is remade over the same
 * pointers: quickjs-emscripten's runtime and context wrappers, the handles the kernel keeps
 * (intrinsics, the timers' turn function) and the host side of every kernel function. The host
 * functions are found by id (quickjs-emscripten numbers them in the order they are made), so
 * the copy makes its own, in the same order, bound to its own run; nothing made by the
 * prepared instance's host side is shared with a copy.
 */
import { QuickJSFFI } from "@jitl/quickjs-wasmfile-release-sync/ffi";
import { Lifetime, QuickJSRuntime, QuickJSWASMModule, type QuickJSContext, type QuickJSHandle } from "quickjs-emscripten";
import { adoptIntrinsics, intrinsics, type Intrinsics } from "../quickjs/intrinsics.js";
import { installModuleLoader } from "../quickjs/outcome.js";
import { adoptStringHeader, stringHeader } from "../quickjs/strings.js";
import { Wasm } from "../component/wasm.js";
import { EngineGlue } from "./glue.js";
import { engineModule } from "./module.js";
import { RunSlot, installKernel, prepareInstance, type PreparedInstance } from "./prepare.js";
import { sameBytes } from "../quickjs/bytes.js";

/** The engine's function imports (module "env"). */
const ENGINE_IMPORTS = [
  "qts_host_call_function",
  "qts_host_interrupt_handler",
  "qts_host_load_module_source",
  "qts_host_normalize_module",
  "qts_host_free_value",
  "__assert_fail",
  "_abort_js",
  "proc_exit",
  "emscripten_resize_heap",
  "emscripten_date_now",
  "_emscripten_runtime_keepalive_clear",
  "_setitimer_js",
  "_localtime_js",
  "_tzset_js",
  "environ_sizes_get",
  "environ_get",
  "fd_write",
  "fd_close",
  "fd_seek",
] as const;

const PAGE = 65536;
/** The host's page: a copy writes its memory in pieces of this size. */
const CHUNK = 4096;
/** quickjs-emscripten numbers host functions from here up (HostRefMap). */
const FIRST_HOST_REF = -2147483648;
type Pointer = number;

/** A prepared instance, frozen: what a copy needs. */
export interface Snapshot {
  bytes: number;
  /** The prepared memory's pages that are not all zero, by page index. */
  pages: Map<number, Uint8Array>;
  /**
   * What a copy writes, a host page (CHUNK bytes) at a time: the snapshot's chunks that are not
   * zero, and zeros where a new instance's data segments put bytes and the snapshot has none.
   * No other chunk is touched: an untouched one costs no memory, and touching one costs a page
   * fault (12 µs on this machine).
   */
  writes: { at: number; bytes: Uint8Array | undefined }[];
  asyncifyData: number;
  /** The C stack pointer of the idle instance (a wasm global: a copy's starts there). */
  stackPointer: number;
  rt: Pointer;
  ctx: Pointer;
  intrinsics: Record<keyof Intrinsics, Pointer>;
  header: Uint8Array;
  turnFn: Pointer | undefined;
  /** How many host functions the prepared instance made. */
  functions: number;
}

interface HostRefs {
  nextId: number;
  freelist: number[];
  put(value: unknown): number;
}
interface RuntimeInternals {
  hostRefs: HostRefs;
}
interface ModuleInternals {
  callbacks: unknown;
  ffi: QuickJSFFI;
}
interface MemoryInternals {
  memory: { heapValueHandle(ptr: Pointer): QuickJSHandle };
}

const pointer = (handle: QuickJSHandle): Pointer => handle.value as unknown as Pointer;

/** Prepares an instance and freezes it. @throws when the instance cannot be prepared or frozen */
export async function takeSnapshot(sdkSource: string, maxHeapBytes: number): Promise<Snapshot> {
  const prepared = await prepareInstance(sdkSource, maxHeapBytes);
  const refs = (prepared.runtime as unknown as RuntimeInternals).hostRefs;
  if (refs.freelist.length > 0) throw new Error("kernel: the prepared instance freed a host function: it cannot be copied");
  const memory = prepared.glue.HEAPU8;
  const pages = new Map<number, Uint8Array>();
  for (const page of nonZero(memory, PAGE)) pages.set(page, memory.slice(page * PAGE, (page + 1) * PAGE));
  const kept = new Set(nonZero(memory, CHUNK));
  const writes = [...new Set([...kept, ...dataSegmentChunks(memory.length)])]
    .sort((a, b) => a - b)
    .map((chunk) => {
      const at = chunk * CHUNK;
      const page = pages.get(Math.floor(at / PAGE));
      return { at, bytes: kept.has(chunk) ? page!.subarray(at % PAGE, (at % PAGE) + CHUNK) : undefined };
    });
  const held = intrinsics(prepared.ctx);
  const header = stringHeader(prepared.ctx);
  if (!header) throw new Error("kernel: the prepared instance has no string header");
  const turnFn = prepared.turnFn();
  return {
    bytes: memory.length,
    pages,
    writes,
    asyncifyData: prepared.glue.data,
    stackPointer: prepared.glue.stackPointer(),
    rt: (prepared.runtime as unknown as { rt: { value: Pointer } }).rt.value,
    ctx: (prepared.ctx as unknown as { ctx: { value: Pointer } }).ctx.value,
    intrinsics: { isArray: pointer(held.isArray), uint8Parts: pointer(held.uint8Parts), describeThrown: pointer(held.describeThrown), bigInt: pointer(held.bigInt) },
    header,
    turnFn: turnFn ? pointer(turnFn) : undefined,
    functions: refs.nextId - FIRST_HOST_REF,
  };
}

/** The indexes of the `unit`-byte pieces of `memory` that are not all zero. */
function nonZero(memory: Uint8Array, unit: number): number[] {
  const found: number[] = [];
  for (let i = 0; i * unit < memory.length; i++) if (!isZero(memory.subarray(i * unit, (i + 1) * unit))) found.push(i);
  return found;
}

/** The chunks a new instance's data segments write (an instance whose code never runs). */
function dataSegmentChunks(bytes: number): number[] {
  const memory = new Wasm.Memory({ initial: bytes / PAGE, maximum: bytes / PAGE });
  const env: Record<string, () => number> = {};
  for (const name of ENGINE_IMPORTS) env[name] = () => 0;
  new Wasm.Instance(engineModule(), { env, a: { a: memory } });
  return nonZero(new Uint8Array(memory.buffer), CHUNK);
}

const ZEROS = new Uint8Array(PAGE);

function isZero(bytes: Uint8Array): boolean {
  return sameBytes(bytes, 0, ZEROS, 0, bytes.length);
}

/** Writes the snapshot over a new instance's memory (zeroing what its data segments put where the snapshot has zeros). */
function restore(snapshot: Snapshot, memory: Uint8Array): void {
  for (const { at, bytes } of snapshot.writes) {
    if (bytes) memory.set(bytes, at);
    else memory.fill(0, at, at + CHUNK);
  }
}

/** A copy of the snapshot's instance, ready for a run. @throws when the copy does not match the snapshot */
export function forkInstance(snapshot: Snapshot, sdkSource: string, maxHeapBytes: number): PreparedInstance {
  const slot = new RunSlot();
  const glue = new EngineGlue({
    module: engineModule(),
    hooks: { interrupt: (canSuspend) => slot.interrupt(canSuspend) },
    initialBytes: snapshot.bytes,
    maximumBytes: maxHeapBytes,
    copyOf: { restore: (memory) => restore(snapshot, memory), asyncifyData: snapshot.asyncifyData },
  });
  return adopt(snapshot, glue, slot, sdkSource);
}

/**
 * Makes a copy that has served a run a copy again, in place: its memory is compared with the
 * snapshot page by page and every page that differs is written back, so that nothing of the run
 * is left in it; what lives outside memory is made anew, as for a new copy. Only an idle
 * instance (see EngineGlue.idle) whose memory did not grow and whose C stack pointer is back
 * where the snapshot's was can be made new; otherwise undefined (the caller drops it).
 *
 * Reading a page makes it resident, so a reused instance holds all its memory (7 MiB): the
 * caller keeps only a few of them.
 */
export function resetInstance(snapshot: Snapshot, used: PreparedInstance, sdkSource: string): PreparedInstance | undefined {
  const { glue } = used;
  if (used.copyOf !== snapshot || !glue.idle || glue.memory.buffer.byteLength !== snapshot.bytes || glue.stackPointer() !== snapshot.stackPointer) return undefined;
  const slot = new RunSlot();
  glue.recycle({ interrupt: (canSuspend) => slot.interrupt(canSuspend) }, (memory) => restoreAll(snapshot, memory));
  return adopt(snapshot, glue, slot, sdkSource);
}

/** Writes back every page of `memory` that differs from the snapshot's (a page it does not hold is zero). */
function restoreAll(snapshot: Snapshot, memory: Uint8Array): void {
  for (let page = 0; page * PAGE < memory.length; page++) {
    const want = snapshot.pages.get(page) ?? ZEROS;
    const at = page * PAGE;
    if (sameBytes(memory, at, want, 0, PAGE)) continue;
    if (want === ZEROS) memory.fill(0, at, at + PAGE);
    else memory.set(want, at);
  }
}

/** The host side of a copy whose memory is the snapshot's: quickjs-emscripten's objects and the kernel's functions, over the same pointers. */
function adopt(snapshot: Snapshot, glue: EngineGlue, slot: RunSlot, sdkSource: string): PreparedInstance {
  const ffi = new QuickJSFFI(glue as never);
  const quickjs = new QuickJSWASMModule(glue as never, ffi);
  const { callbacks } = quickjs as unknown as ModuleInternals;
  const rt = new Lifetime(snapshot.rt as never, undefined, (ptr) => {
    ffi.QTS_FreeRuntime(ptr as never);
    (callbacks as { deleteRuntime(ptr: unknown): void }).deleteRuntime(ptr);
  });
  const runtime = new QuickJSRuntime({ module: glue as never, ffi, rt, callbacks } as never);
  runtime.setInterruptHandler(() => false);
  const modules = installModuleLoader(runtime, undefined, sdkSource);
  const ctx = runtime.newContext({ contextPointer: snapshot.ctx as never });
  const handle = (ptr: Pointer) => (ctx as unknown as MemoryInternals).memory.heapValueHandle(ptr);
  const kept = snapshot.intrinsics;
  adoptIntrinsics(ctx, { isArray: handle(kept.isArray), uint8Parts: handle(kept.uint8Parts), describeThrown: handle(kept.describeThrown), bigInt: handle(kept.bigInt) });
  adoptStringHeader(ctx, snapshot.header);
  const registered = snapshot.turnFn === undefined ? undefined : handle(snapshot.turnFn);
  const refs = (runtime as unknown as RuntimeInternals).hostRefs;
  const timers = hostSideOnly(ctx, refs, () => installKernel(ctx, slot, glue, registered));
  if (refs.nextId - FIRST_HOST_REF !== snapshot.functions) throw new Error("kernel: a copied instance made a different number of host functions");
  return { glue, runtime, ctx, slot, modules, turnFn: () => timers.turnFn(), disposeTimers: () => timers.dispose(), copyOf: snapshot };
}

/**
 * Runs `install` with the context's engine-side calls replaced: a function is only registered
 * (its object exists in the copied memory already), and what would make or change guest values
 * does nothing. The methods are the context's own again afterwards.
 */
function hostSideOnly<T>(ctx: QuickJSContext, refs: HostRefs, install: () => T): T {
  const none: QuickJSHandle = { alive: true, value: 0, dispose() {}, dup: () => none } as unknown as QuickJSHandle;
  const replaced: Record<string, (...args: unknown[]) => unknown> = {
    newFunction: (_name, fn) => {
      refs.put(fn);
      return none;
    },
    newObject: () => none,
    getProp: () => none,
    setProp: () => undefined,
    defineProp: () => undefined,
    callFunction: () => ({ value: none }),
  };
  const target = ctx as unknown as Record<string, unknown>;
  for (const [name, fn] of Object.entries(replaced)) target[name] = fn;
  try {
    return install();
  } finally {
    for (const name of Object.keys(replaced)) delete target[name];
  }
}

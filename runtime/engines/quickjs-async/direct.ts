/**
 * Kernel functions called directly by the glue. quickjs-emscripten answers every C-to-host
 * call through its general machinery: a scope of handles, a generator that may yield promises,
 * and a copy of each argument's handle. For the kernel's functions, which the guest calls in
 * its hot loops, the glue instead calls a plain function with the call's argument vector and
 * takes back the pointer to the answer (or a promise of it, which suspends the guest).
 *
 * What the guest sees is the same on both paths: the same function objects, the same answers,
 * the same errors. A function is called directly only when it is certain which one the C side
 * names: it is registered by its host-reference id, checked against quickjs-emscripten's own
 * table when made, and forgotten when that id is freed.
 */
import type { QuickJSFFI } from "@jitl/quickjs-wasmfile-release-sync/ffi";
import { Lifetime, StaticLifetime, type QuickJSContext, type QuickJSHandle } from "quickjs-emscripten";
import type { FunctionMaker, MaybeAsyncAnswer } from "../quickjs/functions.js";
import type { EngineGlue } from "./glue.js";

/** A host function the glue calls itself: the answer's JSValue pointer (0: undefined), or a promise of it. */
export type DirectHostFunction = (argc: number, argv: number) => number | Promise<number>;

/** quickjs-emscripten's table of host references (a runtime's `hostRefs`), as far as this file reads it. */
export interface HostRefs {
  nextId: number;
  freelist: number[];
  get(id: number): unknown;
  put(value: unknown): number;
}

interface ContextInternals {
  ffi: QuickJSFFI;
  ctx: { value: number };
  runtime: { hostRefs: HostRefs };
}

/** The host-reference table of `ctx`'s runtime. */
export function hostRefsOf(ctx: QuickJSContext): HostRefs {
  return (ctx as unknown as ContextInternals).runtime.hostRefs;
}

/**
 * Makes functions as `ctx.newFunction` does, and has `glue` call each directly. The id a function
 * gets is foreseen (the next one, when none was freed) and then checked in the table: a function
 * whose id is not certain is left to quickjs-emscripten's path, which is just slower.
 */
export function directFunctions(glue: EngineGlue): FunctionMaker {
  return (ctx, name, fn) => {
    const refs = hostRefsOf(ctx);
    const id = refs.freelist.length === 0 ? refs.nextId : undefined;
    const handle = ctx.newFunction(name, fn as (...args: QuickJSHandle[]) => QuickJSHandle);
    if (id !== undefined && registered(refs, id) === fn) glue.callDirectly(id, directCall(ctx, fn));
    return handle;
  };
}

function registered(refs: HostRefs, id: number): unknown {
  try {
    return refs.get(id);
  } catch {
    return undefined;
  }
}

/**
 * `fn` as the glue calls it: its arguments as handles that borrow the guest's values (as
 * quickjs-emscripten's own are), its answer as an owned JSValue pointer; an error, returned or
 * thrown, is thrown in the guest.
 */
function directCall(ctx: QuickJSContext, fn: (...args: QuickJSHandle[]) => MaybeAsyncAnswer): DirectHostFunction {
  const { ffi, ctx: pointer } = ctx as unknown as ContextInternals;
  const runtime = ctx.runtime;
  const throwIn = (error: QuickJSHandle): number => {
    try {
      return ffi.QTS_Throw(pointer.value as never, error.value as never) as unknown as number;
    } finally {
      if (error.alive) error.dispose();
    }
  };
  const thrown = (error: unknown): number =>
    throwIn(ctx.newError(error instanceof Error ? { name: error.name, message: error.message } : { name: "Error", message: String(error) }));
  const answer = (result: QuickJSHandle | { value?: QuickJSHandle; error?: QuickJSHandle } | void): number => {
    try {
      if (!result) return 0;
      if (!(result instanceof Lifetime)) {
        if (result.error) return throwIn(result.error);
        result = result.value;
        if (!result) return 0;
      }
      if (result === ctx.undefined) return 0;
      try {
        return ffi.QTS_DupValuePointer(pointer.value as never, result.value as never) as unknown as number;
      } finally {
        if (result.alive) result.dispose();
      }
    } catch (error) {
      return thrown(error);
    }
  };
  return (argc, argv) => {
    const args: QuickJSHandle[] = new Array(argc);
    for (let i = 0; i < argc; i++) args[i] = new StaticLifetime(ffi.QTS_ArgvGetJSValueConstPointer(argv as never, i), runtime) as unknown as QuickJSHandle;
    let result: MaybeAsyncAnswer;
    try {
      result = fn(...args);
    } catch (error) {
      return thrown(error);
    }
    return result instanceof Promise ? result.then(answer, thrown) : answer(result);
  };
}

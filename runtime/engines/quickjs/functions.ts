/**
 * Host functions whose answer may come later. quickjs-emscripten awaits a promise that a host
 * function returns (its C-to-host callbacks are "maybe async"), and on the asynchronous engine
 * the glue suspends the guest's stack until it settles; its types only admit synchronous
 * answers. A promise is returned only where the engine can suspend (see EngineGlue.canSuspend).
 */
import type { QuickJSContext, QuickJSHandle, VmCallResult } from "quickjs-emscripten";

export type MaybeAsyncAnswer = QuickJSHandle | VmCallResult<QuickJSHandle> | void | Promise<QuickJSHandle | VmCallResult<QuickJSHandle>>;

/** `ctx.newFunction`, for a function that may answer with a promise. */
export function newMaybeAsyncFunction(ctx: QuickJSContext, name: string, fn: (this: QuickJSHandle, ...args: QuickJSHandle[]) => MaybeAsyncAnswer): QuickJSHandle {
  return ctx.newFunction(name, fn as (this: QuickJSHandle, ...args: QuickJSHandle[]) => QuickJSHandle | VmCallResult<QuickJSHandle> | void);
}

/** How an engine makes its kernel functions (the asynchronous engine also calls them directly: see quickjs-async/direct.ts). */
export type FunctionMaker = (ctx: QuickJSContext, name: string, fn: (this: QuickJSHandle, ...args: QuickJSHandle[]) => MaybeAsyncAnswer) => QuickJSHandle;

/**
 * The kernel's functions in a QuickJS guest: one host function per WIT import, on a frozen
 * object behind a private global that the first kernel module takes and deletes. Each reads its
 * arguments once, by their WIT types, makes exactly one call through the gate, and answers
 * with the reply (a WIT error becomes a thrown ComponentError, as jco makes it).
 *
 * On the asynchronous engine a reply may come later: the guest's stack is suspended until it
 * does. That is possible only at the bottom of the stack; a kernel call made from guest code
 * that another kernel call runs (a getter or a Proxy trap read as an argument) is refused
 * before it is sent.
 */
import type { QuickJSContext } from "quickjs-emscripten";
import { OPS, type OpName } from "../../kernel/ops.js";
import type { Reply } from "../engine.js";
import { newMaybeAsyncFunction, type FunctionMaker } from "./functions.js";
import { HOST_GLOBAL } from "./guest-modules.js";
import { MarshalError, copyIn, copyOut } from "./marshal.js";
import { disposeResult, witError, type RunState } from "./outcome.js";

/** How the host functions reach the kernel. */
export interface HostLink {
  /** One call through the gate (counted and observed by the caller). */
  send(op: OpName, args: unknown[]): Reply | Promise<Reply>;
  pendingSignal(): "sigterm" | undefined;
  /** Whether a reply that comes later can be waited for here (always, on the synchronous engine). */
  canWait(): boolean;
}

export const NESTED_CALL = "a kernel call cannot be made from code that another kernel call runs (a getter or a Proxy trap read as its argument)";

/** Defines the private global with the kernel's functions, made by `make`. */
export function installHost(ctx: QuickJSContext, state: RunState, link: HostLink, make: FunctionMaker = newMaybeAsyncFunction): void {
  const host = ctx.newObject();
  for (const op of Object.keys(OPS) as OpName[]) {
    const params = OPS[op].params;
    const fn = make(ctx, op, (...argHandles) => {
      // After the run's end no guest code should run at all; if some did, it reaches nothing.
      if (state.ended) return { error: ctx.undefined };
      if (state.abort || state.timerFailure !== null) return { error: ctx.newError("interrupted") };
      if (op === "process.pending-signal") {
        const signal = link.pendingSignal();
        return signal ? ctx.newString(signal) : ctx.undefined;
      }
      let args: unknown[];
      try {
        args = params.map(([name, type], i) => copyIn(ctx, argHandles[i] ?? ctx.undefined, type, `${op}: ${name}`));
      } catch (error) {
        if (error instanceof MarshalError) return { error: witError(ctx, { tag: "invalid", val: error.message }) };
        throw error;
      }
      if (!link.canWait()) return { error: witError(ctx, { tag: "invalid", val: `${op}: ${NESTED_CALL}` }) };
      const reply = link.send(op, args);
      return reply instanceof Promise ? reply.then(answer) : answer(reply);
    });
    ctx.setProp(host, op, fn);
    fn.dispose();
  }
  const answer = (reply: Reply) => {
    if (state.ended) return { error: ctx.undefined };
    if ("ok" in reply) return copyOut(ctx, reply.ok);
    if ("err" in reply) return { error: witError(ctx, reply.err) };
    return { error: ctx.newError("interrupted") };
  };
  const object = ctx.getProp(ctx.global, "Object");
  const freeze = ctx.getProp(object, "freeze");
  disposeResult(ctx.callFunction(freeze, ctx.undefined, host));
  freeze.dispose();
  object.dispose();
  ctx.defineProp(ctx.global, HOST_GLOBAL, { value: host, configurable: true, enumerable: false });
  host.dispose();
}

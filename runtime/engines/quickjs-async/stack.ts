/**
 * How deep a guest may recurse on the asynchronous engine, for the native stack of the thread
 * it runs on.
 *
 * QuickJS bounds recursion by its own stack in linear memory (256 KiB on the synchronous
 * engine, about 1,000 guest calls). The thread's native stack must hold those calls too, and on
 * this engine a guest call can take over 100 times as much native stack as QuickJS stack once
 * V8 has optimised the interpreter loop (measured here: 32 to 40 KiB of native stack against 250
 * to 650 bytes of QuickJS stack; before the optimisation about 500 bytes of native stack). Were the native stack the first to run out,
 * whether a run ends in a clean "stack overflow" or a trap would depend on when V8 optimised
 * the code, and a replay could end differently from the run it replays. So QuickJS's limit is
 * set from the native stack, with that ratio and a margin, and it is the one that is met.
 */
import { MAX_STACK_BYTES } from "../quickjs/run.js";

/** Native stack bytes per byte of QuickJS stack, at worst, with a margin (see above). */
const NATIVE_PER_QUICKJS_BYTE = 256;
/** Below this, QuickJS's limit would leave too little for any agent: the run fails clearly instead of at random. */
const MIN_QUICKJS_STACK = 2 * 1024;
/** V8's default stack limit for a main thread, in KiB (`node --stack-size`). */
const V8_DEFAULT_STACK_KB = 984;

/** QuickJS's stack limit for a thread whose V8 stack limit is `nativeBytes`. */
export function quickjsStackFor(nativeBytes: number): number {
  return Math.max(MIN_QUICKJS_STACK, Math.min(MAX_STACK_BYTES, Math.floor(nativeBytes / NATIVE_PER_QUICKJS_BYTE)));
}

/** The V8 stack limit of this process's main thread, in bytes: `--stack-size` if given, else V8's default. */
export function mainThreadStackBytes(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ""): number {
  let kb = V8_DEFAULT_STACK_KB;
  for (const arg of [...execArgv, ...nodeOptions.split(/\s+/)]) {
    const match = /^--stack[-_]size=(\d+)$/.exec(arg);
    if (match) kb = Number(match[1]);
  }
  return kb * 1024;
}

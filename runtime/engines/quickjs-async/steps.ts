/**
 * The steps of a run on the asynchronous engine, as on the synchronous one (quickjs/run.ts):
 * the agent's module, its `run(task)`, and the job loop with its timer turns, each
 * step that runs guest code made suspendable (drive.ts).
 */
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from "quickjs-emscripten";
import type { Outcome, RunSpec } from "../engine.js";
import { ENTRY, entrySource, failure, never, result, type RunState } from "../quickjs/outcome.js";
import { newString } from "../quickjs/strings.js";
import { firedResult } from "../quickjs/timers.js";
import { callFunctionAsync, evalCodeAsync, executePendingJobsAsync } from "./drive.js";
import type { EngineGlue } from "./glue.js";

export interface RunParts {
  glue: EngineGlue;
  ctx: QuickJSContext;
  runtime: QuickJSRuntime;
  spec: RunSpec;
  state: RunState;
  /** The timers' turn function, once the prelude has registered it. */
  turnFn(): QuickJSHandle | undefined;
  /** Marks the guest's run as over (the kernel only reads from then on). */
  end(): void;
}

type Settled = { value: QuickJSHandle } | { error: QuickJSHandle } | { never: true };

export async function runModuleAsync(parts: RunParts): Promise<Outcome> {
  const { glue, ctx, spec, state, end } = parts;
  const fail = (error: QuickJSHandle): Outcome => {
    end();
    return failure(ctx, error, spec, state);
  };
  // (the prelude and the SDK's module were evaluated when the instance was prepared.) The
  // agent's module is evaluated as itself, under the name the loader serves it by: its value
  // is its namespace, or a promise of it when it awaits at the top level.
  const evaluated = await evalCodeAsync(glue, ctx, entrySource(spec), ENTRY, { type: "module" });
  if ("error" in evaluated) return fail(evaluated.error);
  const settledModule = await settle(parts, evaluated.value);
  if ("never" in settledModule) return never(end, "the agent's module never finishes loading (it awaits something nothing is left to settle)");
  if ("error" in settledModule) return fail(settledModule.error);
  const runFn = ctx.getProp(settledModule.value, "run");
  settledModule.value.dispose();
  if (ctx.typeof(runFn) !== "function") {
    runFn.dispose();
    end();
    return { status: "error", error: `the agent must export a function run(task); ${spec.filename} does not` };
  }
  const taskHandle = newString(ctx, spec.task);
  const called = await callFunctionAsync(glue, ctx, runFn, ctx.undefined, [taskHandle]);
  taskHandle.dispose();
  runFn.dispose();
  if ("error" in called) return fail(called.error);
  const settled = await settle(parts, called.value);
  if ("never" in settled) return never(end, "run() returned a promise that never settles (nothing is left that could settle it)");
  if ("error" in settled) return fail(settled.error);
  end();
  try {
    return result(ctx, settled.value, spec, state);
  } finally {
    settled.value.dispose();
  }
}

/**
 * Runs pending jobs until `handle` (maybe a promise) settles, and a timer turn whenever no job
 * is left (its microtasks run before the next turn); consumes `handle`.
 */
async function settle(parts: RunParts, handle: QuickJSHandle): Promise<Settled> {
  const { glue, ctx, runtime } = parts;
  for (;;) {
    const state = ctx.getPromiseState(handle);
    if (state.type === "fulfilled") {
      if (state.notAPromise) return { value: handle };
      handle.dispose();
      return { value: state.value };
    }
    if (state.type === "rejected") {
      handle.dispose();
      return { error: state.error };
    }
    const jobs = await executePendingJobsAsync(glue, runtime, ctx);
    if ("error" in jobs) {
      handle.dispose();
      return { error: jobs.error };
    }
    if (jobs.value === 0 && ctx.getPromiseState(handle).type === "pending") {
      const turn = await timerTurn(parts);
      if ("error" in turn) {
        handle.dispose();
        return { error: turn.error };
      }
      if (!turn.fired) {
        handle.dispose();
        return { never: true };
      }
    }
  }
}

async function timerTurn(parts: RunParts): Promise<{ fired: boolean } | { error: QuickJSHandle }> {
  const turnFn = parts.turnFn();
  if (turnFn === undefined) return { fired: false };
  const called = await callFunctionAsync(parts.glue, parts.ctx, turnFn, parts.ctx.undefined);
  if ("error" in called) return { error: called.error };
  return { fired: firedResult(parts.ctx, called.value) };
}

/**
 * The asynchronous QuickJS engine (runtime/engines/quickjs-async) against the pitfalls that
 * FACTS.md lists for quickjs-emscripten's own asyncify build (0.32): disposing a runtime that
 * has host functions, deep guest recursion (in a worker and in the main thread, where Node's
 * native stack is about 1 MB), and two instances suspended at once.
 */
import type { QuickJSContext, QuickJSHandle } from "quickjs-emscripten";
import { quickjsStackFor, mainThreadStackBytes } from "../../dist/runtime/engines/quickjs-async/stack.js";
import { describe, expect, it, vi } from "vitest";
import { KernelSpace, type KernelOptions } from "../../dist/runtime/index.js";
import { evalCodeAsync } from "../../dist/runtime/engines/quickjs-async/drive.js";
import "../../dist/runtime/hosts/node/quickjs.js";
import { newEngine, type Engine } from "../../dist/runtime/engines/quickjs-async/module.js";
import { moduleAgent, policyWith, sleep } from "../kernel/helpers.js";

vi.setConfig({ testTimeout: 120_000 });

const MAX_BYTES = 256 * 1024 * 1024;

/** A fresh engine instance with a runtime and context set up as a run sets them up. */
function instance(): { engine: Engine; ctx: QuickJSContext; dispose(): void } {
  const engine = newEngine({ interrupt: () => false }, MAX_BYTES);
  const runtime = engine.quickjs.newRuntime();
  // (in the main thread, the limit the kernel sets there: see runtime/engines/quickjs-async/stack.ts)
  runtime.setMaxStackSize(quickjsStackFor(mainThreadStackBytes()));
  runtime.setInterruptHandler(() => false);
  const ctx = runtime.newContext();
  return {
    engine,
    ctx,
    dispose: () => {
      ctx.dispose();
      runtime.dispose();
    },
  };
}

/** Defines `name` in the guest as a host function whose answers the test gives later (each call suspends the guest). */
function laterFunction(ctx: QuickJSContext, name: string): { pending: ((text: string) => void)[]; calls: number } {
  const state = { pending: [] as ((text: string) => void)[], calls: 0 };
  const fn = ctx.newFunction(name, (arg: QuickJSHandle) => {
    state.calls++;
    const seen = ctx.getNumber(arg);
    // A promise from a host function suspends the guest's stack until it settles.
    return new Promise<QuickJSHandle>((resolve) => state.pending.push((text) => resolve(ctx.newString(`${text}${seen}`)))) as never;
  });
  ctx.setProp(ctx.global, name, fn);
  fn.dispose();
  return state;
}

async function untilTrue(what: () => boolean): Promise<void> {
  for (const t0 = Date.now(); !what(); await sleep(1)) if (Date.now() - t0 > 30_000) throw new Error("timed out waiting");
}

describe("host functions and disposal", () => {
  it("disposing runtimes whose guests called host functions (answered at once and after a suspension) does not throw", async () => {
    for (let i = 0; i < 5; i++) {
      const { engine, ctx, dispose } = instance();
      const add = ctx.newFunction("add", (a: QuickJSHandle, b: QuickJSHandle) => ctx.newNumber(ctx.getNumber(a) + ctx.getNumber(b)));
      ctx.setProp(ctx.global, "add", add);
      add.dispose();
      const later = laterFunction(ctx, "later");
      const running = evalCodeAsync(engine.glue, ctx, `add(1, 2) + ":" + later(3) + ":" + later(4)`, "host.js", { type: "global" });
      for (let answered = 0; answered < 2; answered++) {
        await untilTrue(() => later.pending.length > 0);
        setImmediate(later.pending.shift()!, "x");
      }
      const result = await running;
      expect("value" in result).toBe(true);
      const value = "value" in result ? result.value : result.error;
      expect(ctx.dump(value)).toBe("3:x3:x4");
      value.dispose();
      expect(engine.glue.suspended).toBe(false);
      expect(dispose).not.toThrow();
    }
  });
});

describe("two instances suspended at once", () => {
  it("interleaved host calls of two suspended instances each get their own answers, and both end right", async () => {
    const a = instance();
    const b = instance();
    const laterA = laterFunction(a.ctx, "later");
    const laterB = laterFunction(b.ctx, "later");
    // Each guest keeps state on its heap and its (asyncify-saved) stack across every suspension.
    const code = (tag: string) =>
      `const parts = []; let junk = []; for (let i = 0; i < 6; i++) { junk.push("${tag}".repeat(1000 + i)); parts.push(later(i) + "/" + junk.length); } parts.join(",") + "|" + junk.map((s) => s.length).join("+")`;
    const runA = evalCodeAsync(a.engine.glue, a.ctx, code("a"), "a.js", { type: "global" });
    const runB = evalCodeAsync(b.engine.glue, b.ctx, code("b"), "b.js", { type: "global" });
    for (let i = 0; i < 6; i++) {
      await untilTrue(() => laterA.pending.length === 1 && laterB.pending.length === 1);
      expect(a.engine.glue.suspended && b.engine.glue.suspended).toBe(true);
      // Answer in alternating order: B first on even rounds, A first on odd ones.
      const [first, second] = i % 2 === 0 ? [() => laterB.pending.shift()!("B"), () => laterA.pending.shift()!("A")] : [() => laterA.pending.shift()!("A"), () => laterB.pending.shift()!("B")];
      first();
      await sleep(1);
      second();
    }
    const [doneA, doneB] = await Promise.all([runA, runB]);
    const valueA = "value" in doneA ? doneA.value : doneA.error;
    const valueB = "value" in doneB ? doneB.value : doneB.error;
    const lengths = [0, 1, 2, 3, 4, 5].map((i) => 1000 + i).join("+");
    expect(a.ctx.dump(valueA)).toBe(`A0/1,A1/2,A2/3,A3/4,A4/5,A5/6|${lengths}`);
    expect(b.ctx.dump(valueB)).toBe(`B0/1,B1/2,B2/3,B3/4,B4/5,B5/6|${lengths}`);
    expect([laterA.calls, laterB.calls]).toEqual([6, 6]);
    valueA.dispose();
    valueB.dispose();
    expect(a.dispose).not.toThrow();
    expect(b.dispose).not.toThrow();
  });
});

/**
 * Deep recursion through the kernel: `f(n)` recursing n deep, then a shallow `f(200)`. Every run
 * must end as a guest error "stack overflow" (deep) or ok (shallow), however many times it has
 * run: V8 optimises the engine's code as it gets hot, and the native stack a guest frame takes
 * changes with it. Returns how the runs ended, counted, so that a failure shows the numbers.
 */
async function recurse(options: KernelOptions, rounds: number, shallow = 200): Promise<Record<string, number>> {
  const kernel = new KernelSpace({ policy: policyWith(), log: false, ...options });
  const agent = moduleAgent("deep", `function f(n) { return n === 0 ? 0 : 1 + f(n - 1); } export function run(task) { return String(f(Number(task))); }`);
  const seen: Record<string, number> = {};
  try {
    for (let i = 0; i < rounds; i++) {
      for (const depth of [1_000_000, shallow]) {
        const result = await kernel.execute(agent, String(depth));
        const how = result.status === "ok" ? `ok ${result.output}` : `${result.status} ${result.reason ?? ""}: ${result.error}`;
        const key = `f(${depth}) -> ${how}`;
        seen[key] = (seen[key] ?? 0) + 1;
      }
    }
  } finally {
    await kernel.close();
  }
  return seen;
}

const ROUNDS = 25;
const expected = (shallow = 200) => ({ "f(1000000) -> error : InternalError: stack overflow": ROUNDS, [`f(${shallow}) -> ok ${shallow}`]: ROUNDS });
/** A depth that fits in the kernel's own thread: QuickJS's limit there is set from V8's stack (about 250 bytes a call). */
const IN_THREAD_SHALLOW = Math.floor(quickjsStackFor(mainThreadStackBytes()) / 1024);

// Measured here: V8's optimised (TurboFan) code for the asyncified interpreter loop takes about
// 39 KB of native stack per guest call (25 frames of one wasm function filled the main thread's
// ~984 KB), so with QuickJS's usual 256 KiB limit a hot engine trapped at a recursion of about 50
// on the main thread and about 200 in an 8 MB worker ("Maximum call stack size exceeded" instead
// of QuickJS's own "stack overflow"). QuickJS's limit is now set from the thread's native stack.
describe("deep guest recursion ends as a guest error, run after run", () => {
  it("in a shared worker (its 64 MiB native stack)", async () => {
    expect(await recurse({ isolation: "shared", pool: { workers: 1, warm: 0 } }, ROUNDS)).toEqual(expected());
  });

  it("in the main thread (pool: false: QuickJS's limit from V8's stack there, see vitest.config.ts)", async () => {
    expect(IN_THREAD_SHALLOW).toBeGreaterThan(10);
    expect(await recurse({ pool: false }, ROUNDS, IN_THREAD_SHALLOW)).toEqual(expected(IN_THREAD_SHALLOW));
  });

  it("at the engine level in the main thread, with no kernel around it", async () => {
    const seen: Record<string, number> = {};
    for (let i = 0; i < ROUNDS; i++) {
      const { engine, ctx, dispose } = instance();
      const code = `function f(n) { return n === 0 ? 0 : 1 + f(n - 1); } f(1e6)`;
      const result = await evalCodeAsync(engine.glue, ctx, code, "deep.js", { type: "global" }).catch((error: Error) => ({ trap: error.message }));
      if ("trap" in result) {
        // (a trapped instance is dropped whole, as the run does)
        seen[`trap: ${result.trap}`] = (seen[`trap: ${result.trap}`] ?? 0) + 1;
        continue;
      }
      const key = "error" in result ? `guest error: ${String((ctx.dump(result.error) as { message?: string }).message)}` : "ok";
      ("error" in result ? result.error : result.value).dispose();
      dispose();
      seen[key] = (seen[key] ?? 0) + 1;
    }
    expect(seen).toEqual({ "guest error: stack overflow": ROUNDS });
  });
});

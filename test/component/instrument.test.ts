/**
 * The fuel instrumentation on its own, on hand-written core modules: every loop shape keeps its
 * meaning and costs one unit an iteration, a function that calls or loops one unit a call, a
 * straight-line function nothing, whatever the size of the slices; and a loop or a recursion
 * that never ends reaches the hook, slice after slice, so that the kernel can stop it there.
 */
import { Worker } from "node:worker_threads";
import { parse } from "@bytecodealliance/jco";
import { describe, expect, it } from "vitest";
import { instrumentModule } from "../../dist/runtime/engines/component/instrument.js";
import { ENGINE_IMPORT, FUEL_EXPORT, MEMORY_IMPORT, REFUEL_IMPORT } from "../../dist/runtime/engines/component/image.js";
import { Wasm, type WasmGlobal, type WasmModule } from "../../dist/runtime/engines/component/wasm.js";

const WAT = `(module
  (memory (export "memory") 1)
  ;; a loop without a result, left by a branch to a block around it: n + 1 headers
  (func (export "sum") (param $n i32) (result i32) (local $i i32) (local $s i32)
    (block $exit
      (loop $l
        (br_if $exit (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (i32.add (local.get $s) (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $s))
  ;; a loop with a result: n headers
  (func (export "count") (param $n i32) (result i32)
    (loop $l (result i32)
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (i32.gt_s (local.get $n) (i32.const 0)))
      (i32.add (local.get $n) (i32.const 100))))
  ;; a loop that never falls through, left with a value by a branch outside: n headers
  (func (export "find") (param $n i32) (result i32) (local $i i32)
    (block $found (result i32)
      (loop $l
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $found (i32.mul (local.get $i) (i32.const 3)) (i32.ge_u (local.get $i) (local.get $n)))
        (br $l))
      (unreachable)))
  ;; nested loops, the inner one continued and left by a br_table: n + n * n headers
  (func (export "nested") (param $n i32) (result i32) (local $i i32) (local $j i32) (local $s i32)
    (loop $outer
      (local.set $j (i32.const 0))
      (block $next
        (loop $inner
          (local.set $s (i32.add (local.get $s) (i32.mul (local.get $i) (local.get $j))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br_table $inner $next (i32.ge_u (local.get $j) (local.get $n)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $outer (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $s))
  ;; recursion without a loop: one unit a call
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1))) (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  ;; a straight-line function (free), and a loop calling it: n headers
  (func $square (export "square") (param $x i32) (result i32) (i32.mul (local.get $x) (local.get $x)))
  (func (export "squares") (param $n i32) (result i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (call $square (local.get $n))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $s))
  ;; never ends
  (func (export "spin") (param $n i32) (result i32)
    (loop $l (br $l))
    (i32.const 0)))`;

/** Runs an export with slices of 1,000 units, the hook throwing after 50 of them. */
const SPIN_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const { bytes, name, arg, imports: [engine, refuel, memory, fuel] } = workerData;
let slices = 0;
const hook = (counter) => {
  if (slices >= 50) throw new Error("out of fuel");
  slices++;
  return 1000 + counter;
};
const mem = new WebAssembly.Memory({ initial: 1, maximum: 2 });
const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { [engine]: { [refuel]: hook, [memory]: mem } });
try {
  instance.exports[name](arg);
  parentPort.postMessage({ returned: true });
} catch (e) {
  parentPort.postMessage({ error: e.message, slices, used: slices * 1000 - instance.exports[fuel].value });
}`;

/** What each export returns for its argument, and the units it must cost (entry + iterations). */
const CASES: [name: string, arg: number, units: number][] = [
  ["sum", 1000, 1 + 1001],
  ["count", 50, 1 + 50],
  ["find", 33, 1 + 33],
  ["nested", 20, 1 + 20 + 20 * 20],
  ["fib", 15, 1973],
  ["square", 9, 0],
  ["squares", 100, 1 + 100],
];

async function load() {
  const original = await parse(WAT);
  const result = instrumentModule(original, "test");
  return { original: new Wasm.Module(original), instrumented: new Wasm.Module(result.bytes), result };
}

/** An instance whose hook hands out `slice` units at a time (and counts them), or throws after `maxSlices`. */
function instance(module: WasmModule, slice: number, maxSlices = Infinity) {
  let slices = 0;
  const refuel = (counter: number) => {
    if (slices >= maxSlices) throw new Error("out of fuel");
    slices++;
    return slice + counter;
  };
  const memory = new Wasm.Memory({ initial: 1, maximum: 2 });
  const inst = new Wasm.Instance(module, { [ENGINE_IMPORT]: { [REFUEL_IMPORT]: refuel, [MEMORY_IMPORT]: memory } });
  const counter = inst.exports[FUEL_EXPORT] as WasmGlobal;
  return {
    exports: inst.exports as Record<string, (n: number) => number>,
    used: () => slices * slice - counter.value,
    slices: () => slices,
  };
}

describe("fuel instrumentation", () => {
  it("keeps every loop's meaning and charges one unit an iteration and one a call, whatever the slice", async () => {
    const { original, instrumented, result } = await load();
    expect(result.loops).toBe(7);
    const plain = new Wasm.Instance(original, {}).exports as Record<string, (n: number) => number>;
    for (const slice of [1, 7, 100_000]) {
      for (const [name, arg, units] of CASES) {
        const run = instance(instrumented, slice);
        expect(run.exports[name](arg), `${name} with slices of ${slice}`).toBe(plain[name](arg));
        expect(run.used(), `${name} with slices of ${slice}`).toBe(units);
      }
    }
  });

  it("a loop that never ends, and a recursion without a loop that would take years, reach the hook every slice", async () => {
    const { result } = await load();
    for (const [name, arg] of [["spin", 0], ["fib", 90]] as const) {
      // In a worker: if the code did not reach the hook, it would spin for ever, and only a
      // terminate() can end that.
      const worker = new Worker(SPIN_WORKER, { eval: true, workerData: { bytes: result.bytes, name, arg, imports: [ENGINE_IMPORT, REFUEL_IMPORT, MEMORY_IMPORT, FUEL_EXPORT] } });
      const outcome = await new Promise<unknown>((resolve) => {
        const timer = setTimeout(() => resolve("still running after 10 s"), 10_000);
        worker.once("message", (m) => (clearTimeout(timer), resolve(m)));
        worker.once("error", (e) => (clearTimeout(timer), resolve(e)));
      });
      await worker.terminate();
      // The unit that found the last slice spent is counted too.
      expect(outcome, name).toEqual({ error: "out of fuel", slices: 50, used: 50 * 1000 + 1 });
    }
  });
});

/**
 * Fuel and memory instrumentation of a component's core module, with binaryen.
 *
 * V8 has no fuel, so the code counts for itself: a mutable i32 global is decremented at every
 * loop header (one unit an iteration) and at the entry of every function that can loop or call
 * (one unit a call), and when it goes below zero the code calls an imported hook that hands out
 * the next slice (or ends the run by throwing). A `while (true) {}` in the guest is a loop in
 * StarlingMonkey's interpreter, so the hook runs every slice whatever the guest does, and the
 * kernel can pause, resume or kill it there.
 *
 * What keeps the cost down (measured on a compute-bound guest, see bench/component.ts):
 * - The hot path of a check is `global.get; i32.sub; local.tee; global.set; br_if` on the
 *   counter, never a call: the call to the hook is out of line. Inside a loop that matters most:
 *   a call in a loop's body, even one that never runs, makes V8 keep the loop's values in memory
 *   around it and stops it unrolling the loop. So each loop becomes
 *
 *       loop $retry                      ;; the original loop node, renamed
 *         block $out                     ;; (with the loop's result carried past the hook)
 *           loop $L                      ;; the original name: the body's branches land here
 *             fuel -= 1; br_if $out (fuel < 0)
 *             <the original body>
 *         fuel = refuel(fuel) + 1        ;; $L's header charges that iteration again
 *         br $retry                      ;; to $L's header, after the hook
 *
 *   The hook runs after the same iterations as if it were called in the loop, and every
 *   iteration costs exactly one unit, whatever the size of the slices.
 * - A function that neither calls nor loops (straight-line code, which ends by itself) is not
 *   charged at entry. Every cycle in the code, a loop or a recursion, still passes a check.
 *
 * The module's memory becomes an import, so that each run supplies a memory whose maximum is
 * the run's limit: growth past it fails inside the guest (an out-of-memory error it can see)
 * instead of taking the host with it. Every `memory.grow` first passes the pages it asks for to
 * an imported hook, so that the engine knows a growth was refused when the guest then traps
 * (StarlingMonkey aborts on some allocations that fail): that trap is out of memory.
 */
import binaryen from "binaryen";
import { AgentLoadError } from "../../errors.js";
import { ENGINE_IMPORT, FUEL_EXPORT, GROW_IMPORT, MEMORY_IMPORT, REFUEL_IMPORT } from "./image.js";

const FUEL_GLOBAL = "agentos$fuel";
const REFUEL_FUNCTION = "agentos$refuel";
const GROW_FUNCTION = "agentos$grow";
/** Prefix of the labels the instrumenter adds (the name section is stripped: no clash). */
const LABEL = "agentos$";

export interface Instrumented {
  bytes: Uint8Array;
  /** The initial size, in pages, of the memory the module defined (now imported); null if it had none. */
  initialPages: number | null;
  functions: number;
  loops: number;
}

type Expr = number;
type ChildVisitor = (expr: Expr, push: (child: Expr) => void) => void;

/** The raw binaryen C API, as binaryen.js exposes it (its typings name only the wrappers). */
const C = binaryen as unknown as Record<string, (...args: number[]) => number>;

function fields(...getters: string[]): ChildVisitor {
  const fns = getters.map((g) => C[`_Binaryen${g}`]);
  return (expr, push) => {
    for (const fn of fns) {
      const child = fn(expr);
      if (child) push(child);
    }
  };
}

function operands(count: string, at: string, ...getters: string[]): ChildVisitor {
  const countFn = C[`_Binaryen${count}`];
  const atFn = C[`_Binaryen${at}`];
  const rest = fields(...getters);
  return (expr, push) => {
    rest(expr, push);
    const n = countFn(expr);
    for (let i = 0; i < n; i++) {
      const child = atFn(expr, i);
      if (child) push(child);
    }
  };
}

const leaf: ChildVisitor = () => undefined;

/**
 * How to reach the children of every kind of expression a wasm32 MVP module (with bulk memory,
 * atomics and SIMD) can contain. A kind missing here fails the load: a loop hidden under an
 * expression we cannot walk would run without fuel.
 */
function childVisitors(): Map<number, ChildVisitor> {
  const b = binaryen;
  return new Map<number, ChildVisitor>([
    [b.BlockId, operands("BlockGetNumChildren", "BlockGetChildAt")],
    [b.IfId, fields("IfGetCondition", "IfGetIfTrue", "IfGetIfFalse")],
    [b.LoopId, fields("LoopGetBody")],
    [b.BreakId, fields("BreakGetCondition", "BreakGetValue")],
    [b.SwitchId, fields("SwitchGetCondition", "SwitchGetValue")],
    [b.CallId, operands("CallGetNumOperands", "CallGetOperandAt")],
    [b.CallIndirectId, operands("CallIndirectGetNumOperands", "CallIndirectGetOperandAt", "CallIndirectGetTarget")],
    [b.LocalGetId, leaf],
    [b.LocalSetId, fields("LocalSetGetValue")],
    [b.GlobalGetId, leaf],
    [b.GlobalSetId, fields("GlobalSetGetValue")],
    [b.LoadId, fields("LoadGetPtr")],
    [b.StoreId, fields("StoreGetPtr", "StoreGetValue")],
    [b.ConstId, leaf],
    [b.UnaryId, fields("UnaryGetValue")],
    [b.BinaryId, fields("BinaryGetLeft", "BinaryGetRight")],
    [b.SelectId, fields("SelectGetIfTrue", "SelectGetIfFalse", "SelectGetCondition")],
    [b.DropId, fields("DropGetValue")],
    [b.ReturnId, fields("ReturnGetValue")],
    [b.MemorySizeId, leaf],
    [b.MemoryGrowId, fields("MemoryGrowGetDelta")],
    [b.NopId, leaf],
    [b.UnreachableId, leaf],
    [b.AtomicRMWId, fields("AtomicRMWGetPtr", "AtomicRMWGetValue")],
    [b.AtomicCmpxchgId, fields("AtomicCmpxchgGetPtr", "AtomicCmpxchgGetExpected", "AtomicCmpxchgGetReplacement")],
    [b.AtomicWaitId, fields("AtomicWaitGetPtr", "AtomicWaitGetExpected", "AtomicWaitGetTimeout")],
    [b.AtomicNotifyId, fields("AtomicNotifyGetPtr", "AtomicNotifyGetNotifyCount")],
    [b.AtomicFenceId, leaf],
    [b.SIMDExtractId, fields("SIMDExtractGetVec")],
    [b.SIMDReplaceId, fields("SIMDReplaceGetVec", "SIMDReplaceGetValue")],
    [b.SIMDShuffleId, fields("SIMDShuffleGetLeft", "SIMDShuffleGetRight")],
    [b.SIMDTernaryId, fields("SIMDTernaryGetA", "SIMDTernaryGetB", "SIMDTernaryGetC")],
    [b.SIMDShiftId, fields("SIMDShiftGetVec", "SIMDShiftGetShift")],
    [b.SIMDLoadId, fields("SIMDLoadGetPtr")],
    [b.SIMDLoadStoreLaneId, fields("SIMDLoadStoreLaneGetPtr", "SIMDLoadStoreLaneGetVec")],
    [b.MemoryInitId, fields("MemoryInitGetDest", "MemoryInitGetOffset", "MemoryInitGetSize")],
    [b.DataDropId, leaf],
    [b.MemoryCopyId, fields("MemoryCopyGetDest", "MemoryCopyGetSource", "MemoryCopyGetSize")],
    [b.MemoryFillId, fields("MemoryFillGetDest", "MemoryFillGetValue", "MemoryFillGetSize")],
    [b.RefNullId, leaf],
    [b.RefFuncId, leaf],
    [b.TableSizeId, leaf],
  ]);
}

const expressionNames = (): Map<number, string> => {
  const names = new Map<number, string>();
  for (const [key, value] of Object.entries(binaryen)) if (key.endsWith("Id") && typeof value === "number") names.set(value, key.slice(0, -2));
  return names;
};

/**
 * Instruments one core module: fuel at function entries and loop headers, and a memory it
 * defines becomes an import. A module without functions comes back unchanged.
 * @throws AgentLoadError when the module uses an instruction the walker does not know, or a
 * memory this engine cannot limit (shared or 64-bit).
 */
export function instrumentModule(bytes: Uint8Array, name: string): Instrumented {
  const module = binaryen.readBinary(stripNameSection(bytes));
  try {
    const memory = module.hasMemory() ? module.getMemoryInfo() : null;
    const ownsMemory = memory !== null && !memory.module;
    if (ownsMemory && (memory.shared || memory.is64)) {
      throw new AgentLoadError(`${name}: the core module's memory is shared or 64-bit; this engine cannot limit it`);
    }

    // Collect first, rewrite afterwards: the walk never sees a node it created itself.
    const visitors = childVisitors();
    const loops: { loop: Expr; fn: number }[] = [];
    const grows: Expr[] = [];
    /** Every function with a body, and whether it calls or loops (then it is charged at entry). */
    const bodies: { fn: number; body: Expr; charged: boolean }[] = [];
    const stack: Expr[] = [];
    const push = (child: Expr) => stack.push(child);
    const getBody = C._BinaryenFunctionGetBody;
    const getId = C._BinaryenExpressionGetId;
    const visitorOf = (id: number): ChildVisitor => {
      const visit = visitors.get(id);
      if (!visit) throw new AgentLoadError(`${name}: the core module uses ${expressionNames().get(id) ?? `expression kind ${id}`}, which the fuel instrumenter does not support`);
      return visit;
    };
    for (let i = 0, n = module.getNumFunctions(); i < n; i++) {
      const fn = module.getFunctionByIndex(i);
      const body = getBody(fn);
      if (!body) continue; // an import
      let charged = false;
      stack.push(body);
      while (stack.length > 0) {
        const expr = stack.pop()!;
        const id = getId(expr);
        const visit = visitorOf(id);
        if (id === binaryen.LoopId) loops.push({ loop: expr, fn });
        if (id === binaryen.MemoryGrowId) grows.push(expr);
        if (id === binaryen.LoopId || id === binaryen.CallId || id === binaryen.CallIndirectId) charged = true;
        visit(expr, push);
      }
      bodies.push({ fn, body, charged });
    }

    if (bodies.length === 0) return { bytes, initialPages: null, functions: 0, loops: 0 };

    module.addGlobal(FUEL_GLOBAL, binaryen.i32, true, module.i32.const(0));
    module.addFunctionImport(REFUEL_FUNCTION, ENGINE_IMPORT, REFUEL_IMPORT, binaryen.i32, binaryen.i32);
    module.addGlobalExport(FUEL_GLOBAL, FUEL_EXPORT);
    const i32 = binaryen.i32;
    const fuel = () => module.global.get(FUEL_GLOBAL, i32);
    // A scratch local per function: the decremented counter, tested without reading the global again.
    const scratches = new Map<number, number>();
    const scratch = (fn: number): number => {
      let local = scratches.get(fn);
      if (local === undefined) {
        local = C._BinaryenFunctionAddVar(fn, i32);
        scratches.set(fn, local);
      }
      return local;
    };
    // fuel -= 1, and whether that overdrew it: global.set(fuel, tee(t, fuel - 1)); t < 0
    const spend = (fn: number): [Expr, Expr] => {
      const t = scratch(fn);
      return [module.global.set(FUEL_GLOBAL, module.local.tee(t, module.i32.sub(fuel(), module.i32.const(1)), i32)), module.i32.lt_s(module.local.get(t, i32), module.i32.const(0))];
    };
    // The hook takes the overdrawn counter and gives back the new one (or throws).
    const refuel = () => module.global.set(FUEL_GLOBAL, module.call(REFUEL_FUNCTION, [fuel()], i32));
    // After the hook a loop goes back through its header's check, which charges the iteration
    // again: it gets that unit back first, so that every iteration costs exactly one.
    const refuelRefunded = () => module.global.set(FUEL_GLOBAL, module.i32.add(module.call(REFUEL_FUNCTION, [fuel()], i32), module.i32.const(1)));

    loops.forEach(({ loop, fn }, n) => {
      const type = binaryen.getExpressionType(loop);
      const retry = `${LABEL}retry${n}`;
      const out = `${LABEL}out${n}`;
      const done = `${LABEL}done${n}`;
      const [pay, overdrawn] = spend(fn);
      // The inner loop takes the original label (binaryen's interned name, passed as is).
      const inner = C._BinaryenLoop(module.ptr, C._BinaryenLoopGetName(loop), module.block(null, [pay, module.br(out, overdrawn), C._BinaryenLoopGetBody(loop)], type));
      const back = module.br(retry);
      const hook = [refuelRefunded(), back];
      let body: Expr;
      if (type === binaryen.unreachable) {
        // The loop never falls through: it is left by branches to labels outside, if at all.
        body = module.block(null, [module.block(out, [inner], binaryen.none), ...hook], binaryen.unreachable);
      } else if (type === binaryen.none) {
        body = module.block(done, [module.block(out, [inner, module.br(done)], binaryen.none), ...hook], binaryen.none);
      } else {
        body = module.block(done, [module.block(out, [module.br(done, 0, inner)], binaryen.none), ...hook], type);
      }
      // The original node becomes the retry loop (the same interned name as the branch back to it).
      C._BinaryenLoopSetName(loop, C._BinaryenBreakGetName(back));
      C._BinaryenLoopSetBody(loop, body);
    });
    // A function that calls nothing and has no loop ends by itself soon: it needs no check.
    for (const { fn, body, charged } of bodies) {
      if (!charged) continue;
      const [pay, overdrawn] = spend(fn);
      C._BinaryenFunctionSetBody(fn, module.block(null, [pay, module.if(overdrawn, refuel()), body], binaryen.getExpressionType(body)));
    }

    if (grows.length > 0) {
      module.addFunctionImport(GROW_FUNCTION, ENGINE_IMPORT, GROW_IMPORT, i32, i32);
      for (const grow of grows) C._BinaryenMemoryGrowSetDelta(grow, module.call(GROW_FUNCTION, [C._BinaryenMemoryGrowGetDelta(grow)], i32));
    }
    if (ownsMemory) module.addMemoryImport(memoryName(module, name), ENGINE_IMPORT, MEMORY_IMPORT);
    return { bytes: module.emitBinary(), initialPages: ownsMemory ? memory.initial : null, functions: bodies.length, loops: loops.length };
  } finally {
    module.dispose();
  }
}

/** The internal name of the (single) memory, found through its export. */
function memoryName(module: binaryen.Module, name: string): string {
  for (let i = 0, n = module.getNumExports(); i < n; i++) {
    const info = binaryen.getExportInfo(module.getExportByIndex(i));
    if (info.kind === binaryen.ExternalMemory) return info.value;
  }
  throw new AgentLoadError(`${name}: the core module does not export its memory`);
}

/**
 * Removes the "name" custom section (debug names only): binaryen warns on stderr about
 * subsections it does not know, and the section only slows reading and writing down.
 */
export function stripNameSection(bytes: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  let at = 8;
  while (at < bytes.length) {
    const start = at;
    const id = bytes[at++];
    const [size, sizeEnd] = readU32(bytes, at);
    const end = sizeEnd + size;
    if (end > bytes.length) return bytes; // malformed: let binaryen say so
    let keep = true;
    if (id === 0) {
      const [nameLength, nameStart] = readU32(bytes, sizeEnd);
      keep = new TextDecoder().decode(bytes.subarray(nameStart, nameStart + nameLength)) !== "name";
    }
    if (keep) parts.push(bytes.subarray(start, end));
    at = end;
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function readU32(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [value, at];
    shift += 7;
    if (shift > 35) throw new AgentLoadError("malformed WebAssembly: a length is too long");
  }
}

/**
 * Fuel and memory instrumentation of a component's core module, with binaryen.
 *
 * V8 has no fuel, so the code counts for itself: a mutable i32 global is decremented at every
 * function entry and every loop header, and when it goes below zero the code calls an imported
 * hook that hands out the next slice (or ends the run by throwing). A `while (true) {}` in the
 * guest is a loop in StarlingMonkey's interpreter, so the hook runs every slice whatever the
 * guest does, and the kernel can pause, resume or kill it there.
 *
 * Two refinements keep the cost down without opening a hole: loop iterations are counted in a
 * local and paid 64 at a time, and a function that neither calls nor loops (straight-line code,
 * which ends by itself) is not charged at all. Every cycle in the code still passes a check.
 *
 * The module's memory becomes an import, so that each run supplies a memory whose maximum is
 * the run's limit: growth past it fails inside the guest (an out-of-memory error it can see)
 * instead of taking the host with it.
 */
import binaryen from "binaryen";
import { AgentLoadError } from "../../errors.js";
import { ENGINE_IMPORT, FUEL_EXPORT, MEMORY_IMPORT, REFUEL_IMPORT } from "./image.js";

const FUEL_GLOBAL = "agentos$fuel";
/** Loop iterations paid for at once (one unit each). */
export const LOOP_BATCH = 64;
const REFUEL_FUNCTION = "agentos$refuel";

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
    const bodies: [number, Expr][] = [];
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
      bodies.push([fn, body]);
      stack.push(body);
      while (stack.length > 0) {
        const expr = stack.pop()!;
        const id = getId(expr);
        const visit = visitorOf(id);
        if (id === binaryen.LoopId) loops.push({ loop: expr, fn });
        visit(expr, push);
      }
    }

    if (bodies.length === 0) return { bytes, initialPages: null, functions: 0, loops: 0 };

    module.addGlobal(FUEL_GLOBAL, binaryen.i32, true, module.i32.const(0));
    module.addFunctionImport(REFUEL_FUNCTION, ENGINE_IMPORT, REFUEL_IMPORT, binaryen.i32, binaryen.i32);
    module.addGlobalExport(FUEL_GLOBAL, FUEL_EXPORT);
    const fuel = () => module.global.get(FUEL_GLOBAL, binaryen.i32);
    // fuel -= units; if (fuel < 0) fuel = refuel(fuel);
    const charge = (units: number): Expr[] => [
      module.global.set(FUEL_GLOBAL, module.i32.sub(fuel(), module.i32.const(units))),
      module.if(module.i32.lt_s(fuel(), module.i32.const(0)), module.global.set(FUEL_GLOBAL, module.call(REFUEL_FUNCTION, [fuel()], binaryen.i32))),
    ];
    const prepend = (check: Expr[], body: Expr): Expr => module.block(null, [...check, body], binaryen.getExpressionType(body));
    // Loop iterations are counted in a local (a register) and paid to the global counter
    // LOOP_BATCH at a time: a global update on every iteration would cost a fifth of the time
    // of an interpreter's dispatch loop. The local starts full at each call, so the iterations
    // of a call beyond its last whole batch are not charged.
    const batches = new Map<number, number>();
    const batchLocal = (fn: number): number => {
      let local = batches.get(fn);
      if (local === undefined) {
        local = C._BinaryenFunctionAddVar(fn, binaryen.i32);
        batches.set(fn, local);
      }
      return local;
    };
    // if (--batch == 0) { pay LOOP_BATCH; batch = LOOP_BATCH } (a test against zero: the
    // decrement's own flags, two instructions an iteration once compiled).
    const iteration = (local: number): Expr[] => [
      module.if(
        module.i32.eqz(module.local.tee(local, module.i32.sub(module.local.get(local, binaryen.i32), module.i32.const(1)), binaryen.i32)),
        module.block(null, [...charge(LOOP_BATCH), module.local.set(local, module.i32.const(LOOP_BATCH))], binaryen.none),
      ),
    ];
    for (const { loop, fn } of loops) C._BinaryenLoopSetBody(loop, prepend(iteration(batchLocal(fn)), C._BinaryenLoopGetBody(loop)));
    // A function that calls nothing and has no loop ends by itself soon: it needs no check.
    for (const [fn, body] of bodies) {
      if (isLeaf(body, visitorOf)) continue;
      const local = batches.get(fn);
      C._BinaryenFunctionSetBody(fn, prepend([...charge(1), ...(local === undefined ? [] : [module.local.set(local, module.i32.const(LOOP_BATCH))])], body));
    }

    if (ownsMemory) module.addMemoryImport(memoryName(module, name), ENGINE_IMPORT, MEMORY_IMPORT);
    return { bytes: module.emitBinary(), initialPages: ownsMemory ? memory.initial : null, functions: bodies.length, loops: loops.length };
  } finally {
    module.dispose();
  }
}

/** Whether code calls nothing and holds no loop. */
function isLeaf(body: Expr, visitorOf: (id: number) => ChildVisitor): boolean {
  const stack = [body];
  const push = (child: Expr) => stack.push(child);
  while (stack.length > 0) {
    const expr = stack.pop()!;
    const id = C._BinaryenExpressionGetId(expr);
    if (id === binaryen.CallId || id === binaryen.CallIndirectId || id === binaryen.LoopId) return false;
    visitorOf(id)(expr, push);
  }
  return true;
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

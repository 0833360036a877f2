/**
 * The kernel's imports as the jco glue calls them: one function per WIT import, each a host call
 * over the run's GuestBridge (so through the gate, like every QuickJS call).
 *
 * How jco 1.35's sync glue reads what an import gives back: a `result<T, error>` import may
 * return `{ tag: "ok", val }` or `{ tag: "err", val }` (anything else is taken as `ok`); a throw
 * whose value has a `payload` is an `err` too, and any other thrown Error is a trap that unwinds
 * the guest. So expected failures are returned as `err`, and an abort (kill, fuel, a limit) is
 * thrown: the guest can never catch it, and its instance is discarded.
 */
import type { WitError } from "../../errors.js";
import { INTERFACES, OPS, camelCase, type OpName, type WitType } from "../../kernel/ops.js";
import type { AbortReason, GuestBridge, Reply } from "../engine.js";
import { WIT_PACKAGE, WIT_VERSION } from "./world.js";

/** Thrown through the guest to end the run; the reason is in the run's state. */
export class EngineAbort extends Error {
  override readonly name = "EngineAbort";
}

export interface RunState {
  hostCalls: number;
  abort: { reason: AbortReason; message: string } | null;
  /** A timer could not read the clock or wait: the run fails with this (see wasi.ts). */
  timerFailure: string | null;
}

type Result = { tag: "ok"; val: unknown } | { tag: "err"; val: WitError };
type HostFunction = (...args: unknown[]) => unknown;

class ConformError extends Error {}

const MAX_LIST = 1_000_000;

/**
 * Sends one call through the gate: counted, its abort kept in the state, and seen by `observe`
 * (the timers' clock) once answered.
 */
export function sender(bridge: GuestBridge, state: RunState, observe: (op: OpName, reply: Reply) => void): (op: OpName, args: unknown[]) => Reply {
  return (op, args) => {
    state.hostCalls++;
    const reply = bridge.call(op, args);
    observe(op, reply);
    if ("abort" in reply) state.abort = { reason: reply.abort, message: reply.message };
    return reply;
  };
}

/** The import object for the glue: `imports["agentos:kernel/fs"].readText(path)`. */
export function kernelImports(bridge: GuestBridge, state: RunState, send: (op: OpName, args: unknown[]) => Reply): Record<string, Record<string, HostFunction>> {
  const byInterface = new Map<string, Record<string, HostFunction>>(INTERFACES.map((i) => [i, {}]));
  for (const op of Object.keys(OPS) as OpName[]) {
    const [iface, fn] = op.split(".");
    byInterface.get(iface)![camelCase(fn)] = op === "process.pending-signal" ? pendingSignal(bridge, state) : hostCall(op, send, state);
  }
  const imports: Record<string, Record<string, HostFunction>> = {};
  for (const [iface, functions] of byInterface) {
    imports[`${WIT_PACKAGE}/${iface}`] = functions;
    imports[`${WIT_PACKAGE}/${iface}@${WIT_VERSION}`] = functions;
  }
  return imports;
}

function pendingSignal(bridge: GuestBridge, state: RunState): HostFunction {
  return () => {
    if (state.abort) throw new EngineAbort(state.abort.message);
    return bridge.pendingSignal();
  };
}

function hostCall(op: OpName, send: (op: OpName, args: unknown[]) => Reply, state: RunState): HostFunction {
  const params = OPS[op].params as readonly (readonly [string, WitType])[];
  return (...raw: unknown[]): Result => {
    if (state.abort) throw new EngineAbort(state.abort.message);
    let args: unknown[];
    try {
      args = params.map(([name, type], i) => conform(raw[i], type, `${op}: ${name}`));
    } catch (error) {
      if (error instanceof ConformError) return { tag: "err", val: { tag: "invalid", val: error.message } };
      throw error;
    }
    const reply = send(op, args);
    if ("ok" in reply) return { tag: "ok", val: reply.ok };
    if ("err" in reply) return { tag: "err", val: reply.err };
    throw new EngineAbort(reply.message);
  };
}

/**
 * Checks a value the glue lifted out of the guest against the kernel's WIT type and copies it
 * into plain data. The glue was generated from the component's own types, which load checked
 * against the kernel's; this is the second line, for a glue that disagrees anyway.
 */
export function conform(value: unknown, type: WitType, where: string): unknown {
  if (typeof type === "string") return scalar(value, type, where);
  if ("option" in type) return value === undefined || value === null ? undefined : conform(value, type.option, where);
  if ("enum" in type) {
    if (typeof value !== "string" || !type.enum.includes(value)) throw new ConformError(`${where} must be one of ${type.enum.join(", ")}`);
    return value;
  }
  if ("list" in type) return list(value, where).map((item, i) => conform(item, type.list, `${where}[${i}]`));
  if ("tuple" in type) {
    const items = list(value, where);
    if (items.length !== type.tuple.length) throw new ConformError(`${where} must have ${type.tuple.length} elements`);
    return items.map((item, i) => conform(item, type.tuple[i], `${where}[${i}]`));
  }
  if ("record" in type) {
    const object = record(value, where);
    return Object.fromEntries(Object.entries(type.record).map(([field, t]) => [field, conform(object[field], t, `${where}.${field}`)]));
  }
  const object = record(value, where);
  const tag = object.tag;
  if (typeof tag !== "string" || !Object.prototype.hasOwnProperty.call(type.variant, tag)) {
    throw new ConformError(`${where}.tag must be one of ${Object.keys(type.variant).join(", ")}`);
  }
  const caseType = type.variant[tag];
  return caseType === null ? { tag } : { tag, val: conform(object.val, caseType, `${where}.val`) };
}

function scalar(value: unknown, type: string, where: string): unknown {
  switch (type) {
    case "string":
      if (typeof value !== "string") throw new ConformError(`${where} must be a string`);
      return value;
    case "bool":
      if (typeof value !== "boolean") throw new ConformError(`${where} must be a boolean`);
      return value;
    case "u32":
      if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
        throw new ConformError(`${where} must be an integer from 0 to 4294967295`);
      }
      return value;
    case "f64":
      if (typeof value !== "number") throw new ConformError(`${where} must be a number`);
      return value;
    case "s64":
    case "u64": {
      if (typeof value !== "bigint") throw new ConformError(`${where} must be a bigint`);
      const [lo, hi] = type === "s64" ? [-(2n ** 63n), 2n ** 63n - 1n] : [0n, 2n ** 64n - 1n];
      if (value < lo || value > hi) throw new ConformError(`${where} is out of range for ${type}`);
      return value;
    }
    case "bytes":
      if (!(value instanceof Uint8Array)) throw new ConformError(`${where} must be bytes`);
      return value;
    default:
      throw new ConformError(`${where}: unsupported type ${type}`);
  }
}

function list(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new ConformError(`${where} must be a list`);
  if (value.length > MAX_LIST) throw new ConformError(`${where} has more than ${MAX_LIST} elements`);
  return value;
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null) throw new ConformError(`${where} must be a record`);
  return value as Record<string, unknown>;
}

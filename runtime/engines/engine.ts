/**
 * What every engine agrees on, on both sides of the worker boundary.
 *
 * An engine runs one guest in a worker thread: the kernel sends a RunSpec, the engine runs the
 * guest and calls the host through a GuestBridge (synchronously, over the channel), and it
 * answers with an Outcome. An engine never decides anything: the gate does.
 */
import type { WitError } from "../errors.js";
import type { OpName } from "../kernel/ops.js";
import type { Limits } from "../types.js";
import type { ComponentImage } from "./component/image.js";

export type EngineName = "quickjs" | "component";

export interface RunSpec {
  engine: EngineName;
  runId: string;
  pid: number;
  agent: string;
  /** "module": an ES module exporting run(task); "function": a registered function's source. */
  kind: "module" | "function";
  source: string;
  /** A name for stack traces (never a host path). */
  filename: string;
  task: string;
  limits: Limits;
  /** The prepared component (engine "component" only): glue and compiled, instrumented modules. */
  component?: ComponentImage;
}

/** Why the kernel ended a run from inside the guest's thread. */
export type AbortReason = "fuel" | "signal" | "limit" | "policy";

/** The kernel's reply to one host call. */
export type Reply = { ok: unknown } | { err: WitError } | { abort: AbortReason; message: string };

/** The worker's end of the gate, as an engine uses it. */
export interface GuestBridge {
  /** Makes a host call; blocks until the kernel replies. */
  call(op: OpName, args: unknown[]): Reply;
  /**
   * Called at every fuel slice: publishes the usage, blocks while the agent is stopped, and
   * says whether the run must end now.
   */
  tick(fuel: number): AbortReason | null;
  /** A signal the agent may observe (SIGTERM), if one is pending. */
  pendingSignal(): "sigterm" | undefined;
}

export type Outcome =
  | { status: "ok"; output: string }
  | { status: "error"; error: string; reason?: "memory" | "limit" | "trap" }
  | { status: "killed"; reason: AbortReason; error?: string };

export interface Finished {
  outcome: Outcome;
  fuel: number;
  hostCalls: number;
  /** False when the engine's state may be damaged (a trap, an abort): the worker is replaced. */
  reusable: boolean;
}

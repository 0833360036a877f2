/**
 * Makes the run host for isolation "shared": many agents per thread, each in an engine
 * instance of its own. The kernel calls it once, on the first shared spawn.
 */
import { availableParallelism } from "node:os";
import type { RunHost } from "../../../kernel/hosts.js";
import { mainThreadStackBytes, quickjsStackFor } from "../../../engines/quickjs-async/stack.js";
import "../quickjs.js";
import { InThreadHost } from "../../../kernel/in-thread.js";
import { DEFAULT_AGENTS_PER_WORKER, type PoolOptions } from "./pool.js";
import { SharedWorkerHost } from "./shared-host.js";

export interface SharedHostOptions {
  /** The guest SDK's source, as every agent imports it. */
  sdkSource: string;
  /** The kernel's pool options (`workers`, `agentsPerWorker`), or false: in the kernel's own thread. */
  pool: PoolOptions | false;
  /** The hard cap on one agent's engine heap, in bytes. */
  maxHeapBytes: number;
}

/**
 * The native stack of a shared worker, in MiB. Once V8 has optimised the engine's interpreter
 * loop, one guest call can take tens of KiB of native stack (the asyncify instrumentation), so
 * that QuickJS's own limit (256 KiB of its stack, about 1,000 calls) needs tens of MiB to be
 * reached first; the address space is reserved, and only what is used is resident.
 */
export const SHARED_STACK_MB = 64;

/** Agents in the kernel's own thread with `pool: false`, else in shared worker threads. */
export function createSharedHost(options: SharedHostOptions): RunHost {
  const { sdkSource, pool, maxHeapBytes } = options;
  if (pool === false) return new InThreadHost({ sdkSource, maxHeapBytes, maxStackBytes: quickjsStackFor(mainThreadStackBytes()) });
  return new SharedWorkerHost({
    sdkSource,
    maxHeapBytes,
    workers: pool.workers ?? availableParallelism(),
    agentsPerWorker: pool.agentsPerWorker ?? DEFAULT_AGENTS_PER_WORKER,
    stackSizeMb: pool.stackSizeMb ?? SHARED_STACK_MB,
  });
}

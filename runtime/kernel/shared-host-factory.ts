/**
 * Makes the run host for isolation "shared": many agents per thread, each in an engine instance
 * of its own (issue 17). The kernel calls it once, on the first shared spawn.
 */
import { UsageError } from "../errors.js";
import type { RunHost } from "./hosts.js";
import type { PoolOptions } from "./pool.js";

export interface SharedHostOptions {
  /** The guest SDK's source, as every agent imports it. */
  sdkSource: string;
  /** The kernel's pool options (`workers`, `agentsPerWorker`), or false: in the kernel's own thread. */
  pool: PoolOptions | false;
  /** The hard cap on one agent's engine heap, in bytes. */
  maxHeapBytes: number;
}

/**
 * @throws UsageError: the shared engine is not available yet.
 */
export function createSharedHost(options: SharedHostOptions): RunHost {
  void options;
  throw new UsageError('isolation "shared" is not available yet');
}

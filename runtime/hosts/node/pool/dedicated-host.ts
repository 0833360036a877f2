/**
 * Runs each agent in a worker thread of its own, taken from the warm pool: nothing the guest
 * does (a tight loop, a built-in stuck in a long operation, a crash) can reach another agent,
 * and a kill terminates the worker, whatever the guest is doing. A worker whose run ended well
 * is given back to the pool for the next run; one that may be damaged is replaced.
 */
import type { RunSpec } from "../../../engines/engine.js";
import { Control, KernelChannel, createChannelBuffers } from "./channel.js";
import type { HostedRun, RunHost, StartOptions } from "../../../kernel/hosts.js";
import { WorkerPool, type PoolOptions } from "./pool.js";

export class DedicatedHost implements RunHost {
  private readonly pool: WorkerPool;
  /** Runs started and not yet over (finished or killed). */
  private active = 0;

  /** Starts the pool's warm workers at once. */
  constructor(sdkSource: string, options: PoolOptions = {}) {
    this.pool = new WorkerPool(sdkSource, options);
  }

  async start(spec: RunSpec, signal: AbortSignal, options: StartOptions = {}): Promise<HostedRun | undefined> {
    const worker = await this.pool.acquire();
    if (signal.aborted) {
      this.pool.release(worker, true);
      return undefined;
    }
    // A stop that came while the run waited is in the buffer before the worker sees the run.
    const buffers = createChannelBuffers(undefined, options.stopped?.() ? Control.stop : Control.run);
    const { finished, port } = worker.run(spec, buffers);
    const channel = new KernelChannel(buffers, port);
    this.active++;
    let over = false;
    const end = (): boolean => {
      if (over) return false;
      over = true;
      this.active--;
      return true;
    };
    void finished.then((f) => {
      if (end()) this.pool.release(worker, f.reusable);
    });
    return {
      finished,
      channel,
      kill: () => {
        if (end()) void this.pool.discard(worker);
      },
    };
  }

  stats(): { workers: number; instances: number } {
    return { workers: this.pool.size, instances: this.active };
  }

  /** Workers alive right now (idle and busy). */
  get workers(): number {
    return this.pool.size;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

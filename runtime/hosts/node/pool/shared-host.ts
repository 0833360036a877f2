/**
 * Shared isolation in worker threads: up to `workers` threads, each hosting up to
 * `agentsPerWorker` agents (see shared-worker.ts). A run goes to the least loaded worker, a
 * worker is started when every running one has agents and fewer than `workers` exist, and a run
 * that finds every worker full waits for a place.
 *
 * A kill drops the agent's engine instance in its worker at once (its stack is never resumed).
 * A worker that does not confirm a kill, and whose event loop has not moved for KILL_ACK_MS, is
 * stuck in a built-in that never reaches the interrupt check (a huge sort, say): it is
 * terminated, and every agent it hosted ends with it, each with status "error", reason "trap" and a message naming the agent
 * that was being killed. That is the one way an agent can end its neighbours here; isolation
 * "dedicated" is the answer when that is not acceptable.
 */
import { MessageChannel, Worker } from "node:worker_threads";
import type { Finished, RunSpec } from "../../../engines/engine.js";
import { Control, KernelChannel, createChannelBuffers, reuseChannelBuffers, type ChannelBuffers } from "./channel.js";
import type { HostedRun, RunHost, StartOptions } from "../../../kernel/hosts.js";
import type { FromSharedWorker, SharedWorkerData, ToSharedWorker } from "./shared-worker.js";

const WORKER_URL = new URL("./shared-worker.js", import.meta.url);
/** How long a worker has to confirm a kill before it is terminated. */
export const KILL_ACK_MS = 2000;
/** A shared run's channel payload: larger payloads go over its port (see channel.ts). */
const SHARED_PAYLOAD_BYTES = 64 * 1024;
/** Finished runs' channel buffers kept for the next runs (a new one costs a zeroed allocation). */
const SPARE_BUFFERS = 64;

export interface SharedWorkersOptions {
  sdkSource: string;
  maxHeapBytes: number;
  workers: number;
  agentsPerWorker: number;
  stackSizeMb: number;
}

class SharedWorker {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  /** Runs placed here and not yet reported done. */
  readonly runs = new Map<string, (finished: Finished) => void>();
  private readonly live: Int32Array;
  exited = false;

  constructor(options: SharedWorkersOptions, onExit: (worker: SharedWorker, why: string) => void) {
    const counters = new SharedArrayBuffer(8);
    this.live = new Int32Array(counters);
    const data: SharedWorkerData = { sdkSource: options.sdkSource, maxHeapBytes: options.maxHeapBytes, stackSizeMb: options.stackSizeMb, counters };
    this.worker = new Worker(WORKER_URL, { workerData: data, resourceLimits: { stackSizeMb: options.stackSizeMb } });
    this.worker.unref();
    this.ready = new Promise((resolve, reject) => {
      this.worker.on("message", (message: FromSharedWorker) => {
        if (message.type === "ready") resolve();
        else if (message.type === "done") {
          const done = this.runs.get(message.runId);
          this.runs.delete(message.runId);
          done?.(message.finished);
        }
      });
      const exit = (why: string) => {
        if (this.exited) return;
        this.exited = true;
        reject(new Error(why));
        onExit(this, why);
      };
      this.worker.on("error", (error) => exit(`the shared worker failed: ${error.message}`));
      this.worker.on("exit", (code) => exit(`the shared worker exited with code ${code}`));
    });
    this.ready.catch(() => undefined);
  }

  /** Engine instances alive in the worker, as it counts them. */
  get instances(): number {
    return this.exited ? 0 : Atomics.load(this.live, 0);
  }

  /** The worker's heartbeat (see shared-worker.ts). */
  get heartbeat(): number {
    return Atomics.load(this.live, 1);
  }

  post(message: ToSharedWorker, transfer: import("node:worker_threads").TransferListItem[] = []): void {
    if (!this.exited) this.worker.postMessage(message, transfer);
  }
}

export class SharedWorkerHost implements RunHost {
  private readonly workers: SharedWorker[] = [];
  private readonly waiting: (() => void)[] = [];
  private readonly spareBuffers: ChannelBuffers[] = [];
  private closed = false;

  constructor(private readonly options: SharedWorkersOptions) {}

  async start(spec: RunSpec, signal: AbortSignal, options: StartOptions = {}): Promise<HostedRun | undefined> {
    let worker = this.place();
    while (!worker) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
      if (signal.aborted || this.closed) return undefined;
      worker = this.place();
    }
    // (placed now, so that runs started together spread before any worker is ready)
    const finished = new Promise<Finished>((resolve) => worker.runs.set(spec.runId, resolve));
    try {
      await worker.ready;
    } catch (error) {
      worker.runs.delete(spec.runId);
      throw error;
    }
    if (signal.aborted || worker.exited) {
      worker.runs.delete(spec.runId);
      this.freed();
      return undefined;
    }
    const control = options.stopped?.() ? Control.stop : Control.run;
    const spare = this.spareBuffers.pop();
    const buffers = spare ? reuseChannelBuffers(spare, control) : createChannelBuffers(SHARED_PAYLOAD_BYTES, control);
    const { port1, port2 } = new MessageChannel();
    worker.post({ type: "run", spec, channel: buffers, port: port2 }, [port2]);
    const channel = new KernelChannel(buffers, port1);
    void finished.then(() => {
      // The worker reported the run done after closing its end; this end closes now. A worker
      // that was lost may still be running: its buffers are not used again.
      channel.close();
      port1.close();
      // (kept from the next pass of the event loop on: whatever the finished run's process
      // still does with its channel in this one, it does before any other run has the buffers)
      if (!worker.exited) setImmediate(() => this.spareBuffers.length < SPARE_BUFFERS && this.spareBuffers.push(buffers));
      this.freed();
    });
    return { finished, channel, kill: () => this.kill(worker, spec, channel) };
  }

  stats(): { workers: number; instances: number } {
    return { workers: this.workers.length, instances: this.workers.reduce((sum, w) => sum + w.instances, 0) };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake();
    const workers = this.workers.splice(0);
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }

  /** The least loaded worker with room, starting one when every worker has agents; undefined when all are full. */
  private place(): SharedWorker | undefined {
    let best: SharedWorker | undefined;
    for (const w of this.workers) if (!best || w.runs.size < best.runs.size) best = w;
    if ((!best || best.runs.size > 0) && this.workers.length < this.options.workers) {
      best = new SharedWorker(this.options, (w, why) => this.lost(w, why));
      this.workers.push(best);
    }
    return best && best.runs.size < this.options.agentsPerWorker ? best : undefined;
  }

  private kill(worker: SharedWorker, spec: RunSpec, channel: KernelChannel): void {
    channel.setControl(Control.kill);
    if (!worker.runs.has(spec.runId)) return;
    worker.post({ type: "kill", runId: spec.runId });
    this.watch(worker, spec, worker.heartbeat);
  }

  /**
   * Until the worker confirms the kill: a worker whose event loop has not moved for KILL_ACK_MS
   * is stuck (a built-in that never reaches the interrupt check) and is terminated; one that is
   * only busy (starting many agents, say) is waited for.
   */
  private watch(worker: SharedWorker, spec: RunSpec, beat: number): void {
    const timer = setTimeout(() => {
      if (!worker.runs.has(spec.runId) || worker.exited) return;
      if (worker.heartbeat !== beat) return this.watch(worker, spec, worker.heartbeat);
      this.lost(worker, `its worker was terminated to end pid ${spec.pid} (${spec.agent}), which held the thread for ${KILL_ACK_MS} ms (a built-in that never reaches the interrupt check)`);
      void worker.worker.terminate();
    }, KILL_ACK_MS);
    timer.unref();
  }

  /** A worker is gone: each run it hosted ends with a trap that says why. */
  private lost(worker: SharedWorker, why: string): void {
    worker.exited = true;
    const i = this.workers.indexOf(worker);
    if (i >= 0) this.workers.splice(i, 1);
    for (const [runId, done] of [...worker.runs]) {
      worker.runs.delete(runId);
      done({ outcome: { status: "error", reason: "trap", error: `the agent's shared worker ended: ${why}` }, fuel: 0, hostCalls: 0, reusable: false });
    }
    this.freed();
  }

  private freed(): void {
    this.waiting.shift()?.();
  }
}

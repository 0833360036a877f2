/**
 * A pool of warm guest workers. Starting a worker and loading an engine takes tens of
 * milliseconds; taking a warm one takes well under one. A worker that ran a guest which ended
 * badly (killed, trapped, out of memory) is never reused: it is terminated and replaced.
 */
import { MessageChannel, Worker } from "node:worker_threads";
import type { Finished, RunSpec } from "../../../engines/engine.js";
import type { ChannelBuffers } from "./channel.js";
import type { FromWorker, ToWorker, WorkerData } from "./worker.js";

/**
 * Options of the kernel's worker threads. Defaults: `warm` 2, `stackSizeMb` 8, `maxHeapBytes`
 * 1 GiB, `workers` os.availableParallelism(), `agentsPerWorker` 500. Every number is an
 * integer, positive except `warm` (0: no idle worker kept); anything else is a UsageError.
 */
export interface PoolOptions {
  /** Idle workers kept ready for dedicated runs. Default 2. */
  warm?: number;
  /** Native stack of each worker, in MiB; QuickJS needs headroom beyond its own limit. Default 8. */
  stackSizeMb?: number;
  /** The hard cap on each worker's engine heap, in bytes; no run's memory limit can exceed it. Default 1 GiB. */
  maxHeapBytes?: number;
  /** The most workers that host shared agents (isolation "shared"). Default os.availableParallelism(). */
  workers?: number;
  /** The most agents one shared worker hosts at once. Default 500. */
  agentsPerWorker?: number;
}

export const DEFAULT_AGENTS_PER_WORKER = 500;

export const DEFAULT_MAX_HEAP_BYTES = 1024 * 1024 * 1024;

const WORKER_URL = new URL("./worker.js", import.meta.url);

export class PooledWorker {
  private readonly worker: Worker;
  readonly ready: Promise<void>;
  private exited = false;
  private onDone: ((finished: Finished) => void) | undefined;
  private onExit: ((error: string) => void) | undefined;

  constructor(data: WorkerData, stackSizeMb: number) {
    this.worker = new Worker(WORKER_URL, { workerData: data, resourceLimits: { stackSizeMb } });
    this.worker.unref();
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (message: FromWorker) => {
        if (message.type === "ready") resolve();
        else if (message.type === "done") this.onDone?.(message.finished);
      };
      this.worker.on("message", onMessage);
      this.worker.on("error", (error) => {
        reject(error);
        this.onExit?.(`the worker failed: ${error.message}`);
      });
      this.worker.on("exit", (code) => {
        this.exited = true;
        reject(new Error(`the worker exited with code ${code} before it was ready`));
        this.onExit?.(`the worker exited with code ${code}`);
      });
    });
    this.ready.catch(() => undefined);
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Runs one guest. Resolves with its outcome, or with a trap if the worker dies meanwhile. */
  run(spec: RunSpec, channel: ChannelBuffers): { finished: Promise<Finished>; port: import("node:worker_threads").MessagePort } {
    const { port1, port2 } = new MessageChannel();
    const finished = new Promise<Finished>((resolve) => {
      this.onDone = (f) => {
        this.onDone = this.onExit = undefined;
        resolve(f);
      };
      this.onExit = (error) => {
        this.onDone = this.onExit = undefined;
        resolve({ outcome: { status: "error", error, reason: "trap" }, fuel: 0, hostCalls: 0, reusable: false });
      };
    });
    this.worker.postMessage({ type: "run", spec, channel, port: port2 } satisfies ToWorker, [port2]);
    return { finished, port: port1 };
  }

  async terminate(): Promise<void> {
    if (!this.exited) await this.worker.terminate();
  }
}

export class WorkerPool {
  private readonly idle: PooledWorker[] = [];
  private readonly all = new Set<PooledWorker>();
  private readonly warm: number;
  private readonly stackSizeMb: number;
  private closed = false;

  private readonly data: WorkerData;

  constructor(sdkSource: string, options: PoolOptions = {}) {
    this.data = { sdkSource, maxHeapBytes: options.maxHeapBytes ?? DEFAULT_MAX_HEAP_BYTES };
    this.warm = options.warm ?? 2;
    this.stackSizeMb = options.stackSizeMb ?? 8;
    this.refill();
  }

  /**
   * A ready worker: the one most recently given back if there is one (it is surely ready),
   * a new one otherwise. Idle workers are topped up to `warm` in the background.
   */
  async acquire(): Promise<PooledWorker> {
    let worker = this.idle.pop();
    while (worker && !worker.alive) worker = this.idle.pop();
    if (!worker) worker = this.start();
    this.refill();
    await worker.ready;
    return worker;
  }

  /**
   * Gives a worker back after a run; one that may be damaged is terminated instead. Up to
   * twice `warm` idle workers are kept, so that a worker just used is not thrown away because
   * the pool was topped up while it ran.
   */
  release(worker: PooledWorker, reusable: boolean): void {
    if (reusable && !this.closed && worker.alive && this.idle.length < 2 * this.warm) {
      this.idle.push(worker);
    } else {
      void this.discard(worker);
    }
  }

  async discard(worker: PooledWorker): Promise<void> {
    this.all.delete(worker);
    const i = this.idle.indexOf(worker);
    if (i >= 0) this.idle.splice(i, 1);
    await worker.terminate();
    this.refill();
  }

  /** Workers alive right now (idle and busy). */
  get size(): number {
    return this.all.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private start(): PooledWorker {
    const worker = new PooledWorker(this.data, this.stackSizeMb);
    this.all.add(worker);
    worker.ready.catch(() => this.all.delete(worker));
    return worker;
  }

  private refill(): void {
    if (this.closed) return;
    while (this.idle.length < this.warm) this.idle.push(this.start());
  }
}

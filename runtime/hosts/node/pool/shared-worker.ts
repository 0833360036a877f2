/**
 * The entry point of a shared worker thread: it hosts many agents at once, each an instance of
 * the asynchronous engine with a channel of its own to the gate (the same protocol as a dedicated
 * worker's, waited on asynchronously). It holds no authority of its own.
 *
 * Messages: `run` starts one agent, `kill` drops one for good (a suspended stack is never
 * resumed); `done` reports each run's end, killed ones included. The number of live engine
 * instances is kept in a shared counter the kernel reads for leak checks.
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import type { Finished, Reply, RunSpec } from "../../../engines/engine.js";
import { engineModule } from "../../../engines/quickjs-async/module.js";
import "../quickjs.js";
import { startQuickJsAsync, type AsyncBridge, type AsyncRun, type ControlWord } from "../../../engines/quickjs-async/run.js";
import { Turns } from "../../../engines/quickjs-async/turns.js";
import { PreparedPool } from "../../../engines/quickjs-async/prepare.js";
import { quickjsStackFor } from "../../../engines/quickjs-async/stack.js";
import { AsyncGuestChannel, Control, type ChannelBuffers } from "./channel.js";

export interface SharedWorkerData {
  sdkSource: string;
  maxHeapBytes: number;
  /** The worker's native stack, in MiB (its resourceLimits). */
  stackSizeMb: number;
  /** Int32 [live instances, heartbeat], written here, read by the kernel. */
  counters: SharedArrayBuffer;
}

export type ToSharedWorker = { type: "run"; spec: RunSpec; channel: ChannelBuffers; port: MessagePort } | { type: "kill"; runId: string };
export type FromSharedWorker = { type: "ready" } | { type: "done"; runId: string; finished: Finished };

const { sdkSource, maxHeapBytes, stackSizeMb, counters } = workerData as SharedWorkerData;
const maxStackBytes = quickjsStackFor(stackSizeMb * 1024 * 1024);
if (!parentPort) throw new Error("runtime/hosts/node/pool/shared-worker.ts must run in a worker thread");
const port: MessagePort = parentPort as unknown as MessagePort;
const live = new Int32Array(counters);
/** Moves whenever this thread's event loop does: the kernel tells a busy worker from a stuck one by it. */
const beat = () => void Atomics.add(live, 1, 1);
setInterval(beat, 100).unref();
const turns = new Turns();
const instances = new PreparedPool(sdkSource, maxHeapBytes);
const runs = new Map<string, { run: AsyncRun; channel: AsyncGuestChannel; port: MessagePort }>();

function word(value: number): ControlWord {
  return value === Control.stop ? "stop" : value === Control.kill ? "kill" : "run";
}

function bridgeFor(channel: AsyncGuestChannel): AsyncBridge {
  return {
    call: (op, args) => channel.call({ op, args }) as Promise<Reply>,
    tick(fuel) {
      channel.publish(fuel);
      return word(channel.control());
    },
    control: () => word(channel.control()),
    whileStopped: () => channel.whileStopped().then((w) => (w === Control.kill ? "kill" : "run")),
    pendingSignal: () => (channel.termRequested() ? "sigterm" : undefined),
  };
}

function start(message: Extract<ToSharedWorker, { type: "run" }>): void {
  const { spec } = message;
  const channel = new AsyncGuestChannel(message.channel, message.port);
  let run: AsyncRun;
  try {
    run = startQuickJsAsync(spec, bridgeFor(channel), { turns, instances, maxStackBytes });
  } catch (error) {
    message.port.close();
    const text = error instanceof Error ? error.message : String(error);
    const finished: Finished = { outcome: { status: "error", reason: "trap", error: `the engine could not start: ${text}` }, fuel: 0, hostCalls: 0, reusable: false };
    port.postMessage({ type: "done", runId: spec.runId, finished } satisfies FromSharedWorker);
    return;
  }
  runs.set(spec.runId, { run, channel, port: message.port });
  Atomics.add(live, 0, 1);
  void run.finished.then((finished) => {
    if (!runs.delete(spec.runId)) return;
    Atomics.sub(live, 0, 1);
    channel.publish(finished.fuel);
    channel.close();
    message.port.close();
    port.postMessage({ type: "done", runId: spec.runId, finished } satisfies FromSharedWorker);
  });
}

function kill(runId: string): void {
  const entry = runs.get(runId);
  if (!entry) return;
  runs.delete(runId);
  Atomics.sub(live, 0, 1);
  entry.run.abandon();
  entry.channel.close();
  entry.port.close();
  const finished: Finished = { outcome: { status: "killed", reason: "signal" }, fuel: 0, hostCalls: 0, reusable: false };
  port.postMessage({ type: "done", runId, finished } satisfies FromSharedWorker);
}

port.on("message", (message: ToSharedWorker) => {
  beat();
  if (message.type === "run") start(message);
  else if (message.type === "kill") kill(message.runId);
});

// Compiled once for every agent this worker will host, and a few instances made ready.
engineModule();
instances.warmUp();
port.postMessage({ type: "ready" } satisfies FromSharedWorker);

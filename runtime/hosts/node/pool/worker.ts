/**
 * The entry point of a guest worker thread. It loads the engine once, then runs one agent at a
 * time as the kernel asks, making host calls over the run's channel. It holds no authority of
 * its own: everything the guest can do goes through the channel to the gate.
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { newQuickJSWASMModule, newVariant, RELEASE_SYNC } from "quickjs-emscripten";
import type { ComponentEngine } from "../../../engines/component/run.js";
import type { Finished, GuestBridge, Reply, RunSpec } from "../../../engines/engine.js";
import { runQuickJs } from "../../../engines/quickjs/run.js";
import "../quickjs.js";
import { Control, GuestChannel, type ChannelBuffers } from "./channel.js";
import type { OpName } from "../../../kernel/ops.js";

export interface WorkerData {
  sdkSource: string;
  /** The most WebAssembly memory the worker's engine may ever have, in bytes. */
  maxHeapBytes: number;
}

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

export type ToWorker = { type: "run"; spec: RunSpec; channel: ChannelBuffers; port: MessagePort };
export type FromWorker = { type: "ready" } | { type: "done"; finished: Finished };

const { sdkSource, maxHeapBytes } = workerData as WorkerData;
const port = parentPort;
if (!port) throw new Error("runtime/hosts/node/pool/worker.ts must run in a worker thread");

// QuickJS's own memory limit does not count ArrayBuffer storage, so the engine's whole heap
// gets a hard maximum too, and each run's growth of it is checked against the run's limit.
const QUICKJS_INITIAL_PAGES = 256;
const heap: WasmMemory = new (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => WasmMemory } }).WebAssembly.Memory({
  initial: QUICKJS_INITIAL_PAGES,
  maximum: Math.max(QUICKJS_INITIAL_PAGES, Math.floor(maxHeapBytes / 65536)),
});
// Emscripten grows its heap by calling heap.grow() and treats a throw as "no memory": malloc
// then fails and the guest sees an out-of-memory error. Each run may grow the heap by at most
// its memory limit.
let heapBudget = Infinity;
const grow = heap.grow.bind(heap);
heap.grow = (pages: number): number => {
  if (heap.buffer.byteLength + pages * 65536 > heapBudget) throw new RangeError("the run's memory limit is reached");
  return grow(pages);
};
const quickjs = await newQuickJSWASMModule(newVariant(RELEASE_SYNC, { wasmMemory: heap as never }));

function bridgeFor(channel: GuestChannel): GuestBridge {
  return {
    call(op: OpName, args: unknown[]): Reply {
      const reply = channel.call({ op, args }) as Reply;
      // A stop decided by the policy (or a SIGSTOP during the call) takes effect at once.
      if (channel.control() === Control.stop && channel.pauseWhileStopped() === Control.kill) {
        return { abort: "signal", message: "killed" };
      }
      return reply;
    },
    tick(fuel: number) {
      channel.publish(fuel);
      let word = channel.control();
      if (word === Control.stop) word = channel.pauseWhileStopped();
      return word === Control.kill ? ("signal" as const) : null;
    },
    pendingSignal: () => (channel.termRequested() ? ("sigterm" as const) : undefined),
  };
}

// The component engine is loaded the first time a component runs in this worker.
let components: Promise<ComponentEngine> | undefined;

function runComponent(spec: RunSpec, bridge: GuestBridge): Promise<Finished> {
  components ??= import("../../../engines/component/run.js").then((m) => new m.ComponentEngine());
  return components.then((engine) => engine.run(spec, bridge));
}

function runQuickJsGuest(spec: RunSpec, bridge: GuestBridge): Finished {
  heapBudget = heap.buffer.byteLength + spec.limits.memory;
  try {
    // Once the guest's run is over, the kernel's own reads of what it left may grow the heap.
    return runQuickJs(quickjs, spec, bridge, sdkSource, { ended: () => (heapBudget = Infinity) });
  } finally {
    heapBudget = Infinity;
  }
}

port.on("message", (message: ToWorker) => {
  if (message.type !== "run") return;
  const channel = new GuestChannel(message.channel, message.port);
  const bridge = bridgeFor(channel);
  const done = (finished: Finished) => {
    channel.publish(finished.fuel);
    message.port.close();
    port.postMessage({ type: "done", finished } satisfies FromWorker);
  };
  if (message.spec.engine === "component") {
    void runComponent(message.spec, bridge).then(done, (error: unknown) =>
      done({
        outcome: { status: "error", reason: "trap", error: `the component engine failed: ${error instanceof Error ? error.message : String(error)}` },
        fuel: 0,
        hostCalls: 0,
        reusable: false,
      }),
    );
  } else if (message.spec.engine === "quickjs") {
    done(runQuickJsGuest(message.spec, bridge));
  } else {
    done({
      outcome: { status: "error", error: `the ${String(message.spec.engine)} engine is not available in this worker` },
      fuel: 0,
      hostCalls: 0,
      reusable: true,
    });
  }
});

port.postMessage({ type: "ready" } satisfies FromWorker);

/**
 * Runs one agent component in a fresh instance, inside a pool worker.
 *
 * Each run instantiates the component anew from the compiled modules (nothing of one run is
 * left for the next), with a memory of its own whose maximum is the run's limit, and a refuel
 * hook that counts fuel by slices, publishes it and honours SIGSTOP and SIGKILL between any two
 * slices. After a trap or an abort the instance is never entered again.
 */
import { OUT_OF_MEMORY, NO_RUN } from "./prelude.js";
import { ENGINE_IMPORT, FUEL_EXPORT, GROW_IMPORT, MEMORY_IMPORT, REFUEL_IMPORT, type ComponentImage } from "./image.js";
import { EngineAbort, kernelImports, sender, type RunState } from "./host.js";
import { TimerClock } from "../timer-clock.js";
import { wasiImports } from "./wasi.js";
import { PAGE_BYTES, Wasm, type WasmGlobal, type WasmInstance, type WasmMemory, type WasmModule } from "./wasm.js";
import type { Finished, GuestBridge, Outcome, RunSpec } from "../engine.js";

/**
 * One slice is 100,000 fuel units. A unit is one loop iteration, or one entry to a function that
 * calls or loops, in the component's compiled code (StarlingMonkey's interpreter, mostly; see
 * instrument.ts).
 */
export const FUEL_PER_SLICE = 100_000;
const MAX_PAGES = 65536;
const MAX_MESSAGE = 4096;

type Instantiate = (
  getCoreModule: (name: string) => WasmModule,
  imports: Record<string, Record<string, unknown>>,
  instantiateCore: (module: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance,
) => { run(task: string): unknown };

/** The component engine of one worker: it keeps each component's glue once loaded. */
export class ComponentEngine {
  private readonly glue = new Map<string, Promise<Instantiate>>();

  async run(spec: RunSpec, bridge: GuestBridge): Promise<Finished> {
    const image = spec.component;
    if (!image) return failed("the run has no component to run", true);
    let instantiate: Instantiate;
    try {
      instantiate = await this.load(image);
    } catch (error) {
      this.glue.delete(image.key);
      return failed(`the component's glue does not load: ${describe(error)}`, true);
    }
    return runInstance(instantiate, image, spec, bridge);
  }

  private load(image: ComponentImage): Promise<Instantiate> {
    let glue = this.glue.get(image.key);
    if (!glue) {
      glue = import(image.glue).then((m: { instantiate: Instantiate }) => m.instantiate);
      this.glue.set(image.key, glue);
    }
    return glue;
  }
}

function runInstance(instantiate: Instantiate, image: ComponentImage, spec: RunSpec, bridge: GuestBridge): Finished {
  const state: RunState = { hostCalls: 0, abort: null, timerFailure: null };
  const clock: TimerClock = new TimerClock((op, args) => send(op, args));
  const send = sender(bridge, state, (op, reply) => clock.observe(op, reply));
  const limit = spec.limits.fuel;
  const counters: WasmGlobal[] = [];
  // Units handed out to the modules' counters; what is left in them is not used yet.
  let given = 0;
  const used = () => given - counters.reduce((sum, c) => sum + c.value, 0);
  // Called with a counter that went below zero (by what was spent beyond it); returns its new value.
  // Decided on what was spent, not on what was handed out: each module that ran holds a slice of
  // its own, mostly unspent (StarlingMonkey's clock and poll code runs in a module of its own).
  const refuel = (counter: number): number => {
    const spent = used();
    if (!state.abort) {
      if (spent > limit) {
        state.abort = { reason: "fuel", message: `fuel budget of ${limit} exhausted` };
      } else {
        const reason = bridge.tick(spent);
        if (reason) state.abort = { reason, message: "ended by the kernel" };
      }
    }
    if (state.abort) throw new EngineAbort(state.abort.message);
    // (at least one unit: a loop header refunds the unit it charged, and a slice of none would spin)
    const slice = Math.max(1, Math.min(FUEL_PER_SLICE, limit - spent));
    given += slice;
    return slice + counter;
  };

  // The memory may grow by the run's limit beyond what the component starts with, as QuickJS's
  // heap may: the component's own startup state is not the agent's to pay for.
  const maximum = Math.min(MAX_PAGES, image.initialPages + Math.ceil(spec.limits.memory / PAGE_BYTES));
  const memory: WasmMemory = new Wasm.Memory({ initial: image.initialPages, maximum });
  // Whether a memory.grow asked for more than the run's limit leaves (see instrument.ts).
  let growthRefused = false;
  const grow = (pages: number): number => {
    if (memory.buffer.byteLength / PAGE_BYTES + (pages >>> 0) > maximum) growthRefused = true;
    return pages;
  };
  const names = new Map<WasmModule, string>(Object.entries(image.modules).map(([name, module]) => [module, name]));
  const finish = (outcome: Outcome, reusable: boolean): Finished => ({
    outcome,
    fuel: Math.max(0, used()),
    hostCalls: state.hostCalls,
    reusable: reusable && state.abort === null,
  });

  let root: { run(task: string): unknown };
  try {
    root = instantiate(
      (name) => {
        const module = image.modules[name];
        if (!module) throw new Error(`the glue asks for a core module ${name} the component does not have`);
        return module;
      },
      { ...kernelImports(bridge, state, send), ...wasiImports(clock, state) },
      (module, imports) => {
        const name = names.get(module);
        if (name === undefined || !image.instrumented.includes(name)) return new Wasm.Instance(module, imports);
        const engine: Record<string, unknown> = { [REFUEL_IMPORT]: refuel, [GROW_IMPORT]: grow };
        if (name === image.memoryModule) engine[MEMORY_IMPORT] = memory;
        const instance = new Wasm.Instance(module, { ...imports, [ENGINE_IMPORT]: engine });
        counters.push(instance.exports[FUEL_EXPORT] as WasmGlobal);
        return instance;
      },
    );
  } catch (error) {
    if (state.abort) return finish({ status: "killed", reason: state.abort.reason, error: state.abort.message }, false);
    return finish({ status: "error", reason: "trap", error: `the component does not instantiate: ${describe(error)}` }, false);
  }

  let output: unknown;
  try {
    output = root.run(spec.task);
  } catch (error) {
    if (state.abort) return finish({ status: "killed", reason: state.abort.reason, error: state.abort.message }, false);
    if (state.timerFailure !== null) return finish({ status: "error", error: state.timerFailure }, false);
    const payload = errPayload(error);
    if (payload !== undefined) return finish(guestError(payload, spec), true);
    // A trap: the instance is dead. After a growth the limit refused, it was the memory that ran out.
    if (growthRefused) return finish({ status: "error", reason: "memory", error: `${OUT_OF_MEMORY} (limit ${spec.limits.memory} bytes; the component trapped)` }, false);
    return finish({ status: "error", reason: "trap", error: `the agent trapped: ${describe(error)}` }, false);
  }
  if (state.abort) return finish({ status: "killed", reason: state.abort.reason, error: state.abort.message }, false);
  if (typeof output !== "string") return finish({ status: "error", reason: "trap", error: `the component's run returned a ${typeof output}, not a string` }, false);
  const bytes = Buffer.byteLength(output);
  if (bytes > spec.limits.output) {
    return finish({ status: "error", reason: "limit", error: `the output has ${bytes} bytes, over the limit of ${spec.limits.output}` }, true);
  }
  return finish({ status: "ok", output }, true);
}

/** The string the agent's run failed with (the export's `err`), if that is what was thrown. */
function errPayload(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !Object.prototype.hasOwnProperty.call(error, "payload")) return undefined;
  const payload = (error as { payload: unknown }).payload;
  return typeof payload === "string" ? payload : undefined;
}

function guestError(message: string, spec: RunSpec): Outcome {
  if (message === NO_RUN) return { status: "error", error: `the agent must export a function run(task); ${spec.filename} does not` };
  if (message === OUT_OF_MEMORY) return { status: "error", reason: "memory", error: `${OUT_OF_MEMORY} (limit ${spec.limits.memory} bytes)` };
  return { status: "error", error: clip(message) };
}

function failed(error: string, reusable: boolean): Finished {
  return { outcome: { status: "error", reason: "trap", error }, fuel: 0, hostCalls: 0, reusable };
}

/** A host-side error, without host paths. */
function describe(error: unknown): string {
  return clip(error instanceof Error ? error.message : String(error)).replace(/(file:\/\/)?\/[^\s)]+/g, "<path>");
}

function clip(text: string): string {
  return text.length > MAX_MESSAGE ? text.slice(0, MAX_MESSAGE) + "…" : text;
}

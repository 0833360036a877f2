/**
 * Engine instances made ready before an agent needs one. Everything that does not depend on the
 * agent is done ahead: the instance, its runtime and context, the captured intrinsics, the
 * kernel's functions, the Web loader, the timers, the prelude, and the guest SDK's module. A
 * spawn then only binds the run (its state and its way to the gate) and evaluates the agent's
 * own module.
 *
 * The kernel's functions are made once per instance, before the run exists: they reach the run
 * through the instance's RunSlot, bound when the instance is taken. An instance serves one run
 * and is dropped with it.
 */
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from "quickjs-emscripten";
import type { OpName } from "../../kernel/ops.js";
import type { Reply } from "../engine.js";
import { SDK_SPECIFIER } from "../quickjs/guest-modules.js";
import { installHost, type HostLink } from "../quickjs/host.js";
import { captureIntrinsics } from "../quickjs/intrinsics.js";
import { RunState, installModuleLoader } from "../quickjs/outcome.js";
import { MAX_STACK_BYTES } from "../quickjs/run.js";
import { installTimerFunctions, type TimerClockOps } from "../quickjs/timers.js";
import { installWebLoader } from "../web/quickjs.js";
import { PRELUDE } from "../quickjs/guest-modules.js";
import { evalCodeAsync } from "./drive.js";
import { directFunctions } from "./direct.js";
import type { EngineGlue } from "./glue.js";
import { newEngine } from "./module.js";
import { forkInstance, resetInstance, takeSnapshot, type Snapshot } from "./fork.js";
import { nextTurn, unref } from "../../portable/immediate.js";

/** What the instance's functions reach: the run bound to it (a placeholder until then). */
export class RunSlot {
  state = new RunState();
  link: HostLink = {
    send: (): Reply => ({ err: { tag: "invalid", val: "no run is bound to this engine instance" } }),
    pendingSignal: () => undefined,
    canWait: () => false,
  };
  clock: Omit<TimerClockOps, "canWait"> = {
    base: () => 0n,
    waitUntil: (deadline) => deadline,
  };
  interrupt: (canSuspend: boolean) => boolean | Promise<boolean> = () => false;
}

export interface PreparedInstance {
  glue: EngineGlue;
  runtime: QuickJSRuntime;
  ctx: QuickJSContext;
  slot: RunSlot;
  /** The module loader's map: the run adds the agent's module to it. */
  modules: Map<string, string>;
  turnFn(): QuickJSHandle | undefined;
  disposeTimers(): void;
  /** The snapshot this instance is a copy of (none: prepared from scratch). */
  copyOf?: Snapshot;
}

/** A RunState whose fields are the slot's current run's. */
function stateOf(slot: RunSlot): RunState {
  return {
    get slices() {
      return slot.state.slices;
    },
    set slices(v) {
      slot.state.slices = v;
    },
    get hostCalls() {
      return slot.state.hostCalls;
    },
    set hostCalls(v) {
      slot.state.hostCalls = v;
    },
    get abort() {
      return slot.state.abort;
    },
    set abort(v) {
      slot.state.abort = v;
    },
    get timerFailure() {
      return slot.state.timerFailure;
    },
    set timerFailure(v) {
      slot.state.timerFailure = v;
    },
    get ended() {
      return slot.state.ended;
    },
    set ended(v) {
      slot.state.ended = v;
    },
  };
}

/**
 * The kernel's functions in an instance's context, reaching the run through its slot. Also run
 * on a copy of a prepared instance, where only the functions' host side is made (see fork.ts):
 * it must make its functions in the same order every time.
 */
export function installKernel(ctx: QuickJSContext, slot: RunSlot, glue: EngineGlue, registered?: QuickJSHandle): { turnFn(): QuickJSHandle | undefined; dispose(): void } {
  const state = stateOf(slot);
  installHost(ctx, state, {
    send: (op: OpName, args: unknown[]) => slot.link.send(op, args),
    pendingSignal: () => slot.link.pendingSignal(),
    canWait: () => slot.link.canWait(),
  }, directFunctions(glue));
  installWebLoader(ctx);
  return installTimerFunctions(ctx, { base: () => slot.clock.base(), waitUntil: (d) => slot.clock.waitUntil(d), canWait: () => glue.canSuspend() }, state, registered);
}

/**
 * Makes an instance ready for any agent.
 * @throws Error when the kernel's own code does not evaluate (a kernel bug)
 */
export async function prepareInstance(sdkSource: string, maxHeapBytes: number): Promise<PreparedInstance> {
  const slot = new RunSlot();
  const { glue, quickjs } = newEngine({ interrupt: (canSuspend) => slot.interrupt(canSuspend) }, maxHeapBytes);
  const runtime = quickjs.newRuntime();
  runtime.setMaxStackSize(MAX_STACK_BYTES);
  // (the glue answers the interrupts itself: this only turns QuickJS's checks on)
  runtime.setInterruptHandler(() => false);
  const modules = installModuleLoader(runtime, undefined, sdkSource);
  const ctx = runtime.newContext();
  captureIntrinsics(ctx);
  const timers = installKernel(ctx, slot, glue);
  for (const [code, name] of [
    [PRELUDE, "prelude"],
    [`import "${SDK_SPECIFIER}";`, "sdk"],
  ]) {
    const done = await evalCodeAsync(glue, ctx, code, name, { type: "module", strict: true });
    if ("error" in done) {
      const error = ctx.dump(done.error);
      done.error.dispose();
      throw new Error(`kernel: the ${name} did not evaluate: ${JSON.stringify(error)}`);
    }
    done.value.dispose();
  }
  return { glue, runtime, ctx, slot, modules, turnFn: () => timers.turnFn(), disposeTimers: () => timers.dispose() };
}

/** How long after its run an instance given back is made new, in ms. */
const CLEAN_DELAY_MS = 2;

/** One instance in the reserve: `reused` ones have served a run and been made new (resetInstance). */
interface Ready {
  instance: Promise<PreparedInstance>;
  reused?: PreparedInstance;
}

/**
 * Instances made ready ahead, per thread: `take()` hands one over (making one at once if none
 * is ready) and tops the reserve up in the background, one instance per pass of the event loop.
 *
 * An instance that ends its run idle comes back through `give()` and is made new in place
 * (resetInstance): that costs a compare of its memory instead of a new instance whose pages
 * all fault in, which is most of what a copy costs. It is made new a moment later
 * (CLEAN_DELAY_MS), so that a spawn that comes right after a run ends (the usual case) takes an
 * instance that is ready instead of waiting for that compare. A reused instance holds all its
 * memory, so at most `reserve` of them are kept per thread (in the reserve, waiting to be made
 * new, or running); the others go with their run.
 */
export class PreparedPool {
  private readonly ready: Ready[] = [];
  private filling = false;
  /** The instance every other is a copy of, frozen (see fork.ts); made on first use. */
  private snapshot: Promise<Snapshot> | undefined;
  private frozen: Snapshot | undefined;
  /** Reused instances alive (in the reserve or running), and those of them running. */
  private reusedAlive = 0;
  private reusedRunning = 0;
  private readonly running = new WeakSet<PreparedInstance>();
  /** Instances back from their runs, not made new yet. */
  private readonly dirty: PreparedInstance[] = [];
  private cleaning: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly sdkSource: string,
    private readonly maxHeapBytes: number,
    private readonly reserve = 4,
  ) {}

  take(): Promise<PreparedInstance> {
    if (this.ready.length === 0 && this.dirty.length > 0) this.cleanOne();
    const next = this.ready.shift();
    if (next?.reused) {
      this.reusedRunning++;
      this.running.add(next.reused);
    }
    this.fill();
    return next?.instance ?? this.make();
  }

  /**
   * Takes back an instance whose run is over; `idle` says it ended with nothing running or
   * suspended. Returns whether it was kept (to be made new, then in the reserve); if not, the
   * caller frees it as it would have.
   */
  give(instance: PreparedInstance, idle: boolean): boolean {
    const wasReused = this.running.delete(instance);
    if (wasReused) this.reusedRunning--;
    if (!idle || !this.frozen || instance.copyOf !== this.frozen || !(wasReused || this.reusedAlive < this.reserve)) {
      if (wasReused) this.reusedAlive--;
      return false;
    }
    if (!wasReused) this.reusedAlive++;
    this.dirty.push(instance);
    this.cleaning ??= unref(setTimeout(() => this.clean(), CLEAN_DELAY_MS));
    return true;
  }

  /** Makes every instance given back new now (or drops it), instead of a moment later. */
  clean(): void {
    clearTimeout(this.cleaning);
    this.cleaning = undefined;
    while (this.dirty.length > 0) this.cleanOne();
  }

  /** Makes the oldest instance given back new, into the front of the reserve; one that cannot be is dropped. */
  private cleanOne(): void {
    const instance = this.dirty.shift()!;
    let made: PreparedInstance | undefined;
    try {
      made = resetInstance(this.frozen!, instance, this.sdkSource);
    } catch {
      made = undefined;
    }
    if (!made) {
      this.reusedAlive--;
      return;
    }
    this.ready.unshift({ instance: Promise.resolve(made), reused: made });
    // (the reserve keeps its size: the newest copy made goes, not a reused instance)
    while (this.ready.length > this.reserve) {
      const dropped = this.ready.pop()!;
      if (dropped.reused) this.reusedAlive--;
    }
  }

  /** Starts filling the reserve (for a thread that is about to host agents). */
  warmUp(): void {
    this.fill();
  }

  /** Drops the reserve (its instances go with their memory). */
  clear(): void {
    for (const r of this.ready) if (r.reused) this.reusedAlive--;
    this.ready.length = 0;
    this.reusedAlive -= this.dirty.length;
    this.dirty.length = 0;
    clearTimeout(this.cleaning);
    this.cleaning = undefined;
  }

  private make(): Promise<PreparedInstance> {
    this.snapshot ??= takeSnapshot(this.sdkSource, this.maxHeapBytes).then((snapshot) => (this.frozen = snapshot));
    const made = this.snapshot.then(
      (snapshot) => forkInstance(snapshot, this.sdkSource, this.maxHeapBytes),
      // (an instance that cannot be frozen is still one that can be prepared, more slowly)
      () => prepareInstance(this.sdkSource, this.maxHeapBytes),
    );
    made.catch(() => undefined);
    return made;
  }

  /** Copies are made while the reserve, counting the reused instances that will come back, is short. */
  private short(): boolean {
    return this.ready.length + this.dirty.length + this.reusedRunning < this.reserve;
  }

  private fill(): void {
    if (this.filling || !this.short()) return;
    this.filling = true;
    nextTurn(() => {
      this.filling = false;
      if (this.short()) {
        this.ready.push({ instance: this.make() });
        this.fill();
      }
    });
  }
}

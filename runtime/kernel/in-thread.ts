/**
 * Shared isolation in the kernel's own thread (`pool: false`): every agent is an instance of the
 * asynchronous engine on this thread, and a host call goes straight to the gate. A call the gate
 * answers synchronously crosses no thread and suspends nothing.
 *
 * InThreadChannel is the run's channel without a SharedArrayBuffer: the same control word,
 * fuel, pause and SIGTERM as KernelChannel, kept in plain fields.
 */
import type { Reply, RunSpec } from "../engines/engine.js";
import { startQuickJsAsync, type AsyncBridge, type AsyncRun, type ControlWord } from "../engines/quickjs-async/run.js";
import { Turns } from "../engines/quickjs-async/turns.js";
import { PreparedPool } from "../engines/quickjs-async/prepare.js";
import { Control } from "./control.js";
import type { HostedRun, RunChannel, RunHost, StartOptions } from "./hosts.js";

type Handler = (request: unknown) => Reply | Promise<Reply>;

const MALFORMED: Reply = { err: { tag: "invalid", val: "malformed host call" } };
const HOST_FAILED: Reply = { err: { tag: "io", val: "the host could not carry out the call" } };
const KILLED: Reply = { abort: "signal", message: "killed" };

function wordName(word: number): ControlWord {
  return word === Control.stop ? "stop" : word === Control.kill ? "kill" : "run";
}

export class InThreadChannel implements RunChannel {
  private word: number;
  private handler: Handler | undefined;
  private readonly attached: Promise<void>;
  private attach!: () => void;
  private closed = false;
  private ended: (() => void) | undefined;
  private used = 0;
  private paused = false;
  private pauseWaiters: (() => void)[] = [];
  private controlWaiters: ((word: number) => void)[] = [];
  private term = false;

  constructor(control: number = Control.run) {
    this.word = control;
    this.attached = new Promise((resolve) => (this.attach = resolve));
  }

  get fuel(): number {
    return this.used;
  }

  setControl(word: number): void {
    this.word = word;
    if (word !== Control.stop) this.wake(word);
  }

  close(): void {
    this.closed = true;
    this.ended?.();
    this.attach();
    this.wake(Control.kill);
  }

  async waitPaused(timeoutMs: number): Promise<boolean> {
    if (this.paused) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(this.paused), timeoutMs);
      this.pauseWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  requestTerm(): void {
    this.term = true;
  }

  serve(handler: Handler): Promise<void> {
    this.handler = handler;
    this.attach();
    return this.closed ? Promise.resolve() : new Promise((resolve) => (this.ended = resolve));
  }

  /** The guest's end of this channel. */
  bridge(): AsyncBridge {
    return {
      call: (op, args) => (this.handler ? this.handle({ op, args }) : this.attached.then(() => this.handle({ op, args }))),
      tick: (fuel) => {
        this.used = fuel;
        return wordName(this.word);
      },
      control: () => wordName(this.word),
      whileStopped: () => this.whileStopped(),
      pendingSignal: () => (this.term ? "sigterm" : undefined),
    };
  }

  private handle(request: unknown): Reply | Promise<Reply> {
    if (this.closed || !this.handler) return KILLED;
    try {
      const reply = this.handler(request);
      return reply instanceof Promise ? reply.catch(() => HOST_FAILED) : reply;
    } catch {
      return MALFORMED;
    }
  }

  private whileStopped(): Promise<"run" | "kill"> {
    if (this.word !== Control.stop) return Promise.resolve(this.word === Control.kill ? "kill" : "run");
    this.paused = true;
    for (const waiter of this.pauseWaiters.splice(0)) waiter();
    return new Promise((resolve) =>
      this.controlWaiters.push((word) => {
        this.paused = false;
        resolve(word === Control.kill ? "kill" : "run");
      }),
    );
  }

  private wake(word: number): void {
    for (const waiter of this.controlWaiters.splice(0)) waiter(word);
  }
}

export interface InThreadOptions {
  sdkSource: string;
  maxHeapBytes: number;
  /** QuickJS's stack limit on this thread, from its V8 stack (see quickjs-async/stack.ts). */
  maxStackBytes: number;
}

/** Runs every agent as an engine instance on the kernel's own thread. */
export class InThreadHost implements RunHost {
  private readonly turns = new Turns();
  private readonly live = new Set<AsyncRun>();
  private readonly instances: PreparedPool;

  private readonly maxStackBytes: number;

  constructor(options: InThreadOptions) {
    this.instances = new PreparedPool(options.sdkSource, options.maxHeapBytes);
    this.maxStackBytes = options.maxStackBytes;
  }

  async start(spec: RunSpec, signal: AbortSignal, options: StartOptions = {}): Promise<HostedRun | undefined> {
    if (signal.aborted) return undefined;
    const channel = new InThreadChannel(options.stopped?.() ? Control.stop : Control.run);
    const run = startQuickJsAsync(spec, channel.bridge(), { turns: this.turns, instances: this.instances, maxStackBytes: this.maxStackBytes });
    this.add(run);
    const finished = run.finished.finally(() => this.remove(run));
    return {
      finished,
      channel,
      kill: () => {
        channel.setControl(Control.kill);
        run.abandon();
        this.remove(run);
      },
    };
  }

  private add(run: AsyncRun): void {
    this.live.add(run);
  }

  private remove(run: AsyncRun): void {
    this.live.delete(run);
  }

  stats(): { workers: number; instances: number } {
    return { workers: 0, instances: this.live.size };
  }

  async close(): Promise<void> {
    for (const run of [...this.live]) {
      run.abandon();
      this.remove(run);
    }
    this.instances.clear();
  }
}

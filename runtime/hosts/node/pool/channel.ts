/**
 * The channel between a guest's worker and the kernel: one SharedArrayBuffer per run.
 *
 * A host call is synchronous for the guest: the worker writes the request, bumps the request
 * sequence and blocks in `Atomics.wait` until the kernel has written the reply, while the
 * kernel's main thread does real asynchronous work (disk, network, SQL) in between. Payloads
 * travel in the buffer; one too large for it travels over a MessagePort and is taken with
 * `receiveMessageOnPort`, still synchronously. The same buffer carries the control word
 * (SIGSTOP, SIGCONT, SIGKILL, SIGTERM) and the guest's fuel counter, so that the kernel can
 * pause or read a guest that never makes a host call.
 */
import { receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { Encoder, decode } from "./codec.js";

/** Int32 slots of the header. */
const REQ_SEQ = 0;
const RESP_SEQ = 1;
const CONTROL = 2;
const REQ_LEN = 3;
const RESP_LEN = 4;
const GUEST_STATE = 5;
const TERM = 6;
const HEADER_BYTES = 64;
/** Float64 slots, after the Int32 header. */
const FUEL = 0;
const STATS_BYTES = 8;

export { Control } from "../../../kernel/control.js";
import { Control } from "../../../kernel/control.js";
/** What the guest reports about itself. */
export const GuestState = { running: 0, paused: 1 } as const;

/** Length value that means "the payload is on the port". */
const ON_PORT = -1;

export const DEFAULT_PAYLOAD_BYTES = 256 * 1024;

/**
 * How long each side polls at most before it sleeps. A futex wake-up (and, on the kernel's
 * side, a trip through the event loop) costs tens of microseconds; a cheap call's answer
 * arrives in a few, so on an idle core a short poll first is far faster for the agents that
 * make many calls. On a busy machine it is the opposite: the poller holds a core that the
 * other side needs to answer, so each side adapts (see SpinBudget).
 */
const GUEST_SPIN_MS = 0.2;
/** The kernel's poll is shorter: its thread serves every agent and the event loop. */
const KERNEL_SPIN_MS = 0.05;

/**
 * Adaptive spinning: poll for the full time while most polls pay off; when most run out (the
 * machine has fewer free cores than busy threads, and the poller holds one the other side
 * needs), do not poll at all, but still poll every 64th time to notice when the machine is idle
 * again. An occasional poll that runs out costs little on an idle machine, so one alone does
 * not stop polling: the share of polls that paid off is a moving average. Measured on two
 * cores: under a load average of 4, always polling gave 5,000 no-op calls/s and never polling
 * 20,000; idle, always polling gave 33,000 and never polling 20,000.
 */
export class SpinBudget {
  /** Moving average of the polls that paid off (1: all). */
  private paidShare = 1;
  private skipped = 0;

  constructor(private readonly max: number) {}

  /** How long to poll this time, in ms (0: sleep at once). */
  next(): number {
    if (this.paidShare >= 0.5) return this.max;
    return ++this.skipped % 64 === 0 ? this.max : 0;
  }

  /** The poll saw the answer. */
  paid(): void {
    this.paidShare = this.paidShare * 0.875 + 0.125;
  }

  /** The poll ran out. */
  wasted(): void {
    this.paidShare *= 0.875;
  }
}

/**
 * The longest the kernel serves one agent's synchronous calls back to back before it lets the
 * event loop run (timers, other agents, I/O completions).
 */
const SERVE_SLICE_MS = 2;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Polls `done` for up to `ms` milliseconds; returns whether it became true. */
function spinUntil(done: () => boolean, ms: number): boolean {
  const until = performance.now() + ms;
  for (;;) {
    for (let i = 0; i < 64; i++) if (done()) return true;
    if (performance.now() > until) return done();
  }
}

export interface ChannelBuffers {
  sab: SharedArrayBuffer;
  payloadBytes: number;
}

/** A run's buffers; `control` is the control word the guest finds when it starts (a stop that came first). */
export function createChannelBuffers(payloadBytes = DEFAULT_PAYLOAD_BYTES, control: number = Control.run): ChannelBuffers {
  const sab = new SharedArrayBuffer(HEADER_BYTES + STATS_BYTES + payloadBytes);
  new Int32Array(sab, 0, HEADER_BYTES / 4)[CONTROL] = control;
  return { sab, payloadBytes };
}

/**
 * Makes a finished run's buffers ready for another run: the header and stats start over (the
 * payload's old bytes are never read: every read is bounded by a length the new run wrote).
 * Only for buffers that neither side of the old run can still touch.
 */
export function reuseChannelBuffers(buffers: ChannelBuffers, control: number = Control.run): ChannelBuffers {
  new Uint8Array(buffers.sab, 0, HEADER_BYTES + STATS_BYTES).fill(0);
  new Int32Array(buffers.sab, 0, HEADER_BYTES / 4)[CONTROL] = control;
  return buffers;
}

class ChannelView {
  protected readonly header: Int32Array;
  protected readonly stats: Float64Array;
  protected readonly payload: Uint8Array;
  private readonly encoder = new Encoder();

  constructor(
    buffers: ChannelBuffers,
    protected readonly port: MessagePort,
  ) {
    this.header = new Int32Array(buffers.sab, 0, HEADER_BYTES / 4);
    this.stats = new Float64Array(buffers.sab, HEADER_BYTES, STATS_BYTES / 8);
    this.payload = new Uint8Array(buffers.sab, HEADER_BYTES + STATS_BYTES, buffers.payloadBytes);
  }

  protected write(lenSlot: number, message: unknown): void {
    const bytes = this.encoder.encode(message);
    if (bytes.length <= this.payload.length) {
      this.payload.set(bytes);
      this.header[lenSlot] = bytes.length;
    } else {
      this.port.postMessage(message);
      this.header[lenSlot] = ON_PORT;
    }
  }

  protected read(lenSlot: number): unknown {
    const len = this.header[lenSlot];
    if (len === ON_PORT) {
      const received = receiveMessageOnPort(this.port);
      if (!received) throw new Error("channel: a payload announced on the port is missing");
      return received.message;
    }
    if (!(len >= 0 && len <= this.payload.length)) throw new Error("channel: a payload length is out of range");
    // A private copy first, so that nothing can change the bytes while they are decoded.
    return decode(this.payload.slice(0, len));
  }

  get fuel(): number {
    return this.stats[FUEL];
  }
}

/** The worker's end: make calls, honour the control word, publish fuel. */
export class GuestChannel extends ChannelView {
  private seq = 0;
  private readonly spin = new SpinBudget(GUEST_SPIN_MS);

  /**
   * Sends a request and blocks until the kernel replies. Spins briefly first: a reply to a
   * cheap call usually arrives within microseconds, far sooner than a futex wake-up.
   */
  call(request: unknown): unknown {
    this.write(REQ_LEN, request);
    const seq = ++this.seq;
    Atomics.store(this.header, REQ_SEQ, seq);
    Atomics.notify(this.header, REQ_SEQ);
    const spinMs = this.spin.next();
    if (spinMs > 0 && spinUntil(() => Atomics.load(this.header, RESP_SEQ) === seq, spinMs)) this.spin.paid();
    else {
      if (spinMs > 0) this.spin.wasted();
      while (Atomics.load(this.header, RESP_SEQ) !== seq) Atomics.wait(this.header, RESP_SEQ, seq - 1, 50);
    }
    return this.read(RESP_LEN);
  }

  control(): number {
    return Atomics.load(this.header, CONTROL);
  }

  /** Blocks while the control word says stop; returns the word that ended the wait. */
  pauseWhileStopped(): number {
    let word = Atomics.load(this.header, CONTROL);
    if (word !== Control.stop) return word;
    Atomics.store(this.header, GUEST_STATE, GuestState.paused);
    Atomics.notify(this.header, GUEST_STATE);
    while ((word = Atomics.load(this.header, CONTROL)) === Control.stop) {
      Atomics.wait(this.header, CONTROL, Control.stop);
    }
    Atomics.store(this.header, GUEST_STATE, GuestState.running);
    Atomics.notify(this.header, GUEST_STATE);
    return word;
  }

  /** Whether the kernel has asked the agent to finish (SIGTERM). */
  termRequested(): boolean {
    return Atomics.load(this.header, TERM) === 1;
  }

  publish(fuel: number): void {
    this.stats[FUEL] = fuel;
  }
}

/**
 * The guest's end on a shared thread: the same buffer and protocol as GuestChannel, but a call
 * waits with `Atomics.waitAsync`, so that the thread serves other agents meanwhile.
 */
export class AsyncGuestChannel extends ChannelView {
  private seq = 0;
  private closed = false;

  /** Sends a request; resolves with the kernel's reply. @throws (rejects) once closed */
  async call(request: unknown): Promise<unknown> {
    this.write(REQ_LEN, request);
    const seq = ++this.seq;
    Atomics.store(this.header, REQ_SEQ, seq);
    Atomics.notify(this.header, REQ_SEQ);
    while (Atomics.load(this.header, RESP_SEQ) !== seq) {
      if (this.closed) throw new Error("channel: closed");
      const waiting = Atomics.waitAsync(this.header, RESP_SEQ, seq - 1);
      if (waiting.async) await waiting.value;
    }
    return this.read(RESP_LEN);
  }

  control(): number {
    return Atomics.load(this.header, CONTROL);
  }

  /** While the control word says stop: reports paused, waits; returns the word that ended the wait. */
  async whileStopped(): Promise<number> {
    let word = Atomics.load(this.header, CONTROL);
    if (word !== Control.stop) return word;
    Atomics.store(this.header, GUEST_STATE, GuestState.paused);
    Atomics.notify(this.header, GUEST_STATE);
    while ((word = Atomics.load(this.header, CONTROL)) === Control.stop && !this.closed) {
      const waiting = Atomics.waitAsync(this.header, CONTROL, Control.stop);
      if (waiting.async) await waiting.value;
    }
    Atomics.store(this.header, GUEST_STATE, GuestState.running);
    Atomics.notify(this.header, GUEST_STATE);
    return this.closed ? Control.kill : word;
  }

  termRequested(): boolean {
    return Atomics.load(this.header, TERM) === 1;
  }

  publish(fuel: number): void {
    this.stats[FUEL] = fuel;
  }

  /** Ends every wait on this channel (the run is over): nothing stays waiting on the buffer. */
  close(): void {
    this.closed = true;
    Atomics.notify(this.header, RESP_SEQ);
    Atomics.notify(this.header, CONTROL);
  }
}

/** The kernel's end: serve requests one at a time, set the control word. */
export class KernelChannel extends ChannelView {
  private served = 0;
  private closed = false;
  private readonly spin = new SpinBudget(KERNEL_SPIN_MS);

  /**
   * Serves requests until `close()`: each request is handed to `handle`, whose result (or the
   * value of its promise) is the reply. A synchronous answer goes back at once, and the loop
   * polls briefly for the next request, since agents tend to make calls back to back; it
   * yields to the event loop at least every SERVE_SLICE_MS, so that one chatty agent cannot
   * starve the kernel's other work (other agents, timers, signals).
   */
  async serve(handle: (request: unknown) => unknown): Promise<void> {
    let sliceStart = performance.now();
    let justReplied = false;
    while (!this.closed) {
      if (Atomics.load(this.header, REQ_SEQ) === this.served) {
        // Only right after a reply: a chatty agent's next call is usually microseconds away.
        const spinMs = justReplied && performance.now() - sliceStart < SERVE_SLICE_MS ? this.spin.next() : 0;
        if (spinMs > 0) {
          if (spinUntil(() => Atomics.load(this.header, REQ_SEQ) !== this.served, spinMs)) this.spin.paid();
          else this.spin.wasted();
        }
        justReplied = false;
        if (Atomics.load(this.header, REQ_SEQ) === this.served) {
          const waiting = Atomics.waitAsync(this.header, REQ_SEQ, this.served);
          if (waiting.async) await waiting.value;
          sliceStart = performance.now();
          continue;
        }
      }
      if (performance.now() - sliceStart >= SERVE_SLICE_MS) {
        await yieldToEventLoop();
        sliceStart = performance.now();
        if (this.closed) return;
      }
      const seq = Atomics.load(this.header, REQ_SEQ);
      let reply: unknown;
      try {
        reply = handle(this.read(REQ_LEN));
      } catch {
        reply = { err: { tag: "invalid", val: "malformed host call" } };
      }
      if (reply instanceof Promise) {
        reply = await reply.catch(() => ({ err: { tag: "io", val: "the host could not carry out the call" } }));
        sliceStart = performance.now();
      }
      if (this.closed) return;
      this.write(RESP_LEN, reply);
      this.served = seq;
      Atomics.store(this.header, RESP_SEQ, seq);
      Atomics.notify(this.header, RESP_SEQ);
      justReplied = true;
    }
  }

  /** Stops serving (wakes the serve loop so that it returns). */
  close(): void {
    this.closed = true;
    Atomics.notify(this.header, REQ_SEQ);
  }

  setControl(word: number): void {
    Atomics.store(this.header, CONTROL, word);
    Atomics.notify(this.header, CONTROL);
  }

  requestTerm(): void {
    Atomics.store(this.header, TERM, 1);
  }

  get guestPaused(): boolean {
    return Atomics.load(this.header, GUEST_STATE) === GuestState.paused;
  }

  /** Resolves once the guest reports it is paused, or after `timeoutMs`; returns whether it paused. */
  async waitPaused(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!this.guestPaused) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      const waiting = Atomics.waitAsync(this.header, GUEST_STATE, GuestState.running, left);
      if (waiting.async) await waiting.value;
    }
    return true;
  }
}

/**
 * The WASI interfaces a component may import besides the kernel's, as StarlingMonkey needs them
 * for its timers (componentize-js with the `clocks` feature): every clock reading and every wait
 * is the kernel's (through the gate, recorded for replay), by the rule of ../timer-clock.ts.
 *
 * - monotonic-clock: `now` answers the last known time (no call); a subscription's deadline
 *   counts from the known time, or from one `clock.monotonic-now` call when it is not valid.
 * - poll: waits for the earliest deadline with one `clock.sleep-until` (none when the known time
 *   shows it due) and answers that one pollable, as QuickJS's timer turn picks it.
 * - wall-clock: the agent's last `clock.now` answer, with no call (StarlingMonkey reads it for
 *   its own purposes; the agent's `Date` is the prelude's, a `clock.now` call each time).
 * - stderr and streams: what StarlingMonkey writes to stderr is dropped (never the log: console
 *   output is the guest library's `log.write`); no input stream exists.
 * - error: a resource type only; the kernel never makes one.
 *
 * A clock that cannot be read, or a wait that is refused, cannot be reported to the guest
 * through these interfaces: the run ends (see TimerStop), as it does on QuickJS.
 */
import { earliest, TimerStop, type TimerClock } from "../timer-clock.js";
import { EngineAbort, type RunState } from "./host.js";
import { WASI_VERSION } from "./world.js";

type Imports = Record<string, Record<string, unknown>>;

/** The WASI imports of one run, over the run's timer clock. */
export function wasiImports(clock: TimerClock, state: RunState): Imports {
  // Ends the run from inside a WASI call: its failure (or the kernel's abort) is in the state.
  const guarded = <A extends unknown[], R>(fn: (...args: A) => R) => (...args: A): R => {
    if (state.abort) throw new EngineAbort(state.abort.message);
    try {
      return fn(...args);
    } catch (error) {
      if (!(error instanceof TimerStop)) throw error;
      if (error.abort) state.abort ??= { reason: error.abort, message: error.message };
      else state.timerFailure ??= error.message;
      throw new EngineAbort(error.message);
    }
  };

  class Pollable {
    /** `immediate`: ready at once (a stream's, or a zero duration); else ready at `deadline`. */
    constructor(
      readonly deadline: bigint,
      readonly immediate = false,
    ) {}
    ready(): boolean {
      return this.immediate || this.deadline <= clock.last;
    }
    block(): void {
      if (!this.immediate) guarded(() => clock.waitUntil(this.deadline))();
    }
  }
  const subscribeAt = (deadline: bigint): Pollable => {
    // StarlingMonkey computed `deadline` from the last known time: count it from the time now.
    const stale = clock.last;
    const base = clock.base();
    return new Pollable(base + (deadline > stale ? deadline - stale : 0n));
  };
  const poll = (list: Pollable[]): Uint32Array => {
    if (list.length === 0) return new Uint32Array(0);
    const timers = list.map((p, i) => [p, i] as const).filter(([p]) => !p.immediate);
    const immediate = list.findIndex((p) => p.immediate);
    if (timers.length === 0) return Uint32Array.of(immediate);
    const next = timers[earliest(timers.map(([p]) => p.deadline))];
    if (immediate >= 0 && !next[0].ready()) return Uint32Array.of(immediate);
    clock.waitUntil(next[0].deadline);
    return Uint32Array.of(next[1]);
  };

  class OutputStream {
    checkWrite(): bigint {
      return 1n << 20n;
    }
    write(): void {}
    blockingWriteAndFlush(): void {}
    flush(): void {}
    blockingFlush(): void {}
    subscribe(): Pollable {
      return new Pollable(0n, true);
    }
  }
  class InputStream {
    read(): never {
      throw { tag: "closed" };
    }
    blockingRead(): never {
      throw { tag: "closed" };
    }
    subscribe(): Pollable {
      return new Pollable(0n, true);
    }
  }
  class IoError {
    toDebugString(): string {
      return "error";
    }
  }
  const stderr = new OutputStream();

  const interfaces: Imports = {
    "wasi:io/poll": { Pollable, poll: guarded(poll) },
    "wasi:clocks/monotonic-clock": {
      now: () => clock.last,
      resolution: () => 1n,
      subscribeInstant: guarded((when: bigint) => subscribeAt(when)),
      subscribeDuration: guarded((duration: bigint) => (duration === 0n ? new Pollable(0n, true) : subscribeAt(clock.last + duration))),
    },
    "wasi:clocks/wall-clock": { now: () => clock.lastWall, resolution: () => ({ seconds: 0n, nanoseconds: 1_000_000 }) },
    "wasi:io/error": { Error: IoError },
    "wasi:io/streams": { InputStream, OutputStream },
    "wasi:cli/stderr": { getStderr: () => stderr },
  };
  const imports: Imports = {};
  for (const [name, functions] of Object.entries(interfaces)) {
    imports[name] = functions;
    imports[`${name}@${WASI_VERSION}`] = functions;
  }
  return imports;
}

/**
 * The run's monotonic clock and its waits (`clock.sleep-until`): what timers rest on.
 *
 * A wait is a Node timer on the kernel's thread, never a busy loop. It ends when the clock
 * reaches the time asked for, when the run is interrupted (SIGTERM: the wait answers
 * `interrupted` at once, so that the agent can finish), or when the run ends (SIGKILL, the
 * deadline: `close` clears every wait, and nothing answers it).
 */
import { guestErrors } from "../errors.js";
import { monotonicNs } from "../portable/clock.js";

/** Node's timers hold at most 2^31 - 1 ms; a longer wait is taken in steps. */
const MAX_STEP_MS = 2 ** 30;

export interface ClockHost {
  /** Nanoseconds since the run's start. */
  monotonicNow(): bigint;
  /** Resolves with the monotonic time once it has reached `when` (at once if it has). */
  sleepUntil(when: bigint): Promise<bigint>;
  /** SIGTERM: every wait in flight answers `interrupted`. */
  interrupt(): void;
  /** The run is over: every wait is cleared, unanswered. */
  close(): void;
}

/**
 * The clock of one run, counting from `startedNs` (a `monotonicNs()` reading).
 * @example const clock = createClock(monotonicNs()); await clock.sleepUntil(clock.monotonicNow() + 5_000_000n);
 */
export function createClock(startedNs: bigint): ClockHost {
  const waits = new Map<NodeJS.Timeout, (error: Error) => void>();
  let closed = false;
  const monotonicNow = () => monotonicNs() - startedNs;

  const sleepUntil = (when: bigint): Promise<bigint> =>
    new Promise((resolve, reject) => {
      if (closed) return reject(guestErrors.interrupted("the run is over"));
      const step = () => {
        const now = monotonicNow();
        if (now >= when) return resolve(now);
        // (rounded up: a timer that fires a little early would only be set again)
        const ms = Math.min(MAX_STEP_MS, Math.ceil(Number(when - now) / 1e6));
        const timer = setTimeout(() => {
          waits.delete(timer);
          step();
        }, ms);
        waits.set(timer, reject);
      };
      step();
    });

  const clear = (error?: Error) => {
    for (const [timer, reject] of waits) {
      clearTimeout(timer);
      if (error) reject(error);
    }
    waits.clear();
  };

  return {
    monotonicNow,
    sleepUntil,
    interrupt: () => clear(guestErrors.interrupted("SIGTERM: the agent has been asked to finish")),
    close: () => {
      closed = true;
      clear();
    },
  };
}

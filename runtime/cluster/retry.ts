/** Waiting out a NATS server that is restarting: what must be written is retried until it is. */
import { lostRace } from "./records.js";

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `write` until it succeeds; a failure other than a lost compare-and-set (which is
 * final, and rethrown) is retried with a growing pause, for up to `forMs` or until `giveUp()`.
 * @example await persist(() => kv.update(key, value, revision), () => closed);
 */
export async function persist<T>(write: () => Promise<T>, giveUp: () => boolean = () => false, forMs = 120_000): Promise<T> {
  const until = Date.now() + forMs;
  for (let pause = 100; ; pause = Math.min(pause * 2, 2000)) {
    try {
      return await write();
    } catch (error) {
      if (lostRace(error) || giveUp() || Date.now() > until) throw error;
      await sleep(pause);
    }
  }
}

/** Waits for `promise`, or `ms` at most (the timer does not keep the process alive after). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Rate-limit state of one loaded policy: for each rate-limited rule and each key (an agent's
 * name, an agent's code hash: see decide.ts), the times of its last calls. "60/minute" means
 * at most 60 allowed calls in any 60-second window (a sliding window); denied calls are not
 * counted. Calls are recorded in time order (priming from the log reads it oldest first).
 */
import type { Rate } from "./units.js";

class Window {
  private readonly times: number[] = [];
  private next = 0;

  constructor(private readonly count: number) {}

  /** Whether one more call at `now` stays within `count` calls per `windowMs`. */
  allows(now: number, windowMs: number): boolean {
    if (this.times.length < this.count) return true;
    return now - this.times[this.next] >= windowMs;
  }

  record(now: number): void {
    if (this.times.length < this.count) this.times.push(now);
    else {
      this.times[this.next] = now;
      this.next = (this.next + 1) % this.count;
    }
  }
}

/** Per-policy rate-limit state (a policy instance owns one; nothing is shared between policies). */
export class RateBook {
  private readonly slots: Map<string, Window>[];

  constructor(slotCount: number) {
    this.slots = Array.from({ length: slotCount }, () => new Map());
  }

  private window(slot: number, rate: Readonly<Rate>, key: string): Window {
    const windows = this.slots[slot];
    let w = windows.get(key);
    if (!w) windows.set(key, (w = new Window(rate.count)));
    return w;
  }

  allows(slot: number, rate: Readonly<Rate>, key: string, now: number): boolean {
    return this.window(slot, rate, key).allows(now, rate.windowMs);
  }

  record(slot: number, rate: Readonly<Rate>, key: string, now: number): void {
    this.window(slot, rate, key).record(now);
  }

  /** Forgets every count (e.g. between test runs). */
  reset(): void {
    for (const windows of this.slots) windows.clear();
  }
}

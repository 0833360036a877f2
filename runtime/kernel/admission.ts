/**
 * Admission: at most `maxConcurrent` agents run at once, kernel-wide; spawns beyond that wait
 * in a first-in, first-out queue, and each run that ends lets the next one in.
 *
 * ```ts
 * const admission = new Admission(2);
 * const ticket = admission.enter();          // ticket.admitted: false when two runs hold a place
 * if (await ticket.granted) { ...run...; }   // false: it left the queue before its turn
 * ticket.leave();                            // frees its place, or leaves the queue
 * ```
 */
import { UsageError } from "../errors.js";

/** One run's place: a running slot, or a place in the queue until it gets one. */
export interface AdmissionTicket {
  /** Whether the run holds a running slot now. */
  readonly admitted: boolean;
  /** Resolves true once the run holds a slot, false if it left the queue first. */
  readonly granted: Promise<boolean>;
  /** Frees the slot (the next in the queue gets it), or leaves the queue. Idempotent. */
  leave(): void;
}

class Ticket implements AdmissionTicket {
  admitted = false;
  left = false;
  readonly granted: Promise<boolean>;
  private settle!: (granted: boolean) => void;

  constructor(private readonly admission: Admission) {
    this.granted = new Promise((resolve) => (this.settle = resolve));
  }

  admit(): void {
    this.admitted = true;
    this.settle(true);
  }

  leave(): void {
    if (this.left) return;
    this.left = true;
    this.settle(false);
    this.admission.left(this);
  }
}

export class Admission {
  private slots = 0;
  private readonly waiting: Ticket[] = [];

  /** @throws UsageError unless `max` is a positive integer. */
  constructor(readonly max: number) {
    checkPositiveInteger(max, "maxConcurrent");
  }

  /** A place for one run: a slot at once if one is free, else the end of the queue. */
  enter(): AdmissionTicket {
    const ticket = new Ticket(this);
    if (this.slots < this.max && this.waiting.length === 0) {
      this.slots++;
      ticket.admit();
    } else {
      this.waiting.push(ticket);
    }
    return ticket;
  }

  /** Runs holding a slot. */
  get running(): number {
    return this.slots;
  }

  /** Runs waiting for one. */
  get queued(): number {
    return this.waiting.length;
  }

  /** @internal A ticket gave up its slot or its place in the queue. */
  left(ticket: Ticket): void {
    if (ticket.admitted) {
      this.slots--;
      this.admitNext();
      return;
    }
    const i = this.waiting.indexOf(ticket);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  private admitNext(): void {
    while (this.slots < this.max) {
      const next = this.waiting.shift();
      if (!next) return;
      this.slots++;
      next.admit();
    }
  }
}

/** @throws UsageError naming `field` unless `value` is a positive integer. */
export function checkPositiveInteger(value: unknown, field: string): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new UsageError(`${field} must be a positive integer (got ${describe(value)})`);
  }
}

function describe(value: unknown): string {
  return typeof value === "number" || typeof value === "boolean" || value === undefined || value === null ? String(value) : JSON.stringify(value) ?? typeof value;
}

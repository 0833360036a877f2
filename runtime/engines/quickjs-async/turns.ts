/**
 * Turns on a shared thread. A guest gives up its turn at every interrupt (one fuel slice); the
 * turns waiting are resumed one per pass of the event loop, so that between any two slices of
 * guest work the thread polls for I/O: a host call's reply, a signal, a message. A guest in a
 * tight loop therefore delays a neighbour's progress by one slice at most.
 */
import { nextTurn } from "../../portable/immediate.js";

export class Turns {
  private readonly waiting: (() => void)[] = [];
  private scheduled = false;

  /** Resolves when it is this caller's turn again. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.waiting.length === 0) return;
    this.scheduled = true;
    nextTurn(() => {
      this.scheduled = false;
      this.waiting.shift()?.();
      this.schedule();
    });
  }
}

/** Adaptive spinning on the channel: poll while it pays off, sleep at once when it does not. */
import { describe, expect, it } from "vitest";
import { SpinBudget } from "../../dist/runtime/kernel/channel.js";

describe("SpinBudget", () => {
  it("polls the full time while polls pay off", () => {
    const spin = new SpinBudget(0.2);
    for (let i = 0; i < 100; i++) {
      expect(spin.next()).toBe(0.2);
      spin.paid();
    }
  });

  it("polls less after each poll that ran out, then not at all, probing every 64th time", () => {
    const spin = new SpinBudget(0.2);
    const seen: number[] = [];
    for (let i = 0; i < 4; i++) {
      seen.push(spin.next());
      spin.wasted();
    }
    expect(seen).toEqual([0.2, 0.05, 0.0125, 0.003125]);
    const next = Array.from({ length: 128 }, () => spin.next());
    expect(next.filter((ms) => ms > 0)).toEqual([0.2, 0.2]); // the probes
    expect(next.indexOf(0.2)).toBe(63);
  });

  it("a probe that pays off brings polling back, growing to the full time", () => {
    const spin = new SpinBudget(0.2);
    for (let i = 0; i < 4; i++) spin.wasted();
    expect(spin.next()).toBe(0);
    spin.paid();
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      seen.push(spin.next());
      spin.paid();
    }
    expect(seen).toEqual([0.0125, 0.025, 0.05, 0.1, 0.2, 0.2]);
  });
});

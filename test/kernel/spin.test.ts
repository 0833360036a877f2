/** Adaptive spinning on the channel: poll while most polls pay off, sleep at once when most do not. */
import { describe, expect, it } from "vitest";
import { SpinBudget } from "../../dist/runtime/hosts/node/pool/channel.js";

describe("SpinBudget", () => {
  it("polls the full time while polls pay off, and after an occasional one that runs out", () => {
    const spin = new SpinBudget(0.2);
    for (let i = 0; i < 100; i++) {
      expect(spin.next()).toBe(0.2);
      if (i % 10 === 9) spin.wasted();
      else spin.paid();
    }
  });

  it("stops polling once most polls run out, probing every 64th time", () => {
    const spin = new SpinBudget(0.2);
    let polled = 0;
    while (spin.next() > 0) {
      spin.wasted();
      polled++;
    }
    expect(polled).toBe(6); // 0.875^6 < 0.5
    const next = Array.from({ length: 128 }, () => spin.next());
    expect(next.filter((ms) => ms > 0)).toEqual([0.2, 0.2]); // the probes
    expect(next.indexOf(0.2)).toBe(62);
  });

  it("probes that pay off bring polling back", () => {
    const spin = new SpinBudget(0.2);
    for (let i = 0; i < 8; i++) spin.wasted();
    expect(spin.next()).toBe(0);
    let probes = 0;
    while (spin.next() === 0) {
      // a probe comes every 64th call; each one pays off
      for (let i = 0; i < 63 && spin.next() === 0; i++);
      spin.paid();
      probes++;
    }
    expect(probes).toBeGreaterThan(0);
    expect(probes).toBeLessThanOrEqual(4);
    expect(spin.next()).toBe(0.2);
  });
});

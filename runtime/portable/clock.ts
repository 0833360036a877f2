/**
 * A monotonic clock in nanoseconds, on any host: Node's `process.hrtime.bigint()` where the host
 * has it, `performance.now()` elsewhere (a browser or workerd, where it is coarser: a browser
 * rounds it to 5–100 µs, and workerd advances it only across I/O). Every reading of a run's
 * monotonic clock comes from here, so the two are never mixed.
 */

const hrtime = (globalThis as { process?: { hrtime?: { bigint?: () => bigint } } }).process?.hrtime;

/**
 * Nanoseconds from an arbitrary origin, never going back.
 * @example const t0 = monotonicNs(); work(); const took = monotonicNs() - t0;
 */
export const monotonicNs: () => bigint =
  typeof hrtime?.bigint === "function" ? hrtime.bigint.bind(hrtime) : () => BigInt(Math.round(performance.now() * 1e6));

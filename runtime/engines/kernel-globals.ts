/**
 * The guest-side source that makes time and randomness kernel-backed, shared by both engines'
 * preludes so that the same agent makes the same host calls on either: `Date` (every way to
 * the constructor) reads `clock.now`, `Math.random` draws from `random.bytes`. It expects
 * `now` and `randomBytes` to be bound to those imports by the prelude that includes it.
 */
export const KERNEL_TIME_AND_RANDOM = `
const RealDate = Date;
function nowMs() {
  const t = now();
  return Number(t.seconds) * 1000 + Math.floor(t.nanoseconds / 1e6);
}
function KernelDate(...args) {
  if (!new.target) return new RealDate(nowMs()).toString();
  return args.length === 0 ? new RealDate(nowMs()) : new RealDate(...args);
}
KernelDate.prototype = RealDate.prototype;
KernelDate.now = nowMs;
KernelDate.parse = RealDate.parse;
KernelDate.UTC = RealDate.UTC;
Object.defineProperty(RealDate.prototype, "constructor", { value: KernelDate, writable: true, configurable: true });
Object.defineProperty(globalThis, "Date", { value: KernelDate, writable: true, configurable: true });

let pool = new Uint8Array(0);
let at = 0;
function take(n) {
  if (at + n > pool.length) { pool = new Uint8Array(randomBytes(512)); at = 0; }
  const out = pool.subarray(at, at + n);
  at += n;
  return out;
}
Math.random = function random() {
  const b = take(7);
  let x = b[0] & 0x1f; // 5 bits, then 48 more: 53 random bits
  for (let i = 1; i < 7; i++) x = x * 256 + b[i];
  return x / 2 ** 53;
};
`;

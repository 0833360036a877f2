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

/**
 * The most UTF-16 units of a thrown value's name or message that either engine reads: one more
 * than the 4096 reported, so that a cut shows.
 */
export const MAX_THROWN_TEXT = 4097;

/**
 * A guest-side function (source text, an expression) that describes a thrown value as
 * `[kind, name, message, internalError]` without running any guest code: no getter, setter,
 * Proxy trap, `toString`, `valueOf` or `Symbol.toPrimitive`. It must be evaluated before any
 * agent code runs, so that every function it uses is the original.
 *
 * `kind` is "error" for a genuine Error object (`Error.isError`, which is never true of a
 * Proxy), "null", or the value's typeof ("object" for any other object, which could be a Proxy:
 * it is not looked into). Of an Error, only its own data properties are read, through
 * descriptors, and of its prototypes only the built-in error prototypes (any other object could
 * be a Proxy). `name` and `message` are strings (cut to `maxLength` units), `null` when present
 * but not a plain string, or undefined when absent; a thrown string is its own `message`.
 * `internalError` says whether the Error's prototype is the built-in InternalError.prototype.
 */
export function describeThrownSource(maxLength: number): string {
  return `(() => {
  "use strict";
  const MAX = ${maxLength};
  const own = Object.getOwnPropertyDescriptor, protoOf = Object.getPrototypeOf, hasOwn = Object.hasOwn;
  const isError = typeof Error.isError === "function" ? Error.isError : () => false;
  const apply = Reflect.apply, slice = String.prototype.slice;
  const builtins = [];
  for (const name of ["Error", "TypeError", "RangeError", "SyntaxError", "ReferenceError", "EvalError", "URIError", "InternalError", "AggregateError"]) {
    if (typeof globalThis[name] === "function") builtins[builtins.length] = globalThis[name].prototype;
  }
  const internal = typeof InternalError === "function" ? InternalError.prototype : undefined;
  const cut = (s) => (s.length > MAX ? apply(slice, s, [0, MAX]) : s);
  const isBuiltin = (p) => {
    for (let i = 0; i < builtins.length; i++) if (builtins[i] === p) return true;
    return false;
  };
  const data = (o, key) => {
    try {
      const d = own(o, key);
      if (d === undefined) return undefined;
      return hasOwn(d, "value") && typeof d.value === "string" ? cut(d.value) : null;
    } catch {
      return null;
    }
  };
  return (v) => {
    if (v === null) return ["null"];
    const kind = typeof v;
    if (kind === "string") return [kind, undefined, cut(v), false];
    if (kind !== "object") return [kind];
    if (!isError(v)) return ["object"];
    const message = data(v, "message");
    let name = data(v, "name");
    const proto = protoOf(v);
    for (let p = proto; name === undefined && isBuiltin(p); p = protoOf(p)) name = data(p, "name");
    return ["error", name, message, proto === internal];
  };
})()`;
}

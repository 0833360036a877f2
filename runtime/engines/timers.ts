/**
 * The guest side of timers, as source text for the preludes.
 *
 * QuickJS has no timers: `QUICKJS_TIMERS` is an expression, a function that installs
 * `setTimeout`, `setInterval`, `clearTimeout` and `clearInterval` (and `queueMicrotask`, which
 * QuickJS lacks too: a job of the engine's own queue) over three private host
 * functions (`base`: the time a delay counts from; `wait`: waits until a time; `register`: hands
 * the host the function that runs the next timer turn). The engine's job loop calls that turn when
 * no job is left and the run is still pending: it waits for the timer due first (by due time,
 * then the order timers were set, as StarlingMonkey's loop picks them) and calls it; the engine
 * drains the microtasks before the next turn.
 *
 * StarlingMonkey has its own timers (over WASI clocks the component engine backs with the
 * kernel's): `COMPONENT_TIMERS` only makes them refuse a callback that is not a function with a
 * TypeError (no string of code is ever run) and call it with `this` the global object, as QuickJS's do.
 *
 * On both: delays are converted as browsers do (ToInt32; negative or NaN is 0), ids count up
 * from 1 across both kinds, an interval is set again after its callback returns (counting from
 * then), and clearing works from inside a callback.
 */

export const QUICKJS_TIMERS = `(function installTimers(host) {
  "use strict";
  const timers = new Map();
  let nextId = 1, nextSeq = 0;
  const schedule = (timer) => {
    timer.due = host.base() + BigInt(timer.delay) * 1000000n;
    timer.seq = nextSeq++;
  };
  const define = (name, repeat) => {
    const set = { [name](handler, timeout, ...args) {
      if (typeof handler !== "function") throw new TypeError(name + ": the callback must be a function (a string of code is not run)");
      const delay = Math.max(0, timeout | 0);
      const timer = { id: nextId++, handler, args, repeat, delay, due: 0n, seq: 0 };
      schedule(timer);
      timers.set(timer.id, timer);
      return timer.id;
    } }[name];
    Object.defineProperty(globalThis, name, { value: set, writable: true, configurable: true });
  };
  const clear = (name) => {
    const fn = { [name](id) { timers.delete(id | 0); } }[name];
    Object.defineProperty(globalThis, name, { value: fn, writable: true, configurable: true });
  };
  define("setTimeout", false);
  define("setInterval", true);
  clear("clearTimeout");
  clear("clearInterval");
  if (typeof globalThis.queueMicrotask !== "function") {
    const resolved = Promise.resolve(), then = Promise.prototype.then, apply = Reflect.apply;
    const queueMicrotask = { queueMicrotask(callback) {
      if (typeof callback !== "function") throw new TypeError("queueMicrotask: the callback must be a function");
      apply(then, resolved, [() => { callback(); }]);
    } }.queueMicrotask;
    Object.defineProperty(globalThis, "queueMicrotask", { value: queueMicrotask, writable: true, configurable: true });
  }
  host.register(function turn() {
    let next;
    for (const timer of timers.values()) {
      if (next === undefined || timer.due < next.due || (timer.due === next.due && timer.seq < next.seq)) next = timer;
    }
    if (next === undefined) return false;
    host.wait(next.due);
    if (!next.repeat) timers.delete(next.id);
    Reflect.apply(next.handler, globalThis, next.args);
    if (next.repeat && timers.get(next.id) === next) schedule(next);
    return true;
  });
})`;

export const COMPONENT_TIMERS = `for (const name of ["setTimeout", "setInterval"]) {
  const native = globalThis[name];
  const set = { [name](handler, timeout, ...args) {
    if (typeof handler !== "function") throw new TypeError(name + ": the callback must be a function (a string of code is not run)");
    return native(function () { return Reflect.apply(handler, globalThis, args); }, timeout);
  } }[name];
  Object.defineProperty(globalThis, name, { value: set, writable: true, configurable: true });
}
`;

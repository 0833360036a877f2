// One agent for the engine tests (test/kernel/strings.test.ts, memory.test.ts, thrown.test.ts):
// the task's first word picks a behaviour and the rest (up to the end, NUL characters
// included) is its argument, so both engines run the same source from one component build.
import { readText, writeText } from "agentos:kernel/fs";
import { write } from "agentos:kernel/log";
import { checkpoint } from "agentos:kernel/process";

/** A host call that shows up in the log: any of them after the run's end is a leak. */
function leak(where) {
  write("warn", "leak: " + where, []);
  return "leaked " + where;
}

const traps = {
  get: (t, k) => leak("proxy get " + String(k)),
  getOwnPropertyDescriptor: () => leak("proxy getOwnPropertyDescriptor"),
  getPrototypeOf: () => (leak("proxy getPrototypeOf"), Error.prototype),
  has: () => (leak("proxy has"), true),
  ownKeys: () => (leak("proxy ownKeys"), []),
};

const primitives = {
  toString: () => leak("toString"),
  valueOf: () => leak("valueOf"),
  [Symbol.toPrimitive]: () => leak("toPrimitive"),
};

/** Thrown values that would run guest code if the kernel formatted them the naive way. */
const thrown = {
  "own-getters": () => {
    const e = new Error("plain");
    for (const key of ["message", "name", "stack", "cause"]) Object.defineProperty(e, key, { get: () => leak("own " + key), configurable: true });
    return e;
  },
  "proto-getters": () => {
    class Sneaky extends Error {
      get message() { return leak("proto message"); }
      get name() { return leak("proto name"); }
      get stack() { return leak("proto stack"); }
    }
    return new Sneaky();
  },
  "builtin-proto-getter": () => {
    Object.defineProperty(TypeError.prototype, "name", { get: () => leak("TypeError.prototype.name"), configurable: true });
    return new TypeError("typed");
  },
  proxy: () => new Proxy(new Error("proxied"), traps),
  "proxy-prototype": () => Object.setPrototypeOf(new Error("behind a proxy"), new Proxy(Error.prototype, traps)),
  "to-primitive": () => ({ ...primitives, message: "an object" }),
  "error-to-primitive": () => Object.assign(new RangeError("ranged"), primitives),
  function: () => Object.assign(function thrower() { return leak("called"); }, primitives),
  string: () => "just a string",
  number: () => 42,
  null: () => null,
};

/** Ways to run out of memory (the limit is the test's): none of them catches it. */
const oom = {
  promises: () => {
    const a = [];
    for (;;) a.push(new Promise(() => {}));
  },
  closures: () => {
    const a = [];
    for (let i = 0; ; i++) a.push(() => i);
  },
  "async-functions": async () => {
    const a = [];
    for (;;) a.push((async () => { await null; })());
  },
  "rejected-promises": () => {
    const a = [];
    for (;;) a.push(Promise.reject(new Error("never handled")));
  },
  "awaiting-objects": async () => {
    const a = [];
    for (;;) {
      a.push({ n: a.length });
      if (a.length % 1000 === 0) await null;
    }
  },
  "global-arrays": () => {
    globalThis.hoard = [];
    for (;;) globalThis.hoard.push([1, 2, 3]);
  },
};

const behaviours = {
  echo: (arg) => arg,
  read: (path) => JSON.stringify(readText(path)),
  "read-raw": (path) => readText(path),
  write: (arg) => {
    const [path, text] = JSON.parse(arg);
    writeText(path, text, false);
    return "written";
  },
  log: (message) => {
    write("info", message, [["field", message]]);
    return "logged";
  },
  checkpoint: (label) => {
    checkpoint(label);
    return "checkpointed";
  },
  denied: (path) => {
    try {
      readText(path);
      return "read?!";
    } catch (e) {
      return JSON.stringify([e.message, e.payload]);
    }
  },
  "throw-error": (message) => {
    throw new Error(message);
  },
  "throw-string": (message) => {
    throw message;
  },
  throw: (shape) => {
    write("info", "before " + shape, []);
    throw thrown[shape]();
  },
  "reject": async (shape) => {
    write("info", "before " + shape, []);
    await null;
    throw thrown[shape]();
  },
  oom: (shape) => oom[shape](),
  probe: () => JSON.stringify({ isError: typeof Error.isError }),
};

export function run(task) {
  const space = task.indexOf(" ");
  const name = space < 0 ? task : task.slice(0, space);
  const arg = space < 0 ? "" : task.slice(space + 1);
  const behaviour = behaviours[name];
  if (!behaviour) throw new Error("unknown behaviour " + name);
  return behaviour(arg);
}

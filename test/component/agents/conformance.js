// One agent for the conformance suite (test/component/conformance.test.ts): the task's first
// word picks a behaviour, so both engines run the same source and the component engine needs
// one build for all of them.
import { log, signals } from "agent-os/guest";
import { write } from "agentos:kernel/log";

function sum(n) {
  let total = 0;
  for (let i = 0; i < n; i++) total += i % 7;
  return String(total);
}

const behaviours = {
  count: (n) => sum(Number(n)),
  spin: () => {
    let n = 0;
    while (true) n++;
  },
  polite: async () => {
    for (let i = 0; ; i++) {
      if ((await signals.pending()) === "SIGTERM") {
        try {
          await log.info("finishing");
          return "logged after SIGTERM?!";
        } catch (e) {
          return "terminated: " + e.kind;
        }
      }
      for (let j = 0; j < 10000; j++);
    }
  },
  deep: () => {
    const f = (n) => (n === 0 ? 0 : 1 + f(n - 1));
    return String(f(1e7));
  },
  nested: () => {
    let o = {};
    for (let i = 0; i < 1e6; i++) o = { o };
    return JSON.stringify(o);
  },
  bytes: () => {
    const h = [];
    for (;;) h.push(new Uint8Array(1 << 20));
  },
  arrays: () => {
    const h = [];
    for (;;) h.push(new Array(1 << 16).fill(h.length));
  },
  strings: () => {
    const h = [];
    for (;;) h.push("x".repeat(1 << 16) + h.length);
  },
  careful: () => {
    let h = [];
    try {
      for (;;) h.push(new Uint8Array(1 << 20));
    } catch (e) {
      h = [];
      return "recovered: " + String((e && e.message) || e);
    }
  },
  flood: () => {
    for (;;) {
      try {
        write("info", "x", []);
      } catch (e) {}
    }
  },
  big: () => "x".repeat(5000),
  time: () => {
    const b = new Uint8Array(4);
    crypto.getRandomValues(b);
    return JSON.stringify([Date.now(), new Date().getFullYear(), Math.random(), b.length]);
  },
  // Works until the kernel's clock moves (each Date.now() is a clock.now host call), so the
  // test decides how long it runs.
  "until-the-clock-moves": () => {
    const start = Date.now();
    while (Date.now() === start) for (let i = 0; i < 10000; i++);
    return "the clock moved";
  },
  throws: () => {
    throw new TypeError("thrown on purpose");
  },
  number: () => 42,
};

export async function run(task) {
  const [name, ...args] = task.split(" ");
  const behaviour = behaviours[name];
  if (!behaviour) throw new Error(`unknown behaviour ${name}`);
  return behaviour(...args);
}

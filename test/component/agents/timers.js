// Timers on both engines: the task picks what the agent does. Every timer callback writes a log
// line (a host call), so that each timer turn makes exactly one clock call whatever the machine's
// speed, and the recorded calls can be compared between the engines.
import { write } from "agentos:kernel/log";

const mark = (message) => write("info", message, []);

async function main() {
  const order = [];
  const note = (what) => {
    order.push(what);
    mark(what);
  };
  // Set back to back with no host call between them: one clock reading counts for all.
  setTimeout(() => {
    note("t0-a");
    Promise.resolve().then(() => note("microtask after t0-a"));
  }, 0);
  setTimeout(() => note("t0-b (negative delay)"), -5);
  setTimeout(() => note("t0-c (NaN delay)"), NaN);
  setTimeout(
    function (a, b) {
      note(`t1 args ${a}${b} this-is-global ${this === globalThis}`);
    },
    "1",
    "x",
    "y",
  );
  const victim = setTimeout(() => note("never: cleared"), 3);
  setTimeout(() => {
    clearTimeout(victim);
    note("t2 clears t3");
  }, 2);
  setTimeout(() => note("t4"), 4.9);
  Promise.resolve().then(() => order.push("microtask before timers"));
  await new Promise((resolve) =>
    setTimeout(() => {
      note("t10");
      resolve();
    }, 10),
  );

  let ticks = 0;
  await new Promise((resolve) => {
    const interval = setInterval(() => {
      ticks++;
      mark(`tick ${ticks}`);
      if (ticks === 3) {
        clearInterval(interval);
        resolve();
      }
    }, 2);
  });

  const first = setTimeout(() => mark("never: cleared at once"), 0);
  const second = setInterval(() => mark("never: cleared at once"), 0);
  clearTimeout(first);
  clearInterval(second);
  let refused = "";
  try {
    setTimeout("globalThis.evaluated = true", 0);
  } catch (error) {
    refused = error.name;
  }
  return JSON.stringify({ order, ticks, ids: [first > 0, second === first + 1], refused, evaluated: globalThis.evaluated === true });
}

export async function run(task) {
  switch (task) {
    case "outlive":
      setTimeout(() => mark("late: fired after the run"), 200);
      setInterval(() => mark("late: interval after the run"), 50);
      return "returned";
    case "only-timer":
      return new Promise((resolve) => setTimeout(() => resolve("settled by a timer"), 5));
    case "sleep":
      await new Promise((resolve) => setTimeout(resolve, 60_000));
      return "woke up";
    case "slow":
      await new Promise((resolve) => setTimeout(() => (mark("slow"), resolve()), 1500));
      return "slow done";
    default:
      return main();
  }
}

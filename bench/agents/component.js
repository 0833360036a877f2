// The component benchmark's agent (bench/component.ts): the task picks what it does.
import { write } from "agentos:kernel/log";

export function run(task) {
  const [what, n] = task.split(" ");
  if (what === "first") {
    write("info", "x", []);
    return "";
  }
  if (what === "chatty") {
    for (let i = 0; i < Number(n); i++) write("info", "x", []);
    return "";
  }
  if (what === "compute") {
    // Compute-bound: arithmetic, calls, objects and strings, no host calls.
    const fib = (k) => (k < 2 ? k : fib(k - 1) + fib(k - 2));
    let acc = 0;
    for (let i = 0; i < Number(n); i++) {
      const o = { i, s: "v" + (i % 97) };
      acc = (acc + o.s.length * 31 + (o.i % 13)) % 1000003;
    }
    return String(acc + fib(22));
  }
  // "spin": one call on entering the loop, so that the bench knows the agent is in it.
  write("info", "spinning", []);
  for (;;);
}

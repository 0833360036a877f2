// A hostile agent for the component engine: it tries every ambient route the StarlingMonkey
// environment has (network, clock, randomness, timers, console, dynamic import) and reports what
// each one gave it. The task is JSON: { "url": a loopback URL that only the kernel's own http
// capability may reach (the control: the one allowed way out, through the gate).
import { http } from "agent-os/guest";

async function attempt(out, name, fn) {
  try {
    out[name] = { ok: true, value: await fn() };
  } catch (error) {
    out[name] = { ok: false, error: String((error && error.message) || error) };
  }
}

export async function run(task) {
  const { url } = JSON.parse(task);
  const out = {};
  await attempt(out, "typeof fetch", () => typeof fetch);
  await attempt(out, "fetch", () => fetch(url).then((r) => r.status));
  await attempt(out, "Request", () => new Request(url).url);
  await attempt(out, "typeof XMLHttpRequest", () => typeof XMLHttpRequest);
  await attempt(out, "typeof WebSocket", () => typeof WebSocket);
  await attempt(out, "Date.now", () => Date.now());
  await attempt(out, "new Date", () => new Date().getTime());
  await attempt(out, "Date via its prototype", () => new (Object.getPrototypeOf(new Date()).constructor)().getTime());
  await attempt(out, "Math.random", () => [Math.random(), Math.random()]);
  await attempt(out, "crypto.getRandomValues", () => Array.from(crypto.getRandomValues(new Uint8Array(8))));
  await attempt(out, "crypto.randomUUID", () => crypto.randomUUID());
  await attempt(out, "typeof crypto.subtle", () => typeof crypto.subtle);
  await attempt(out, "performance.now", () => performance.now());
  await attempt(out, "console", () => {
    console.log("ambient-console-leak", url);
    console.error("ambient-console-leak");
    return typeof console;
  });
  await attempt(out, "typeof setTimeout", () => typeof setTimeout);
  await attempt(out, "import node:http", () => import("node:http").then(() => "IMPORTED"));
  await attempt(out, "typeof process", () => typeof process);
  await attempt(out, "kernel http.fetch", () => http.fetch(url).then((r) => r.status));
  return JSON.stringify(out);
}

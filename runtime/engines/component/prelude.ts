/**
 * What `agent-os build` bundles around an agent: a prelude that runs before it, and the `run`
 * export the component world declares.
 *
 * The component is built with every WASI feature but `clocks` disabled, so StarlingMonkey's
 * randomness repeats on every run and `fetch` traps. The prelude replaces `Date`, randomness
 * and `performance`, as the QuickJS engine's prelude does, with the kernel's `clock` and
 * `random` imports (gated by the policy and recorded in the log), or removes them. Its timers
 * stay (their WASI clock is the kernel's: wasi.ts), wrapped to behave as QuickJS's: the same
 * agent makes the same host calls on both engines.
 */
import { OPS, camelCase } from "../../kernel/ops.js";
import { KERNEL_TIME_AND_RANDOM, MAX_THROWN_TEXT, describeThrownSource } from "../kernel-globals.js";
import { COMPONENT_TIMERS } from "../timers.js";
import { WIT_PACKAGE, WIT_VERSION } from "./world.js";
import { webPreludeComponent } from "../web/component.js";

export const PRELUDE_SPECIFIER = "agentos:prelude";
export const KERNEL_CALL_SPECIFIER = "agentos:kernel-call";
/** Marks the WIT import itself, as opposed to the wrapper every other import gets. */
export const RAW_SUFFIX = "#raw";

/**
 * Calls a WIT import, turning its `err` into the error QuickJS gives for one: an Error named
 * ComponentError whose message says the case and the reason, with the WIT value as `payload`.
 * (componentize-js's own error says "[object Object] (see error.payload)".)
 */
export const KERNEL_CALL = `
export function call(fn, args) {
  try {
    return fn(...args);
  } catch (e) {
    const payload = e !== null && typeof e === "object" ? e.payload : undefined;
    if (payload === null || typeof payload !== "object" || typeof payload.tag !== "string") throw e;
    const val = payload.val;
    const error = new Error(payload.tag + ": " + (typeof val === "string" ? val : val && val.reason));
    error.name = "ComponentError";
    error.payload = payload;
    throw error;
  }
}
`;

/** The module an agent (or the SDK, or the prelude) gets for \`agentos:kernel/<iface>\`. */
export function kernelInterface(specifier: string): string {
  const iface = specifier.slice(`${WIT_PACKAGE}/`.length).split("@")[0];
  // (the kernel's call helper under a name no WIT function has: `tools` has a `call` of its own)
  const lines = [`import { call as kernelCall$ } from ${JSON.stringify(KERNEL_CALL_SPECIFIER)};`, `import * as raw from ${JSON.stringify(specifier + RAW_SUFFIX)};`];
  for (const op of Object.keys(OPS)) {
    const [owner, fn] = op.split(".");
    if (owner === iface) lines.push(`export function ${camelCase(fn)}(...args) { return kernelCall$(raw.${camelCase(fn)}, args); }`);
  }
  return lines.join("\n") + "\n";
}

/** What the wrapper throws when the agent has no `run` export (the kernel names the agent). */
export const NO_RUN = "\u0000agentos:no-run";
/** What the wrapper throws for SpiderMonkey's out-of-memory (a bare string there). */
export const OUT_OF_MEMORY = "InternalError: out of memory";


export const PRELUDE = `
import { now, monotonicNow } from "agentos:kernel/clock@${WIT_VERSION}";
import { bytes as randomBytes } from "agentos:kernel/random@${WIT_VERSION}";

${KERNEL_TIME_AND_RANDOM}function getRandomValues(array) {
  if (!ArrayBuffer.isView(array)) throw new TypeError("getRandomValues needs a typed array");
  if (array.byteLength > 65536) throw new RangeError("getRandomValues: at most 65536 bytes");
  const bytes = new Uint8Array(randomBytes(array.byteLength));
  new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(bytes);
  return array;
}
function randomUUID() {
  const b = new Uint8Array(randomBytes(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
}
// StarlingMonkey's crypto (and crypto.subtle) draws on its build-time generator: replaced whole.
Object.defineProperty(globalThis, "crypto", { value: { getRandomValues, randomUUID }, writable: true, configurable: true });

const performance = {
  now() { return Number(monotonicNow()) / 1e6; },
  get timeOrigin() { return nowMs() - this.now(); },
};
Object.defineProperty(globalThis, "performance", { value: performance, writable: true, configurable: true });

// No network: these would trap the instance (their WASI features are disabled).
for (const name of ["fetch", "Request", "Response", "Headers"]) {
  delete globalThis[name];
}
${COMPONENT_TIMERS}

${webPreludeComponent(WIT_VERSION)}
// Made here, before the agent's module runs: the agent cannot replace what it uses.
export const describeThrown = ${describeThrownSource(MAX_THROWN_TEXT)};
`;

/** The bundle's entry: the prelude first, then the agent, wrapped as the world's `run` export. */
export function entrySource(agentPath: string): string {
  return `import { describeThrown } from ${JSON.stringify(PRELUDE_SPECIFIER)};
import * as agent from ${JSON.stringify(agentPath)};

// The run's error, as the QuickJS engine describes it (the WIT export's err is a string), read
// without running any of the agent's code: no getter, no Proxy trap, no toString.
function describe(error) {
  const d = describeThrown(error);
  const kind = d[0], name = d[1], message = d[2];
  if (kind === "string") return message === "out of memory" ? ${JSON.stringify(OUT_OF_MEMORY)} : message;
  if (kind === "error") {
    if (d[3] && (message === "out of memory" || typeof message !== "string")) return ${JSON.stringify(OUT_OF_MEMORY)};
    const text = message || "the agent threw an Error without a plain message";
    return typeof name === "string" && name !== "" ? name + ": " + text : text;
  }
  if (kind === "object") return "the agent threw an object that is not an Error";
  return "the agent threw " + (kind === "undefined" || kind === "null" ? kind : "a " + kind);
}

export async function run(task) {
  let value;
  try {
    if (typeof agent.run !== "function") throw ${JSON.stringify(NO_RUN)};
    value = await agent.run(task);
  } catch (error) {
    throw describe(error);
  }
  if (typeof value !== "string") throw "run() must return a string (or a promise of one), not " + typeof value;
  return value;
}
`;
}

/**
 * The modules a QuickJS guest can import, as source text, and the prelude that replaces the
 * guest's clock and randomness with kernel-backed ones.
 *
 * The host functions reach the guest through one global that the first module evaluated
 * (`agentos:kernel/_host`) takes and deletes before any agent code runs.
 */
import { INTERFACES, OPS, camelCase } from "../../kernel/ops.js";
import { KERNEL_TIME_AND_RANDOM } from "../kernel-globals.js";
import { WEB_PRELUDE_QUICKJS } from "../web/quickjs.js";
import { QUICKJS_TIMERS } from "../timers.js";
import { TIMER_HOST_GLOBAL } from "./timers.js";

export const HOST_GLOBAL = "__agentos_host";
export const HOST_MODULE = "agentos:kernel/_host";
export const SDK_SPECIFIER = "agent-os/guest";
export const WIT_VERSION = "0.1.0";

const hostModule = `
const host = globalThis.${HOST_GLOBAL};
delete globalThis.${HOST_GLOBAL};
export default host;
`;

function interfaceModule(iface: string): string {
  const lines = [`import host from "${HOST_MODULE}";`];
  for (const op of Object.keys(OPS)) {
    const [owner, fn] = op.split(".");
    if (owner === iface) lines.push(`export const ${camelCase(fn)} = host[${JSON.stringify(op)}];`);
  }
  return lines.join("\n");
}

/**
 * Runs before the agent: `Date`, `Math.random` and `crypto.getRandomValues` read the kernel's
 * clock and random imports (so they are gated, logged, and replayed), and the original
 * constructors become unreachable.
 */
export const PRELUDE = `
import host from "${HOST_MODULE}";
const now = host["clock.now"];
const randomBytes = host["random.bytes"];
const timerHost = globalThis.${TIMER_HOST_GLOBAL};
delete globalThis.${TIMER_HOST_GLOBAL};
// (no timers where there is no host to wait on: the kernel reading an agent's inputSchema)
if (timerHost !== undefined) ${QUICKJS_TIMERS}(timerHost);
${KERNEL_TIME_AND_RANDOM}const crypto = {
  getRandomValues(array) {
    if (!ArrayBuffer.isView(array)) throw new TypeError("getRandomValues needs a typed array");
    if (array.byteLength > 65536) throw new RangeError("getRandomValues: at most 65536 bytes");
    const bytes = new Uint8Array(randomBytes(array.byteLength));
    new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(bytes);
    return array;
  },
  randomUUID() {
    const b = new Uint8Array(randomBytes(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  },
};
Object.defineProperty(globalThis, "crypto", { value: crypto, writable: true, configurable: true });

${WEB_PRELUDE_QUICKJS}`;

/** The kernel interfaces' plain specifiers ("agentos:kernel/log"). */
const PLAIN_SPECIFIERS = new Set(INTERFACES.map((iface) => `agentos:kernel/${iface}`));

/**
 * The specifier a kernel interface is loaded under: the plain spelling becomes the versioned
 * one the SDK imports, so that both are one module (already evaluated in a prepared instance,
 * where the SDK was). Any other specifier is itself.
 */
export function moduleSpecifier(requested: string): string {
  return PLAIN_SPECIFIERS.has(requested) ? `${requested}@${WIT_VERSION}` : requested;
}

/** The interfaces' modules, made once (every engine instance's loader starts from them). */
let interfaceModules: [string, string][] | undefined;

/** The built-in modules by specifier (both the versioned and the plain spelling): a new map each time. */
export function kernelModules(sdkSource: string): Map<string, string> {
  interfaceModules ??= INTERFACES.flatMap((iface): [string, string][] => {
    const source = interfaceModule(iface);
    return [
      [`agentos:kernel/${iface}`, source],
      [`agentos:kernel/${iface}@${WIT_VERSION}`, source],
    ];
  });
  return new Map<string, string>([[HOST_MODULE, hostModule], [SDK_SPECIFIER, sdkSource], ...interfaceModules]);
}

/**
 * Wraps a registered function's source as an agent module: `run(task)` calls it with the task
 * and the guest SDK.
 */
export function functionModule(source: string): string {
  return `import * as __agentos from "${SDK_SPECIFIER}";
const __agent = (${source}
);
export function run(task) { return __agent(task, __agentos); }
`;
}

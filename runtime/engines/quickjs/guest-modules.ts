/**
 * The modules a QuickJS guest can import, as source text, and the prelude that replaces the
 * guest's clock and randomness with kernel-backed ones.
 *
 * The host functions reach the guest through one global that the first module evaluated
 * (`agentos:kernel/_host`) takes and deletes before any agent code runs.
 */
import { INTERFACES, OPS, camelCase } from "../../kernel/ops.js";
import { KERNEL_TIME_AND_RANDOM } from "../kernel-globals.js";
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
};
Object.defineProperty(globalThis, "crypto", { value: crypto, writable: true, configurable: true });

// QuickJS has no TextEncoder/TextDecoder (the component engine has them): UTF-8 only.
if (typeof globalThis.TextEncoder !== "function") {
  class TextEncoder {
    get encoding() { return "utf-8"; }
    encode(input = "") {
      const s = String(input), out = [];
      for (let i = 0; i < s.length; i++) {
        let c = s.codePointAt(i);
        if (c > 0xffff) i++;
        else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
        if (c < 0x80) out.push(c);
        else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
        else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
        else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      }
      return new Uint8Array(out);
    }
  }
  class TextDecoder {
    get encoding() { return "utf-8"; }
    decode(input) {
      if (input === undefined) return "";
      const b = input instanceof Uint8Array ? input : ArrayBuffer.isView(input)
        ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : new Uint8Array(input);
      let out = "";
      for (let i = 0; i < b.length;) {
        const x = b[i];
        let c = 0xfffd, n = 1;
        if (x < 0x80) c = x;
        else if (x >= 0xc2 && x < 0xe0 && (b[i + 1] & 0xc0) === 0x80) { c = ((x & 31) << 6) | (b[i + 1] & 63); n = 2; }
        else if (x >= 0xe0 && x < 0xf0 && (b[i + 1] & 0xc0) === 0x80 && (b[i + 2] & 0xc0) === 0x80) {
          c = ((x & 15) << 12) | ((b[i + 1] & 63) << 6) | (b[i + 2] & 63); n = 3;
          if (c < 0x800 || (c >= 0xd800 && c <= 0xdfff)) c = 0xfffd;
        } else if (x >= 0xf0 && x < 0xf5 && (b[i + 1] & 0xc0) === 0x80 && (b[i + 2] & 0xc0) === 0x80 && (b[i + 3] & 0xc0) === 0x80) {
          c = ((x & 7) << 18) | ((b[i + 1] & 63) << 12) | ((b[i + 2] & 63) << 6) | (b[i + 3] & 63); n = 4;
          if (c < 0x10000 || c > 0x10ffff) c = 0xfffd;
        }
        out += String.fromCodePoint(c);
        i += n;
      }
      return out;
    }
  }
  Object.defineProperty(globalThis, "TextEncoder", { value: TextEncoder, writable: true, configurable: true });
  Object.defineProperty(globalThis, "TextDecoder", { value: TextDecoder, writable: true, configurable: true });
}
`;

/** The built-in modules by specifier (both the versioned and the plain spelling). */
export function kernelModules(sdkSource: string): Map<string, string> {
  const modules = new Map<string, string>([
    [HOST_MODULE, hostModule],
    [SDK_SPECIFIER, sdkSource],
  ]);
  for (const iface of INTERFACES) {
    const source = interfaceModule(iface);
    modules.set(`agentos:kernel/${iface}`, source);
    modules.set(`agentos:kernel/${iface}@${WIT_VERSION}`, source);
  }
  return modules;
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

/**
 * The Web platform on the QuickJS engine. The prelude gives every Web global as an accessor on
 * globalThis that, on first use, evaluates its group's source (a bundle of guest-web/) and then
 * becomes a plain data property: an agent that uses no Web global pays for none of them.
 *
 * The sources reach the guest through one function (`__agentos_web`, taken and deleted by the
 * prelude before any agent code runs) that returns the kernel's own code by group name: it
 * reads nothing of the host's and is not a kernel call, as the module loader is not.
 */
import type { QuickJSContext, QuickJSHandle } from "quickjs-emscripten";
import { newString, readString } from "../quickjs/strings.js";
import { WEB_GROUPS, groupOfName } from "./groups.js";

export const WEB_SOURCE_GLOBAL = "__agentos_web";

const UTF8 = new TextEncoder();

/** A group's source by name (see sources.ts); none: this host has no bundles of guest-web/. */
let sourceOf: ((group: string) => string) | undefined;

/** Sets where the groups' sources come from (the Node host bundles them with esbuild). */
export function setWebSources(source: (group: string) => string): void {
  sourceOf = source;
}
/** The engine's UTF-8 converter for TextEncoder/TextDecoder, taken and deleted by the prelude like the loader. */
export const UTF8_GLOBAL = "__agentos_utf8";

/**
 * Defines the function the prelude takes to read a group's source.
 * @example installWebLoader(ctx); // before evaluating the prelude
 */
export function installWebLoader(ctx: QuickJSContext): void {
  const fn = ctx.newFunction(WEB_SOURCE_GLOBAL, (groupHandle) => {
    const group = ctx.typeof(groupHandle) === "string" ? ctx.getString(groupHandle) : "";
    if (!Object.hasOwn(WEB_GROUPS, group)) return { error: ctx.newError(`no Web group ${JSON.stringify(group)}`) };
    if (!sourceOf) return { error: ctx.newError(`the Web global's group ${JSON.stringify(group)} is not available on this host`) };
    return ctx.newString(sourceOf(group));
  });
  ctx.defineProp(ctx.global, WEB_SOURCE_GLOBAL, { value: fn, configurable: true, enumerable: false });
  fn.dispose();
  installUtf8(ctx);
}

/**
 * `encode(string) -> ArrayBuffer` and `decode(ArrayBuffer, fatal) -> string | undefined`: UTF-8
 * as the Encoding standard has it (an unpaired surrogate encodes as U+FFFD; a malformed sequence
 * decodes as U+FFFD, or to undefined when `fatal`). Pure conversions of the values given: they
 * read nothing of the host's and are not kernel calls. A byte-by-byte loop in the interpreter
 * costs about half a microsecond a byte; these cost a copy.
 */
function installUtf8(ctx: QuickJSContext): void {
  const utf8 = ctx.newObject();
  const encode = ctx.newFunction("encode", (text) => {
    if (ctx.typeof(text) !== "string") return { error: ctx.newError("TextEncoder: not a string") };
    try {
      return ctx.newArrayBuffer(UTF8.encode(readString(ctx, text)).buffer);
    } catch {
      return { error: ctx.newError("TextEncoder: the string could not be encoded (the guest's heap is full?)") };
    }
  });
  const decode = ctx.newFunction("decode", (buffer, fatal) => {
    let bytes: Uint8Array;
    try {
      bytes = copyBuffer(ctx, buffer);
    } catch {
      return { error: ctx.newError("TextDecoder: not an ArrayBuffer") };
    }
    const strict = ctx.typeof(fatal) === "boolean" && ctx.dump(fatal) === true;
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: strict, ignoreBOM: true }).decode(bytes);
    } catch {
      return ctx.undefined;
    }
    try {
      return newString(ctx, text);
    } catch {
      return { error: ctx.newError("TextDecoder: the string could not be made (the guest's heap is full?)") };
    }
  });
  ctx.setProp(utf8, "encode", encode);
  ctx.setProp(utf8, "decode", decode);
  encode.dispose();
  decode.dispose();
  ctx.defineProp(ctx.global, UTF8_GLOBAL, { value: utf8, configurable: true, enumerable: false });
  utf8.dispose();
}

/** A copy of a guest ArrayBuffer's bytes. @throws when `handle` is not an ArrayBuffer */
function copyBuffer(ctx: QuickJSContext, handle: QuickJSHandle): Uint8Array {
  const lifetime = ctx.getArrayBuffer(handle);
  try {
    return new Uint8Array(lifetime.value);
  } finally {
    lifetime.dispose();
  }
}

/**
 * The part of the QuickJS prelude that installs the Web globals (lazily) and queueMicrotask.
 * It expects `host` (the kernel's functions) in scope.
 */
export const WEB_PRELUDE_QUICKJS = `
const webSource = globalThis.${WEB_SOURCE_GLOBAL};
delete globalThis.${WEB_SOURCE_GLOBAL};
const webUtf8 = globalThis.${UTF8_GLOBAL};
delete globalThis.${UTF8_GLOBAL};
const webEval = eval;
const webKernel = Object.freeze({ httpFetch: host["http.fetch"], logWrite: host["log.write"], utf8: webUtf8 });
const webGroupOf = ${JSON.stringify(groupOfName())};
const webMade = Object.create(null);
function webNeed(name) {
  const group = webGroupOf[name];
  let made = webMade[group];
  if (made === undefined) {
    if (typeof webSource !== "function") throw new ReferenceError(name + " is not available here");
    made = webMade[group] = webEval(webSource(group)).create(webNeed, webKernel);
  }
  return made[name];
}
for (const name of Object.keys(webGroupOf)) {
  const settle = (value) => Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  Object.defineProperty(globalThis, name, {
    configurable: true,
    enumerable: false,
    get() { const value = webNeed(name); settle(value); return value; },
    set(value) { settle(value); },
  });
}
Object.defineProperty(globalThis, "queueMicrotask", {
  value: function queueMicrotask(callback) {
    if (typeof callback !== "function") throw new TypeError("queueMicrotask: the callback must be a function");
    Promise.resolve().then(() => callback());
  },
  writable: true,
  configurable: true,
});
`;

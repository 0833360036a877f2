/**
 * The Web platform on the QuickJS engine. The prelude gives every Web global as an accessor on
 * globalThis that, on first use, evaluates its group's source (a bundle of guest-web/) and then
 * becomes a plain data property: an agent that uses no Web global pays for none of them.
 *
 * The sources reach the guest through one function (`__agentos_web`, taken and deleted by the
 * prelude before any agent code runs) that returns the kernel's own code by group name: it
 * reads nothing of the host's and is not a kernel call, as the module loader is not.
 */
import type { QuickJSContext } from "quickjs-emscripten";
import { WEB_GROUPS, groupOfName } from "./groups.js";
import { webGroupSource } from "./sources.js";

export const WEB_SOURCE_GLOBAL = "__agentos_web";

/**
 * Defines the function the prelude takes to read a group's source.
 * @example installWebLoader(ctx); // before evaluating the prelude
 */
export function installWebLoader(ctx: QuickJSContext): void {
  const fn = ctx.newFunction(WEB_SOURCE_GLOBAL, (groupHandle) => {
    const group = ctx.typeof(groupHandle) === "string" ? ctx.getString(groupHandle) : "";
    if (!Object.hasOwn(WEB_GROUPS, group)) return { error: ctx.newError(`no Web group ${JSON.stringify(group)}`) };
    return ctx.newString(webGroupSource(group));
  });
  ctx.defineProp(ctx.global, WEB_SOURCE_GLOBAL, { value: fn, configurable: true, enumerable: false });
  fn.dispose();
}

/**
 * The part of the QuickJS prelude that installs the Web globals (lazily) and queueMicrotask.
 * It expects `host` (the kernel's functions) in scope.
 */
export const WEB_PRELUDE_QUICKJS = `
const webSource = globalThis.${WEB_SOURCE_GLOBAL};
delete globalThis.${WEB_SOURCE_GLOBAL};
const webEval = eval;
const webKernel = Object.freeze({ httpFetch: host["http.fetch"], logWrite: host["log.write"] });
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

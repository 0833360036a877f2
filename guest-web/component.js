/**
 * The Web platform on the component engine (StarlingMonkey), bundled into the component's
 * prelude and run at build time (no host call is made while installing). StarlingMonkey's own
 * URL, streams, structuredClone, TextEncoder, Blob, FormData, AbortController, EventTarget...
 * are kept; the kernel-backed globals (fetch, Request, Response, Headers, console) are always
 * this library's, as on QuickJS; small pure-JS groups fill in whatever the engine lacks.
 */
import * as base64 from "./base64.js";
import * as blob from "./blob.js";
import * as consoleGroup from "./console.js";
import * as encodingStreams from "./encoding-streams.js";
import * as encoding from "./encoding.js";
import * as events from "./events.js";
import * as fetchGroup from "./fetch.js";

/** Installed only where the engine has no global of that name. */
const FILL = [
  [events, ["DOMException"]],
  [encoding, ["TextEncoder", "TextDecoder"]],
  [encodingStreams, ["TextEncoderStream", "TextDecoderStream"]],
];
/**
 * Always this library's: the kernel-backed ones, and those whose StarlingMonkey versions differ
 * from the standard (its AbortController.abort() needs an argument, its btoa throws a
 * RangeError) or would make other kernel calls (a File's lastModified reads the clock), so that
 * both engines make the same calls and behave the same.
 */
const OWN = [
  [events, ["Event", "EventTarget", "AbortController", "AbortSignal", "CustomEvent"]],
  [base64, ["atob", "btoa"]],
  [blob, ["Blob", "File", "FormData"]],
  [fetchGroup, ["fetch", "Headers", "Request", "Response"]],
  [consoleGroup, ["console"]],
];

function define(name, value) {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}

/** Installs the Web globals; `kernel` holds the wrapped WIT imports `httpFetch` and `logWrite`. */
export function installWeb(kernel) {
  const engine = Object.create(null);
  for (const [, names] of FILL) for (const name of names) if (globalThis[name] !== undefined) engine[name] = globalThis[name];
  for (const name of ["URL", "URLSearchParams", "ReadableStream", "WritableStream", "TransformStream", "structuredClone"]) {
    if (globalThis[name] === undefined) throw new Error(`agent-os: the component engine has no ${name} of its own`);
    engine[name] = globalThis[name];
  }
  const made = new Map();
  const need = (name) => {
    if (name in engine) return engine[name];
    for (const [group, names] of [...FILL, ...OWN]) {
      if (!names.includes(name)) continue;
      if (!made.has(group)) made.set(group, group.create(need, kernel));
      return made.get(group)[name];
    }
    throw new ReferenceError(`${name} is not defined`);
  };
  for (const [, names] of [...FILL, ...OWN]) for (const name of names) define(name, need(name));
}

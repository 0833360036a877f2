/**
 * DOMException, Event, EventTarget, AbortController and AbortSignal: pure JS, no host call.
 * `AbortSignal.timeout(ms)` uses the engine's `setTimeout` when one exists at call time (the
 * kernel's timers); without timers its signal never aborts.
 */

const CODES = {
  IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4, InvalidCharacterError: 5,
  NoModificationAllowedError: 7, NotFoundError: 8, NotSupportedError: 9, InvalidStateError: 11,
  SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14, InvalidAccessError: 15,
  TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20, URLMismatchError: 21,
  QuotaExceededError: 22, TimeoutError: 23, InvalidNodeTypeError: 24, DataCloneError: 25,
};

export class DOMException extends Error {
  constructor(message = "", name = "Error") {
    super(String(message));
    Object.defineProperty(this, "name", { value: String(name), writable: true, configurable: true });
  }
  get code() { return CODES[this.name] ?? 0; }
}
for (const [name, code] of Object.entries(CODES)) {
  const key = name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase().replace(/_ERROR$/, "_ERR");
  Object.defineProperty(DOMException, key, { value: code, enumerable: true });
}

/** The DOMException abort reasons are made of: the engine's own where it has one. */
let DOMExceptionOf = () => DOMException;
const abortError = () => new (DOMExceptionOf())("This operation was aborted", "AbortError");

const STOP = Symbol("stop");
const CANCELED = Symbol("canceled");

export class Event {
  constructor(type, init = {}) {
    if (arguments.length === 0) throw new TypeError("Event: the type is required");
    this.type = String(type);
    this.bubbles = Boolean(init.bubbles);
    this.cancelable = Boolean(init.cancelable);
    this.composed = Boolean(init.composed);
    this.timeStamp = Date.now();
    this.target = null;
    this.currentTarget = null;
    this.isTrusted = false;
    this.eventPhase = 0;
    this[STOP] = false;
    this[CANCELED] = false;
  }
  get defaultPrevented() { return this[CANCELED]; }
  preventDefault() { if (this.cancelable) this[CANCELED] = true; }
  stopPropagation() {}
  stopImmediatePropagation() { this[STOP] = true; }
  composedPath() { return this.currentTarget ? [this.currentTarget] : []; }
}

const LISTENERS = Symbol("listeners");

function listenerOptions(options) {
  if (typeof options === "boolean") return { capture: options, once: false, signal: undefined };
  const o = options ?? {};
  return { capture: Boolean(o.capture), once: Boolean(o.once), signal: o.signal };
}

export class EventTarget {
  constructor() {
    Object.defineProperty(this, LISTENERS, { value: new Map() });
  }
  addEventListener(type, callback, options) {
    if (callback === null || callback === undefined) return;
    const { capture, once, signal } = listenerOptions(options);
    if (signal?.aborted) return;
    const key = String(type);
    let list = this[LISTENERS].get(key);
    if (!list) this[LISTENERS].set(key, (list = []));
    if (list.some((l) => l.callback === callback && l.capture === capture)) return;
    const entry = { callback, capture, once, removed: false };
    list.push(entry);
    signal?.addEventListener("abort", () => this.removeEventListener(key, callback, { capture }));
  }
  removeEventListener(type, callback, options) {
    const { capture } = listenerOptions(options);
    const list = this[LISTENERS].get(String(type));
    if (!list) return;
    const i = list.findIndex((l) => l.callback === callback && l.capture === capture);
    if (i >= 0) {
      list[i].removed = true;
      list.splice(i, 1);
    }
  }
  dispatchEvent(event) {
    if (!(event instanceof Event)) throw new TypeError("dispatchEvent needs an Event");
    event.target = this;
    event.currentTarget = this;
    event.eventPhase = 2;
    const handler = this["on" + event.type];
    const list = [...(this[LISTENERS].get(event.type) ?? [])];
    if (typeof handler === "function") list.unshift({ callback: handler, once: false, removed: false });
    for (const l of list) {
      if (l.removed) continue;
      if (l.once) this.removeEventListener(event.type, l.callback, { capture: l.capture });
      try {
        if (typeof l.callback === "function") l.callback.call(this, event);
        else l.callback.handleEvent(event);
      } catch (error) {
        reportError(error);
      }
      if (event[STOP]) break;
    }
    event.currentTarget = null;
    event.eventPhase = 0;
    return !event.defaultPrevented;
  }
}

/** A listener's exception does not stop the dispatch: it goes to the console, if any. */
function reportError(error) {
  try {
    globalThis.console?.error?.("Uncaught (in event listener)", error);
  } catch {
    // nothing: the dispatch goes on
  }
}

const SIGNAL = Symbol("signal");

export class AbortSignal extends EventTarget {
  constructor(key) {
    if (key !== SIGNAL) throw new TypeError("Illegal constructor");
    super();
    this._aborted = false;
    this._reason = undefined;
    this.onabort = null;
  }
  get aborted() { return this._aborted; }
  get reason() { return this._reason; }
  throwIfAborted() {
    if (this._aborted) throw this._reason;
  }
  static abort(reason) {
    const signal = new AbortSignal(SIGNAL);
    signal._aborted = true;
    signal._reason = reason === undefined ? abortError() : reason;
    return signal;
  }
  static timeout(ms) {
    const delay = Number(ms);
    if (!Number.isFinite(delay) || delay < 0) throw new TypeError("AbortSignal.timeout: the delay must be a non-negative number");
    const signal = new AbortSignal(SIGNAL);
    const setTimer = globalThis.setTimeout;
    if (typeof setTimer === "function") {
      setTimer(() => abortSignal(signal, new (DOMExceptionOf())("The operation timed out.", "TimeoutError")), delay);
    }
    return signal;
  }
  static any(signals) {
    const list = [...signals];
    const signal = new AbortSignal(SIGNAL);
    const done = list.find((s) => s.aborted);
    if (done) {
      signal._aborted = true;
      signal._reason = done.reason;
      return signal;
    }
    for (const s of list) s.addEventListener("abort", () => abortSignal(signal, s.reason), { once: true });
    return signal;
  }
}

/** Aborts `signal` with `reason` (once), firing its "abort" event. */
export function abortSignal(signal, reason) {
  if (signal._aborted) return;
  signal._aborted = true;
  signal._reason = reason === undefined ? abortError() : reason;
  signal.dispatchEvent(new Event("abort"));
}

export class AbortController {
  constructor() {
    this._signal = new AbortSignal(SIGNAL);
  }
  get signal() { return this._signal; }
  abort(reason) {
    abortSignal(this._signal, reason);
  }
}

export class CustomEvent extends Event {
  constructor(type, init = {}) {
    super(type, init);
    this.detail = init.detail ?? null;
  }
}

export function create(need) {
  DOMExceptionOf = () => need("DOMException");
  return { DOMException, Event, EventTarget, AbortController, AbortSignal, CustomEvent };
}

/**
 * fetch, Request and Response over the kernel's `http.fetch`: one kernel call per fetch, made
 * in a microtask after fetch() returns (so an abort in the same tick stops it before anything
 * leaves), decided by the policy and recorded in the log like any other. The kernel delivers a
 * response whole; its body is then streamed to the agent in chunks.
 */
import { BODY, BodyState, bodyMixin, extractBody } from "./body.js";
import { Headers, freezeHeaders, headerPairs, headersFromPairs, isFrozenHeaders } from "./headers.js";

const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);
const NORMALIZED_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"]);
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
const REASONS = {
  200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 301: "Moved Permanently", 302: "Found",
  303: "See Other", 304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request",
  401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
  413: "Payload Too Large", 422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
  502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
};
const INTERNAL = Symbol("internal");

/** An http(s) URL, absolute, without credentials: anything else is a TypeError, before any kernel call. */
function parseUrl(URL, input) {
  let url;
  try {
    url = new URL(String(input));
  } catch {
    throw new TypeError(`fetch: invalid URL ${JSON.stringify(String(input))} (only absolute http(s) URLs: there is no base URL here)`);
  }
  if (url.username !== "" || url.password !== "") throw new TypeError("fetch: a URL with credentials (user:password@) is refused");
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError(`fetch: only http and https URLs, not ${url.protocol}`);
  return url;
}

function methodOf(method) {
  const m = String(method);
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(m)) throw new TypeError(`fetch: invalid method ${JSON.stringify(m)}`);
  const upper = m.toUpperCase();
  if (FORBIDDEN_METHODS.has(upper)) throw new TypeError(`fetch: the method ${m} is forbidden`);
  return NORMALIZED_METHODS.has(upper) ? upper : m;
}

function makeRequest(need) {
  const URL = need("URL");
  class Request {
    constructor(input, init = {}) {
      if (arguments.length === 0) throw new TypeError("Request: 1 argument required");
      const from = input instanceof Request ? input : null;
      const url = from ? from.url : parseUrl(URL, input).href;
      const opts = init ?? {};
      const method = opts.method !== undefined ? methodOf(opts.method) : from ? from.method : "GET";
      this._url = url;
      this._method = method;
      this._headers = new Headers(opts.headers !== undefined ? opts.headers : from ? from.headers : undefined);
      this._signal = opts.signal !== undefined ? opts.signal : from ? from.signal : null;
      this._redirect = opts.redirect ?? (from ? from.redirect : "follow");
      if (!["follow", "error", "manual"].includes(this._redirect)) throw new TypeError(`Request: invalid redirect mode ${this._redirect}`);
      this._credentials = opts.credentials ?? (from ? from.credentials : "same-origin");
      this._mode = opts.mode ?? (from ? from.mode : "cors");
      this._cache = opts.cache ?? (from ? from.cache : "default");
      this._keepalive = Boolean(opts.keepalive ?? from?.keepalive);
      this._integrity = opts.integrity ?? (from ? from.integrity : "");
      this._referrer = opts.referrer ?? "about:client";
      this._referrerPolicy = opts.referrerPolicy ?? "";
      this._duplex = opts.duplex ?? "half";
      // A body made asynchronously (a FormData with the engine's Blobs): its Content-Type comes with it.
      this._pendingBody = null;
      if (opts.body !== undefined && opts.body !== null) {
        const extracted = extractBody(opts.body, need);
        if (extracted.type !== null && !this._headers.has("content-type")) this._headers.set("content-type", extracted.type);
        this[BODY] = new BodyState(extracted, need, undefined);
        this._pendingBody = extracted.later ?? null;
      } else if (from && opts.body === undefined && from[BODY].source !== null) {
        if (from.bodyUsed) throw new TypeError("Request: the body of the Request it is made from has already been read");
        if (method === "GET" || method === "HEAD") throw new TypeError(`Request: a ${method} request cannot have a body`);
        this[BODY] = from[BODY];
        this._pendingBody = from._pendingBody;
        // The new Request takes the body: the old one's is used up, as the standard says.
        from[BODY] = new BodyState(null, need, undefined);
        from[BODY].used = true;
      } else {
        this[BODY] = new BodyState(null, need, undefined);
      }
      if ((method === "GET" || method === "HEAD") && this[BODY].source !== null) {
        throw new TypeError(`Request: a ${method} request cannot have a body`);
      }
    }
    get url() { return this._url; }
    get method() { return this._method; }
    get headers() { return this._headers; }
    get signal() { return this._signal ?? (this._signal = new (need("AbortController"))().signal); }
    get redirect() { return this._redirect; }
    get credentials() { return this._credentials; }
    get mode() { return this._mode; }
    get cache() { return this._cache; }
    get keepalive() { return this._keepalive; }
    get integrity() { return this._integrity; }
    get referrer() { return this._referrer; }
    get referrerPolicy() { return this._referrerPolicy; }
    get destination() { return ""; }
    get duplex() { return this._duplex; }
    clone() {
      const copy = new Request(this.url, { method: this.method, headers: this.headers, signal: this._signal ?? undefined, redirect: this.redirect });
      copy[BODY] = this[BODY].clone();
      copy._pendingBody = this._pendingBody;
      return copy;
    }
    get [Symbol.toStringTag]() { return "Request"; }
  }
  bodyMixin(Request.prototype, need);
  return Request;
}

function makeResponse(need) {
  class Response {
    constructor(body = null, init = {}) {
      const opts = init ?? {};
      const internal = opts[INTERNAL];
      const status = opts.status === undefined ? 200 : Number(opts.status);
      if (!internal && (!Number.isInteger(status) || status < 200 || status > 599)) {
        throw new RangeError(`Response: the status ${opts.status} is outside 200-599`);
      }
      const statusText = opts.statusText === undefined ? "" : String(opts.statusText);
      if (/[^\t\x20-\x7e\x80-\xff]/.test(statusText)) throw new TypeError("Response: invalid statusText");
      this._status = status;
      this._statusText = statusText;
      this._headers = new Headers(opts.headers);
      this._type = internal?.type ?? "default";
      this._url = internal?.url ?? "";
      this._redirected = false;
      if (internal?.source !== undefined) {
        this[BODY] = new BodyState(internal.source, need, internal.signal);
      } else if (body !== null && body !== undefined) {
        if (NULL_BODY_STATUS.has(status)) throw new TypeError(`Response: a ${status} response cannot have a body`);
        const extracted = extractBody(body, need);
        if (extracted.type !== null && !this._headers.has("content-type")) this._headers.set("content-type", extracted.type);
        this[BODY] = new BodyState(extracted, need, undefined);
      } else {
        this[BODY] = new BodyState(null, need, undefined);
      }
      if (internal?.immutable) freezeHeaders(this._headers);
    }
    get status() { return this._status; }
    get statusText() { return this._statusText; }
    get ok() { return this._status >= 200 && this._status <= 299; }
    get headers() { return this._headers; }
    get type() { return this._type; }
    get url() { return this._url; }
    get redirected() { return this._redirected; }
    clone() {
      const copy = new Response(null, { status: this._status, statusText: this._statusText, headers: this._headers, [INTERNAL]: { type: this._type, url: this._url } });
      copy[BODY] = this[BODY].clone();
      if (isFrozenHeaders(this._headers)) freezeHeaders(copy._headers);
      return copy;
    }
    static error() {
      return new Response(null, { status: 0, [INTERNAL]: { type: "error", immutable: true } });
    }
    static redirect(url, status = 302) {
      const target = parseUrl(need("URL"), url).href;
      if (!REDIRECT_STATUS.has(Number(status))) throw new RangeError(`Response.redirect: ${status} is not a redirect status`);
      return new Response(null, { status: Number(status), headers: { location: target }, [INTERNAL]: { immutable: true } });
    }
    static json(data, init = {}) {
      const text = JSON.stringify(data);
      if (text === undefined) throw new TypeError("Response.json: the value cannot be written as JSON");
      const headers = new Headers(init?.headers);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
      return new Response(text, { ...init, headers });
    }
    get [Symbol.toStringTag]() { return "Response"; }
  }
  bodyMixin(Response.prototype, need);
  return Response;
}

/** The error a WIT error becomes: PermissionDenied (rule, reason) or KernelError (kind, detail). */
function kernelCause(error) {
  const payload = error !== null && typeof error === "object" ? error.payload : undefined;
  if (payload === null || typeof payload !== "object" || typeof payload.tag !== "string") return error;
  if (payload.tag === "denied") {
    const val = payload.val ?? {};
    const rule = typeof val.rule === "string" ? val.rule : null;
    const reason = String(val.reason ?? "denied");
    const cause = new Error(rule ? `denied by rule ${rule}: ${reason}` : `denied: ${reason}`);
    cause.name = "PermissionDenied";
    cause.rule = rule;
    cause.reason = reason;
    return cause;
  }
  const detail = String(payload.val ?? "");
  const cause = new Error(`${payload.tag}: ${detail}`);
  cause.name = "KernelError";
  cause.kind = payload.tag;
  cause.detail = detail;
  return cause;
}

/**
 * A failed fetch, as Node's (undici) says it: exactly "fetch failed", the reason in `cause`
 * (SDKs such as the AI SDK recognize a network failure by that message alone).
 */
function fetchFailed(error) {
  const cause = kernelCause(error);
  const failure = new TypeError("fetch failed");
  Object.defineProperty(failure, "cause", { value: cause, writable: true, configurable: true });
  return failure;
}

/** The request's body as bytes (reading a stream or an engine Blob first), or undefined. */
async function requestBytes(request) {
  const state = request[BODY];
  if (state.source === null) return undefined;
  if (request._pendingBody) {
    const done = await request._pendingBody;
    if (done.type && !request.headers.has("content-type")) request.headers.set("content-type", done.type);
  }
  return state.consume();
}

function makeFetch(kernel, need, Request, Response) {
  return function fetch(input, init) {
    return new Promise((resolve, reject) => {
      let request;
      try {
        request = new Request(input, init);
      } catch (error) {
        reject(error);
        return;
      }
      const signal = request._signal;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const send = (bytes) => {
        if (signal?.aborted) throw signal.reason;
        let reply;
        try {
          reply = kernel.httpFetch({ method: request.method, url: request.url, headers: headerPairs(request.headers), body: bytes });
        } catch (error) {
          throw fetchFailed(error);
        }
        if (signal?.aborted) throw signal.reason;
        const status = reply.status;
        const source = request.method === "HEAD" || NULL_BODY_STATUS.has(status) ? null : { bytes: new Uint8Array(reply.body) };
        const response = new Response(null, {
          status,
          statusText: REASONS[status] ?? "",
          headers: headersFromPairs(reply.headers),
          [INTERNAL]: { type: "basic", url: request.url, source, signal: signal ?? undefined, immutable: true },
        });
        if (request.redirect === "error" && REDIRECT_STATUS.has(status)) throw fetchFailed(new Error(`a ${status} redirect, and the request said redirect: "error"`));
        return response;
      };
      // Not now: in a microtask, so that an abort() in the same tick stops it first.
      Promise.resolve()
        .then(() => (request[BODY].source === null ? undefined : requestBytes(request)))
        .then(send)
        .then(resolve, reject);
    });
  };
}

export function create(need, kernel) {
  const Request = makeRequest(need);
  const Response = makeResponse(need);
  return { Headers, Request, Response, fetch: makeFetch(kernel, need, Request, Response) };
}

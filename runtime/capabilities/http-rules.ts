/**
 * What every http capability checks, on any host: the guest's method and headers, and how a
 * redirect turns into the next hop (decided again by the gate, as every hop is).
 */
import { canonicalUrl } from "../canonical.js";
import { GuestError, guestErrors } from "../errors.js";

/** Headers an agent may not set: the kernel computes them, or they act on the connection. */
export const FORBIDDEN_HEADERS = new Set(["host", "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length", "expect"]);
/** Headers that carry the guest's credentials: not sent to another origin after a redirect. */
export const CREDENTIAL_HEADERS = new Set(["authorization", "cookie", "proxy-authorization"]);
/** Headers describing the body: dropped when a redirect turns the request into a GET. */
export const BODY_HEADERS = new Set(["content-type", "content-encoding", "content-language", "content-location"]);
export const REDIRECTS = new Set([301, 302, 303, 307, 308]);
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
export const REFUSED_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

/** One hop of a request: where it goes and what it sends. */
export interface Hop {
  url: string;
  method: string;
  headers: [string, string][];
  body: Uint8Array | undefined;
}

/**
 * The hop after a redirect to `location` (the response's status a redirect): the URL made
 * canonical, the guest's credentials dropped for another origin, and a POST (or, after 303, any
 * method but HEAD) turned into a GET without its body.
 *
 * @throws GuestError `limit` past `maxRedirects`, `invalid` for a location that is no usable URL.
 */
export function redirectHop(hop: Hop, status: number, location: string, count: number, maxRedirects: number): Hop {
  if (count >= maxRedirects) throw guestErrors.limit(`too many redirects (more than ${maxRedirects})`);
  let next: string;
  try {
    next = canonicalUrl(new URL(location, hop.url).href);
  } catch (err) {
    throw guestErrors.invalid(`redirect from ${hop.url} to an unusable location: ${err instanceof GuestError ? err.error.val : "malformed"}`);
  }
  let { method, headers, body } = hop;
  if (new URL(next).origin !== new URL(hop.url).origin) headers = headers.filter(([k]) => !CREDENTIAL_HEADERS.has(k.toLowerCase()));
  const toGet = status === 303 ? method !== "HEAD" : (status === 301 || status === 302) && method === "POST";
  if (toGet) {
    method = "GET";
    body = undefined;
    headers = headers.filter(([k]) => !BODY_HEADERS.has(k.toLowerCase()));
  }
  return { url: next, method, headers, body };
}

/** The guest's method, upper-cased. @throws GuestError `invalid` for no token or a refused method */
export function checkMethod(raw: unknown): string {
  const method = typeof raw === "string" ? raw.toUpperCase() : "";
  if (!TOKEN.test(method)) throw guestErrors.invalid(`not an HTTP method: ${JSON.stringify(String(raw)).slice(0, 40)}`);
  if (REFUSED_METHODS.has(method)) throw guestErrors.invalid(`the HTTP method ${method} is not allowed`);
  return method;
}

/** The guest's headers as pairs. @throws GuestError `invalid` for a malformed or forbidden header */
export function checkHeaders(raw: unknown): [string, string][] {
  if (!Array.isArray(raw)) throw guestErrors.invalid("headers must be a list of [name, value] pairs");
  const out: [string, string][] = [];
  for (const pair of raw) {
    if (!Array.isArray(pair) || pair.length !== 2) throw guestErrors.invalid("headers must be a list of [name, value] pairs");
    const name = String(pair[0]);
    const value = String(pair[1]);
    const lower = name.toLowerCase();
    if (!TOKEN.test(name)) throw guestErrors.invalid(`not a header name: ${JSON.stringify(name).slice(0, 60)}`);
    if (/[\r\n\0]/.test(value)) throw guestErrors.invalid(`the value of header ${name} contains a line break or NUL`);
    if (FORBIDDEN_HEADERS.has(lower) || lower.startsWith("proxy-")) {
      throw guestErrors.invalid(`the header ${name} may not be set by an agent`);
    }
    out.push([name, value]);
  }
  return out;
}

/** A request body. @throws GuestError `invalid` when it is not bytes */
export function toBytes(body: unknown): Uint8Array {
  if (body instanceof Uint8Array) return body;
  throw guestErrors.invalid("a request body must be bytes");
}

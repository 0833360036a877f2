/**
 * The `http` capability on an edge host: the platform's `fetch`, behind the same gate.
 *
 * What stays the same as on Node: URLs made canonical, every hop (the first request and each
 * redirect) authorized by the gate before it is sent, redirects followed here hop by hop (the
 * platform follows none: `redirect: "manual"`), the guest's method and headers checked, its
 * credentials dropped on a cross-origin redirect, bodies capped both ways, one timeout for the
 * whole request. What differs: the platform resolves host names, so the address guard can check
 * only IP literals (and refuses `localhost` names); a browser hides redirects from scripts
 * (an opaque redirect), which is refused rather than followed unseen.
 *
 * Secrets (capabilities/secrets.ts) work as on Node: set per hop on their own origins, every
 * value the kernel knows scrubbed from the response and from errors. What differs: the values
 * come from the host's `env`, and a response to a hop that carried one is decoded for scrubbing
 * by a Web decoder (secrets-web.ts: the platform's fetch may have decoded it already).
 */
import { canonicalUrl } from "../canonical.js";
import { GuestError, guestErrors } from "../errors.js";
import { REDIRECTS, checkHeaders, checkMethod, redirectHop, toBytes, type Hop } from "../capabilities/http-rules.js";
import { NO_PRIVATE, parseAllowPrivate, parseIp, resolveChecked, type AllowPrivate } from "../capabilities/net-guard.js";
import { CallSecrets, type ContentDecoder, type EchoFormCache, type SecretEnv } from "../capabilities/secrets.js";
import { webContentDecoder } from "../capabilities/secrets-web.js";
import type { HopAuthorizer, HttpHost, HttpRequest, HttpResponse, RunQuota } from "../capabilities/types.js";
import type { SecretSpec } from "../types.js";
import { readCapped } from "../portable/streams.js";

/** The part of the Fetch API this capability uses (a platform's `fetch`, or a binding's). */
export type FetchFunction = (
  url: string,
  init: { method: string; headers: [string, string][]; body?: Uint8Array; redirect: "manual"; signal: AbortSignal },
) => Promise<{ status: number; type?: string; headers: Iterable<[string, string]> & { get(name: string): string | null }; body: ReadableStream<Uint8Array> | null }>;

export interface EdgeHttpOptions {
  /** The platform's fetch. Default: `globalThis.fetch`. */
  fetch?: FetchFunction;
  /** Private targets the operator allows (hosts, IPs or CIDRs). Default: none. */
  allowPrivate?: string[];
  /** Redirects followed per request. Default: 5. */
  maxRedirects?: number;
  quota: RunQuota;
  /** Secrets injected at egress to their origins (checked by the caller). Default: none. */
  secrets?: readonly SecretSpec[];
  /** Where secret values are read, at call time: a Worker's `env` bindings, say. Default: nowhere (a call that needs one fails with `io`). */
  env?: SecretEnv;
  /** Undoes a response's content encoding before it is scrubbed. Default: `webContentDecoder()`. */
  decode?: ContentDecoder;
}

/** Host names that name this machine whatever DNS says (RFC 6761): refused like loopback. */
const LOCAL_NAMES = /(^|\.)localhost\.?$/i;

/**
 * Creates the http capability of one run on an edge host.
 * @example const http = createEdgeHttp({ quota, fetch: globalThis.fetch, secrets: policy.secrets, env: (name) => env[name] });
 */
export function createEdgeHttp(options: EdgeHttpOptions): HttpHost {
  const allow = options.allowPrivate ? parseAllowPrivate(options.allowPrivate) : NO_PRIVATE;
  const maxRedirects = options.maxRedirects ?? 5;
  const platformFetch = options.fetch ?? (globalThis.fetch as unknown as FetchFunction);
  const { quota } = options;

  const specs = options.secrets ?? [];
  const env = options.env ?? (() => undefined);
  const decode = options.decode ?? webContentDecoder();
  const echoForms: EchoFormCache = new Map();

  async function fetch(req: HttpRequest, authorizeHop: HopAuthorizer): Promise<HttpResponse> {
    if (specs.length === 0) return fetchHops(req, authorizeHop, undefined);
    const secrets = new CallSecrets(specs, env, echoForms);
    return secrets.scrubbed(() => fetchHops(req, authorizeHop, secrets));
  }

  async function fetchHops(req: HttpRequest, authorizeHop: HopAuthorizer, secrets: CallSecrets | undefined): Promise<HttpResponse> {
    const body = req.body === undefined || req.body === null ? undefined : toBytes(req.body);
    if (body && body.byteLength > quota.limits.httpBody) {
      throw guestErrors.limit(`request body of ${body.byteLength} bytes exceeds the limit of ${quota.limits.httpBody}`);
    }
    let hop: Hop = { url: canonicalUrl(String(req.url)), method: checkMethod(req.method), headers: checkHeaders(req.headers), body };
    const signal = AbortSignal.timeout(quota.limits.httpTimeout);
    for (let count = 0; ; count++) {
      if (!(await authorizeHop({ method: hop.method, url: hop.url }))) {
        throw guestErrors.denied(null, count === 0 ? `the request to ${hop.url} was not authorized` : `the redirect to ${hop.url} was not authorized`);
      }
      const target = new URL(hop.url);
      // (a secret whose variable is not set fails here: nothing is sent)
      const sending = secrets ? secrets.headersFor(target.origin, hop.headers) : { headers: hop.headers, carries: false };
      await checkHost(target.hostname, allow);
      let res = await send(platformFetch, { ...hop, headers: sending.headers }, signal, quota);
      if (sending.carries) res = await decode(res, quota.limits.httpBody);
      const location = res.headers.find(([k]) => k === "location")?.[1];
      if (!REDIRECTS.has(res.status) || location === undefined) return res;
      if (secrets?.reveals(location)) throw guestErrors.denied(null, `the redirect from ${hop.url} was not followed: its location holds a secret`);
      hop = redirectHop(hop, res.status, location, count, maxRedirects);
    }
  }

  return { fetch };
}

/**
 * The address guard where the platform resolves names: an IP literal is checked as on Node; a
 * `localhost` name is refused unless allowed; any other name goes to the platform.
 * @throws GuestError `denied` (no rule) for a refused target.
 */
async function checkHost(hostname: string, allow: AllowPrivate): Promise<void> {
  if (parseIp(hostname) !== null) {
    await resolveChecked(hostname, allow, () => Promise.reject(new Error("not a name")));
    return;
  }
  if (LOCAL_NAMES.test(hostname) && !allow.hosts.has(hostname.toLowerCase())) {
    throw guestErrors.denied(null, `address guard: ${hostname} names this machine; the kernel refuses private targets unless allowed (allowPrivate)`);
  }
}

/** One hop through the platform's fetch, the response read under the body cap. */
async function send(platformFetch: FetchFunction, hop: Hop, signal: AbortSignal, quota: RunQuota): Promise<HttpResponse> {
  const cap = quota.limits.httpBody;
  try {
    const res = await platformFetch(hop.url, { method: hop.method, headers: hop.headers, ...(hop.body ? { body: hop.body } : {}), redirect: "manual", signal });
    if (res.type === "opaqueredirect" || res.status === 0) {
      throw guestErrors.denied(null, `the request to ${hop.url} was redirected, and this host does not show where: the kernel decides every hop, so it was not followed`);
    }
    const declared = Number(res.headers.get("content-length") ?? NaN);
    if (declared > cap) {
      await res.body?.cancel();
      throw guestErrors.limit(`response body of ${declared} bytes exceeds the limit of ${cap}`);
    }
    const headers: [string, string][] = [];
    for (const [name, value] of res.headers) headers.push([name.toLowerCase(), value]);
    const body = res.body === null ? new Uint8Array(0) : await readCapped(res.body, cap);
    if (body === undefined) throw guestErrors.limit(`response body exceeds the limit of ${cap} bytes`);
    return { status: res.status, headers, body };
  } catch (err) {
    if (err instanceof GuestError) throw err;
    if (signal.aborted) throw guestErrors.limit(`the request to ${hop.url} timed out after ${quota.limits.httpTimeout} ms`);
    throw guestErrors.io(`the request to ${hop.url} failed${err instanceof Error && err.message ? `: ${err.message.slice(0, 200)}` : ""}`);
  }
}

/**
 * The `http` capability: a real HTTP request (undici), with no server-side request forgery.
 *
 * Every hop (the first request and each redirect) is authorized by the gate's callback and
 * then passes the address guard (net-guard.ts) after DNS resolution; the connection goes to
 * the address that was checked, through a dispatcher whose `lookup` answers with it, so there
 * is no second DNS lookup. Host and TLS SNI stay the URL's host name. Redirects are followed
 * here, never by undici. Nothing is added implicitly: no cookies, no credentials, no
 * user-agent; the guest's Authorization and Cookie headers are dropped on a cross-origin
 * redirect. Secrets (secrets.ts) are set per hop, on their own origins only, and every value
 * the kernel knows is scrubbed from the response and from errors before the guest sees them.
 */
import { request as undiciRequest, type Agent } from "undici";
import { canonicalUrl } from "../../../canonical.js";
import { GuestError, guestErrors } from "../../../errors.js";
import type { HopAuthorizer, HttpHost, HttpRequest, HttpResponse, RunQuota } from "../../../capabilities/types.js";
import { REDIRECTS, checkHeaders, checkMethod, redirectHop, toBytes } from "../../../capabilities/http-rules.js";
import { CallSecrets, type EchoFormCache, type SecretEnv } from "../../../capabilities/secrets.js";
import { decodedForScrubbing, processEnv } from "./secrets-node.js";
import type { SecretSpec } from "../../../types.js";
import { ConnectionPool } from "./http-pool.js";
import { NO_PRIVATE, parseAllowPrivate, resolveChecked, type Resolver } from "../../../capabilities/net-guard.js";
import { systemResolver } from "./net-dns.js";
import { concatBytes } from "../../../portable/streams.js";

export interface HttpOptions {
  /** Private targets the operator allows (hosts, IPs or CIDRs). Default: none. */
  allowPrivate?: string[];
  /** Redirects followed per request. Default: 5. */
  maxRedirects?: number;
  /** The run's quota: `limits.httpBody` caps request and response bodies, `limits.httpTimeout` the whole request. */
  quota: RunQuota;
  /** Resolves a host name to all its addresses. Default: `dns.promises.lookup(host, { all: true })`. */
  resolver?: Resolver;
  /** Secrets injected at egress to their origins (checked by the caller). Default: none. */
  secrets?: readonly SecretSpec[];
  /** Where secret values are read, at call time. Default: `process.env`. */
  env?: SecretEnv;
}

/**
 * Creates the http capability for one run.
 *
 * @example const http = createHttp({ quota, allowPrivate: ["127.0.0.1"] });
 *          const res = await http.fetch({ method: "GET", url: "http://127.0.0.1:8080/", headers: [] }, gate.authorizeHop);
 */
export function createHttp(options: HttpOptions): HttpHost {
  const allow = options.allowPrivate ? parseAllowPrivate(options.allowPrivate) : NO_PRIVATE;
  const maxRedirects = options.maxRedirects ?? 5;
  const resolver = options.resolver ?? systemResolver;
  const { quota } = options;
  const specs = options.secrets ?? [];
  const env = options.env ?? processEnv;
  const echoForms: EchoFormCache = new Map();
  const pool = new ConnectionPool(quota.limits.httpTimeout);

  async function fetch(req: HttpRequest, authorizeHop: HopAuthorizer): Promise<HttpResponse> {
    if (specs.length === 0) return fetchHops(req, authorizeHop, undefined);
    const secrets = new CallSecrets(specs, env, echoForms);
    // (the names go to the result event through the gate; the guest gets the WIT error only)
    return secrets.scrubbed(() => fetchHops(req, authorizeHop, secrets));
  }

  async function fetchHops(req: HttpRequest, authorizeHop: HopAuthorizer, secrets: CallSecrets | undefined): Promise<HttpResponse> {
    const method = checkMethod(req.method);
    let headers = checkHeaders(req.headers);
    let body = req.body === undefined || req.body === null ? undefined : toBytes(req.body);
    if (body && body.byteLength > quota.limits.httpBody) {
      throw guestErrors.limit(`request body of ${body.byteLength} bytes exceeds the limit of ${quota.limits.httpBody}`);
    }
    let url = canonicalUrl(String(req.url));
    let currentMethod = method;
    const signal = AbortSignal.timeout(quota.limits.httpTimeout);
    for (let hop = 0; ; hop++) {
      if (!(await authorizeHop({ method: currentMethod, url }))) {
        throw guestErrors.denied(null, hop === 0 ? `the request to ${url} was not authorized` : `the redirect to ${url} was not authorized`);
      }
      const target = new URL(url);
      // (a secret whose variable is not set fails here: nothing is resolved or sent)
      const sending = secrets ? secrets.headersFor(target.origin, headers) : { headers, carries: false };
      const address = await resolveChecked(target.hostname, allow, resolver);
      let res = await send(url, pool.dispatcher(target, address), currentMethod, sending.headers, body, signal, quota);
      if (sending.carries) res = decodedForScrubbing(res, quota.limits.httpBody);
      const location = res.headers.find(([k]) => k === "location")?.[1];
      if (!REDIRECTS.has(res.status) || location === undefined) return res;
      if (secrets?.reveals(location)) throw guestErrors.denied(null, `the redirect from ${url} was not followed: its location holds a secret`);
      ({ url, method: currentMethod, headers, body } = redirectHop({ url, method: currentMethod, headers, body }, res.status, location, hop, maxRedirects));
    }
  }

  return { fetch, close: () => pool.close() };
}

/** One hop, through a connection to the checked address only; the response streamed under the body cap. */
async function send(
  url: string,
  dispatcher: Agent,
  method: string,
  headers: [string, string][],
  body: Uint8Array | undefined,
  signal: AbortSignal,
  quota: RunQuota,
): Promise<HttpResponse> {
  const cap = quota.limits.httpBody;
  try {
    const res = await undiciRequest(url, {
      method: method as "GET",
      headers: headers.flat(),
      body: body === undefined ? undefined : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
      dispatcher,
      signal,
    });
    const declared = Number(res.headers["content-length"] ?? NaN);
    if (declared > cap) {
      res.body.destroy();
      throw guestErrors.limit(`response body of ${declared} bytes exceeds the limit of ${cap}`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.byteLength;
      if (size > cap) {
        res.body.destroy();
        throw guestErrors.limit(`response body exceeds the limit of ${cap} bytes`);
      }
      chunks.push(chunk);
    }
    return { status: res.statusCode, headers: flattenHeaders(res.headers), body: concatBytes(chunks, size) };
  } catch (err) {
    if (err instanceof GuestError) throw err;
    if (signal.aborted) throw guestErrors.limit(`the request to ${url} timed out after ${quota.limits.httpTimeout} ms`);
    const code = (err as { code?: unknown }).code;
    throw guestErrors.io(`the request to ${url} failed${typeof code === "string" ? `: ${code}` : ""}`);
  }
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.push([name.toLowerCase(), v]);
  }
  return out;
}

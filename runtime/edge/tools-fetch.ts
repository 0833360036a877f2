/**
 * The fetch an edge MCP session's requests go through: the host's fetch (the same contract as
 * the http capability's, edge/http.ts), never following a redirect. A server's URL is the
 * operator's configuration, not an agent's input, but a redirect would send the session (and
 * its headers, such as `authorization`) somewhere the operator did not name: a redirect fails the
 * request instead, saying so. (On Node, the SDK's own policy applies: it follows redirects within
 * the URL's origin only.)
 */
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { FetchFunction } from "./http.js";

/** Statuses whose response has no body (a Response with one cannot be made). */
const NO_BODY = new Set([204, 205, 304]);

/**
 * The SDK transport's fetch over the host's `fetch` (default: `globalThis.fetch`, looked up at
 * each request).
 *
 * @example new StreamableHTTPClientTransport(url, { fetch: mcpFetch(env.fetch, "files") })
 */
export function mcpFetch(fetch: FetchFunction | undefined, server: string): FetchLike {
  return async (url, init = {}) => {
    const platform = fetch ?? (globalThis.fetch as unknown as FetchFunction);
    const body = requestBody(init.body, server);
    const res = await platform(String(url), {
      method: init.method ?? "GET",
      headers: [...new Headers(init.headers).entries()],
      ...(body !== undefined ? { body } : {}),
      redirect: "manual",
      signal: init.signal ?? new AbortController().signal,
    });
    if (res.type === "opaqueredirect" || (res.status >= 300 && res.status < 400 && res.status !== 304)) {
      await res.body?.cancel().catch(() => {});
      throw new Error(`MCP server ${server} answered with a redirect (HTTP ${res.status || "3xx"}), which is not followed: configure the URL it redirects to`);
    }
    if (NO_BODY.has(res.status)) await res.body?.cancel().catch(() => {});
    return new Response(NO_BODY.has(res.status) ? null : res.body, { status: res.status, headers: [...res.headers] });
  };
}

/** A request body as bytes (the SDK sends JSON text). */
function requestBody(body: RequestInit["body"], server: string): Uint8Array | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") return new TextEncoder().encode(body);
  if (body instanceof Uint8Array) return body;
  throw new Error(`MCP server ${server}: a request body of this kind is not supported here`);
}

/**
 * Who may use the dashboard: whoever holds its token.
 *
 * - Reading (GET): the token as `Authorization: Bearer`, as the `x-agent-os-token` header, or
 *   as the session cookie the server sets when the page is first opened with `?token=`. The
 *   query token itself is taken on the page (`/`) and the live stream only, and the page is then
 *   redirected to drop it from the address bar and the history.
 * - Changing anything (POST): the token in a header only. A cookie or a query token is never
 *   enough, so another site can neither forge a request (it cannot set the header without a
 *   CORS preflight, which the server never answers) nor read one (no CORS headers at all).
 * - On a loopback address the Host header must be a loopback name too (DNS rebinding: a page
 *   from elsewhere whose name was made to resolve to 127.0.0.1 is refused).
 *
 * Tokens are compared as sha256 digests in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { UsageError } from "../errors.js";

/** The header a state-changing request carries its token in. */
export const TOKEN_HEADER = "x-agent-os-token";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/** 32 random bytes, in hex. */
export function newToken(): string {
  return randomBytes(32).toString("hex");
}

/** @throws UsageError for a token shorter than 32 characters, or with spaces or controls. */
export function checkToken(token: unknown): void {
  if (typeof token !== "string" || token.length < 32 || !/^[\x21-\x7e]+$/.test(token)) {
    throw new UsageError("dashboard: the token must have at least 32 printable characters and no spaces");
  }
}

/** Whether a host to listen on is a loopback address. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** How a request presented the token. */
export type Presented = "header" | "cookie" | "query" | "none" | "wrong";

/** Checks tokens and builds the session cookie of one dashboard. */
export class Access {
  private readonly expected: Buffer;
  /** The cookie's name carries the port: two dashboards on one host do not overwrite each other's. */
  readonly cookieName: string;

  constructor(
    readonly token: string,
    port: number,
  ) {
    checkToken(token);
    this.expected = digest(token);
    this.cookieName = `agent-os-dashboard-${port}`;
  }

  /**
   * How `req` presented the token, looked for in this order: a header, the query (only where
   * `query` is allowed), the cookie. The first one present decides: "wrong" when it does not
   * match, "none" when nothing was presented.
   */
  presented(req: IncomingMessage, url: URL, query: boolean): Presented {
    const header = req.headers[TOKEN_HEADER];
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    const given = typeof header === "string" ? header : bearer;
    if (given !== undefined) return this.matches(given) ? "header" : "wrong";
    const fromQuery = url.searchParams.get("token");
    if (query && fromQuery !== null) return this.matches(fromQuery) ? "query" : "wrong";
    const cookie = readCookie(req.headers.cookie, this.cookieName);
    if (cookie !== undefined) return this.matches(cookie) ? "cookie" : "wrong";
    return "none";
  }

  /** The Set-Cookie value of the session: HttpOnly, SameSite=Strict, for this server only. */
  cookie(): string {
    return `${this.cookieName}=${this.token}; Path=/; HttpOnly; SameSite=Strict`;
  }

  private matches(given: string): boolean {
    return timingSafeEqual(digest(given), this.expected);
  }
}

/**
 * A Host header that names this loopback server; undefined when it does, the reason when not.
 */
export function hostRefusal(req: IncomingMessage): string | undefined {
  const host = req.headers.host ?? "";
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname;
  } catch {
    return "invalid Host header";
  }
  return LOOPBACK.has(hostname) ? undefined : `Host ${JSON.stringify(host)} is not this server`;
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

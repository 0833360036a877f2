/**
 * A tiny router over node:http: routes by method and path pattern (`/api/runs/:id`), JSON in
 * and out, and the response headers every answer carries (no CORS headers, ever).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { AgentOsError, LogError, PolicyError, ReplayError, UsageError } from "../errors.js";

/** The largest request body read: a policy and its runs' ids fit. */
const MAX_BODY = 2 * 1024 * 1024;

/**
 * `read`: GET, any way of presenting the token; `change`: POST with the token in a header;
 * `page` and `stream`: GET, which also take the token in the query.
 */
export type RouteKind = "read" | "change" | "page" | "stream";

/** What a handler gets: the request, its URL, the path's parameters and (for POST) its JSON body. */
export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  body: unknown;
}

/** A handler answers with JSON (its return value), or writes the response itself and returns undefined. */
export type Handler = (ctx: RouteContext) => Promise<unknown> | unknown;

export interface Route {
  kind: RouteKind;
  pattern: string;
  handler: Handler;
}

/** An answer other than 200, with a message for the page. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Headers on every response: nothing is cached, framed, sniffed or referred, and only this origin's scripts run. */
export const BASE_HEADERS: Readonly<Record<string, string>> = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

/** The method a kind of route answers. */
export function methodOf(kind: RouteKind): "GET" | "POST" {
  return kind === "change" ? "POST" : "GET";
}

/**
 * The route for a path: the match, "method" when the path is known but not with this method,
 * or undefined.
 */
export function findRoute(routes: readonly Route[], method: string, path: string): { route: Route; params: Record<string, string> } | { allow: string } | undefined {
  const allowed = new Set<string>();
  for (const route of routes) {
    const params = matchPath(route.pattern, path);
    if (!params) continue;
    if (methodOf(route.kind) === method) return { route, params };
    allowed.add(methodOf(route.kind));
  }
  return allowed.size > 0 ? { allow: [...allowed].join(", ") } : undefined;
}

function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split("/");
  const got = path.split("/");
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(":")) {
      if (got[i] === "") return undefined;
      try {
        params[want[i].slice(1)] = decodeURIComponent(got[i]);
      } catch {
        return undefined;
      }
    } else if (want[i] !== got[i]) return undefined;
  }
  return params;
}

/** Sends JSON with the base headers. */
export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value ?? null);
  res.writeHead(status, { ...BASE_HEADERS, "content-type": "application/json; charset=utf-8", ...headers }).end(body);
}

/** Sends an error as `{ error }`. */
export function sendError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  sendJson(res, status, { error: message }, headers);
}

/** The status and message for an error a handler threw. */
export function statusOf(error: unknown): { status: number; message: string } {
  if (error instanceof HttpError) return { status: error.status, message: error.message };
  if (error instanceof UsageError || error instanceof ReplayError || error instanceof PolicyError) return { status: 400, message: error.message };
  if (error instanceof LogError || error instanceof AgentOsError) return { status: 500, message: error.message };
  return { status: 500, message: "internal error" };
}

/** Reads a JSON body (POST): it must say `application/json` and fit MAX_BODY. */
export function readJson(req: IncomingMessage): Promise<unknown> {
  if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) {
    return Promise.reject(new HttpError(415, "send the body as application/json"));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, `the request body is over ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      try {
        resolve(text === "" ? {} : JSON.parse(text));
      } catch {
        reject(new HttpError(400, "the request body is not JSON"));
      }
    });
    req.on("error", reject);
  });
}

/** A body's field as a string, or a 400 naming it. */
export function stringField(body: unknown, name: string, optional?: false): string;
export function stringField(body: unknown, name: string, optional: true): string | undefined;
export function stringField(body: unknown, name: string, optional = false): string | undefined {
  const value = body !== null && typeof body === "object" ? (body as Record<string, unknown>)[name] : undefined;
  if (value === undefined && optional) return undefined;
  if (typeof value !== "string") throw new HttpError(400, `the body needs "${name}" as a string`);
  return value;
}

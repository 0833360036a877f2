/**
 * The dashboard's HTTP server (node:http): every request passes, in order, the Host check (on a
 * loopback address: DNS rebinding, 403), the token (401; see auth.ts for where it may be
 * presented), the route (404) and its method (405: reading is GET, changing is POST and nothing
 * else), then a state-changing request must carry the token in a header (401). No response
 * carries a CORS header.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { UsageError } from "../errors.js";
import { Access, TOKEN_HEADER, checkToken, hostRefusal, isLoopback, newToken } from "./auth.js";
import { findRoute, readJson, sendError, sendJson, statusOf, type Route } from "./http.js";
import { sendPage } from "./static.js";
import type { DashboardHandle, DashboardOptions } from "./types.js";

/** The default port of the dashboard. */
export const DEFAULT_PORT = 7878;

/** The listening options, checked. @throws UsageError for a bad port or host, or a remote host without allowRemote. */
export function checkListen(options: DashboardOptions): { port: number; host: string; remote: boolean } {
  const port = options.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`dashboard: port ${String(port)}: expected 0 to 65535`);
  const host = options.host ?? "127.0.0.1";
  if (typeof host !== "string" || host === "") throw new UsageError("dashboard: the host must be an address or a name");
  const remote = !isLoopback(host);
  if (remote && !options.allowRemote) {
    throw new UsageError(
      `dashboard: ${host} is not a loopback address: anyone who can reach it with the token could read the log and signal agents; ` +
        `give --allow-remote (allowRemote: true) to serve it there anyway`,
    );
  }
  return { port, host, remote };
}

/**
 * Listens and serves the routes; resolves once listening.
 *
 * @example const { url, close } = await listen({ port: 0 }, routes, async () => undefined);
 * @throws UsageError for a bad option or a port in use.
 */
export async function listen(options: DashboardOptions, routes: Route[], onClose: () => Promise<void>): Promise<DashboardHandle> {
  const { port, host, remote } = checkListen(options);
  const token = options.token ?? newToken();
  checkToken(token);
  let access: Access | undefined;
  const server = createServer((req, res) => {
    if (!access) return sendError(res, 503, "starting");
    handle(req, res, { access, routes, checkHost: !remote }).catch((error: unknown) => {
      const { status, message } = statusOf(error);
      sendError(res, status, message);
    });
  });
  await bind(server, port, host);
  const bound = (server.address() as AddressInfo).port;
  access = new Access(token, bound);
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await onClose();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    })());
  const shown = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  return { url: `http://${shown}:${bound}/?token=${token}`, token, close };
}

function bind(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") reject(new UsageError(`dashboard: port ${port} on ${host} is in use (--port 0 takes a free one)`));
      else if (error.code === "EADDRNOTAVAIL" || error.code === "ENOTFOUND") reject(new UsageError(`dashboard: cannot listen on ${host}: ${error.code}`));
      else reject(error);
    });
    server.listen(port, host, () => resolve());
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, server: { access: Access; routes: Route[]; checkHost: boolean }): Promise<void> {
  const refused = server.checkHost ? hostRefusal(req) : undefined;
  if (refused) return sendError(res, 403, refused);
  const url = new URL(req.url ?? "/", "http://dashboard");
  const method = req.method ?? "GET";
  const found = findRoute(server.routes, method, url.pathname);
  const route = found && "route" in found ? found.route : undefined;
  const queryAllowed = route !== undefined && (route.kind === "page" || route.kind === "stream");
  const presented = server.access.presented(req, url, queryAllowed);
  if (presented === "none" || presented === "wrong") {
    const why = presented === "none" ? "the dashboard needs its token: open the URL it printed at start" : "wrong token";
    return sendError(res, 401, why, { "www-authenticate": 'Bearer realm="agent-os dashboard"' });
  }
  if (!found) return sendError(res, 404, "not found");
  if ("allow" in found) return sendError(res, 405, `${method} is not allowed here (allowed: ${found.allow})`, { allow: found.allow });
  const { route: r, params } = found;
  if (r.kind === "change" && presented !== "header") {
    return sendError(res, 401, `a state-changing request needs the token in the ${TOKEN_HEADER} header (or Authorization: Bearer)`);
  }
  if (r.kind === "page" && url.searchParams.has("token")) {
    // Whatever else came with it (an older session's cookie), a token in the address is checked and dropped.
    if (presented !== "query") return sendError(res, 401, "wrong token", { "www-authenticate": 'Bearer realm="agent-os dashboard"' });
    // The token leaves the address bar and the history: the session cookie carries it from now on.
    res.writeHead(303, { location: "/", "set-cookie": server.access.cookie(), "cache-control": "no-store", "referrer-policy": "no-referrer" }).end();
    return;
  }
  if (r.kind === "page") return sendPage(res, server.access.token, presented === "header" ? { "set-cookie": server.access.cookie() } : {});
  const body = r.kind === "change" ? await readJson(req) : undefined;
  const value = await r.handler({ req, res, url, params, body });
  if (value !== undefined && !res.headersSent) sendJson(res, 200, value);
}


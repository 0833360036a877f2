/**
 * The stand-in endpoints of the edge "secrets" case (conformance.js): on the secret's origin,
 * `/allowed/secrets/*` record the Authorization header they were sent and echo it back, in the
 * forms a server may (as it is, JSON-escaped, percent-encoded, base64, in a response header),
 * plain or compressed, or in a redirect's location; another origin (its own server, answering
 * with CORS so that a page may read it) records what it was sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { brotliCompressSync, gzipSync } from "node:zlib";

/** What one stand-in endpoint was sent. */
export interface SecretsSeen {
  path: string;
  authorization: string | null;
}

/** The echoes of what the request carried, in several forms, as one text. */
function echoes(req: IncomingMessage): string {
  const auth = String(req.headers.authorization ?? "");
  const value = auth.replace(/^Bearer /, "");
  return [
    JSON.stringify({ headers: req.headers }),
    `raw: ${auth}`,
    `url: token=${encodeURIComponent(value)}`,
    `base64: ${Buffer.from(`p-${value}-s`).toString("base64")}`,
  ].join("\n");
}

/**
 * Answers a request to `/allowed/secrets/*` on the secret's origin (recording it in `seen`);
 * false for any other path, which the caller answers.
 */
export function secretsRoute(req: IncomingMessage, res: ServerResponse, seen: SecretsSeen[]): boolean {
  const path = new URL(req.url ?? "/", "http://x").pathname;
  if (!path.startsWith("/allowed/secrets/")) return false;
  seen.push({ path, authorization: req.headers.authorization ?? null });
  const auth = String(req.headers.authorization ?? "");
  const text = echoes(req);
  const answers: Record<string, () => void> = {
    "/allowed/secrets/raw": () => res.writeHead(200, { "content-type": "text/plain", "x-echo": auth }).end(text),
    "/allowed/secrets/gzip": () => res.writeHead(200, { "content-type": "text/plain", "content-encoding": "gzip" }).end(gzipSync(text)),
    // (declared once, compressed twice: what the platform leaves still encoded, the kernel decodes)
    "/allowed/secrets/gzip-in-gzip": () => res.writeHead(200, { "content-type": "text/plain", "content-encoding": "gzip" }).end(gzipSync(gzipSync(text))),
    "/allowed/secrets/br": () => res.writeHead(200, { "content-type": "text/plain", "content-encoding": "br" }).end(brotliCompressSync(text)),
    "/allowed/secrets/leak-location": () => res.writeHead(302, { location: `/allowed/secrets/landed?t=${encodeURIComponent(auth)}` }).end(),
  };
  (answers[path] ?? (() => res.writeHead(404).end()))();
  return true;
}

/** Another origin: a server that records what it is sent and answers any page (CORS). */
export async function startOtherOrigin(): Promise<{ origin: string; seen: SecretsSeen[]; close(): Promise<void> }> {
  const seen: SecretsSeen[] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ path: new URL(req.url ?? "/", "http://x").pathname, authorization: req.headers.authorization ?? null });
    res.writeHead(200, { "content-type": "text/plain", "access-control-allow-origin": "*" }).end(`other origin; authorization: ${req.headers.authorization ?? "none"}`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, seen, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A loopback server for the Web platform tests: it records every request it sees. */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** 100 lines of 1 KB each: a body the guest reads in several chunks. */
export const BIG = Array.from({ length: 100 }, (_, i) => `${String(i).padStart(4, "0")} ${"x".repeat(1018)}`).join("\n") + "\n";

export async function startServer(): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      if (req.url === "/redirect") {
        res.writeHead(302, { location: "/big" }).end();
        return;
      }
      if (req.url === "/big") {
        res.writeHead(200, { "content-type": "text/plain" }).end(BIG);
        return;
      }
      res.writeHead(201, { "content-type": "application/json", "x-server": "loopback", "set-cookie": ["a=1", "b=2"] });
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return { url, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

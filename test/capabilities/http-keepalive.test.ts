/**
 * A run's http capability keeps its connections alive between requests, and a kept connection
 * is only ever reused for the same origin at the same checked address: a host that resolves to
 * another address gets a new connection to that address (DNS rebinding cannot ride an old
 * connection), another run never shares one, and the run's end closes them all.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttp } from "../../dist/runtime/hosts/node/net/http.js";
import type { HopAuthorizer, HttpHost } from "../../dist/runtime/capabilities/types.js";
import { makeQuota } from "./helpers.js";

interface CountingServer {
  server: Server;
  port: number;
  /** Connections accepted, and which of them are closed. */
  sockets: Socket[];
  closed: Set<Socket>;
  /** Each request: the connection it came on. */
  requests: Socket[];
}

async function start(host: string, name: string, port = 0): Promise<CountingServer> {
  const s: CountingServer = { server: createServer(), port: 0, sockets: [], closed: new Set(), requests: [] };
  s.server.on("connection", (socket: Socket) => {
    s.sockets.push(socket);
    socket.on("close", () => s.closed.add(socket));
  });
  s.server.on("request", (req, res) => {
    s.requests.push(req.socket);
    req.resume();
    req.on("end", () => res.end(name));
  });
  await new Promise<void>((resolve) => s.server.listen(port, host, resolve));
  s.port = (s.server.address() as AddressInfo).port;
  return s;
}

const allowAll: HopAuthorizer = async () => true;
const text = (body: Uint8Array) => new TextDecoder().decode(body);
const until = async (check: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !check() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
};

let a: CountingServer;
let b: CountingServer; // the same port on 127.0.0.2

beforeAll(async () => {
  a = await start("127.0.0.1", "A");
  b = await start("127.0.0.2", "B", a.port);
});

afterAll(async () => {
  for (const s of [a, b]) {
    s.server.closeAllConnections();
    await new Promise((r) => s.server.close(r));
  }
});

function run(resolver: (host: string) => Promise<{ address: string; family: 4 | 6 }[]>): HttpHost {
  return createHttp({ allowPrivate: ["127.0.0.1", "127.0.0.2"], quota: makeQuota(), resolver });
}

describe("http: kept-alive connections", () => {
  it("a run's requests to one origin share one connection, and the run's end closes it", async () => {
    const before = a.sockets.length;
    const http = run(async () => [{ address: "127.0.0.1", family: 4 }]);
    for (let i = 0; i < 3; i++) {
      const res = await http.fetch({ method: "POST", url: `http://svc.test:${a.port}/${i}`, headers: [], body: new Uint8Array([i]) }, allowAll);
      expect(text(res.body)).toBe("A");
    }
    const opened = a.sockets.slice(before);
    expect(opened).toHaveLength(1);
    expect(a.requests.slice(-3).every((s) => s === opened[0])).toBe(true);
    expect(a.closed.has(opened[0])).toBe(false);
    http.close?.();
    await until(() => a.closed.has(opened[0]));
    expect(a.closed.has(opened[0])).toBe(true);
  });

  it("a host that now resolves to another address gets a new connection to that address, not the old one", async () => {
    let answer = "127.0.0.1";
    const http = run(async () => [{ address: answer, family: 4 }]);
    const beforeA = a.requests.length;
    const first = await http.fetch({ method: "GET", url: `http://flip.test:${a.port}/`, headers: [] }, allowAll);
    answer = "127.0.0.2";
    const second = await http.fetch({ method: "GET", url: `http://flip.test:${a.port}/`, headers: [] }, allowAll);
    expect([text(first.body), text(second.body)]).toEqual(["A", "B"]);
    expect(a.requests.length - beforeA).toBe(1);
    http.close?.();
  });

  it("two runs never share a connection", async () => {
    const before = a.sockets.length;
    const one = run(async () => [{ address: "127.0.0.1", family: 4 }]);
    const two = run(async () => [{ address: "127.0.0.1", family: 4 }]);
    await one.fetch({ method: "GET", url: `http://svc.test:${a.port}/`, headers: [] }, allowAll);
    await two.fetch({ method: "GET", url: `http://svc.test:${a.port}/`, headers: [] }, allowAll);
    await one.fetch({ method: "GET", url: `http://svc.test:${a.port}/`, headers: [] }, allowAll);
    expect(a.sockets.length - before).toBe(2);
    one.close?.();
    two.close?.();
  });
});

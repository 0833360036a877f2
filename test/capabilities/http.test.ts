import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createHttp } from "../../dist/runtime/hosts/node/net/http.js";
import { classifyAddress, parseAllowPrivate, resolveChecked, NO_PRIVATE } from "../../dist/runtime/capabilities/net-guard.js";
import { dnsResolver } from "../../dist/runtime/hosts/node/net/net-dns.js";
import { startDnsServer } from "./dns-server.js";
import type { HopAuthorizer, HttpHost } from "../../dist/runtime/capabilities/types.js";
import { UsageError } from "../../dist/runtime/errors.js";
import { TEST_DNS, URL_ATTACKS } from "./attack-tables.js";
import { guestError, makeQuota, outcome } from "./helpers.js";

interface Logged {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

interface TestServer {
  server: Server;
  port: number;
  log: Logged[];
}

async function startServer(host: string, handler: (req: IncomingMessage, res: ServerResponse, body: string) => void, port = 0): Promise<TestServer> {
  const log: Logged[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      log.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return { server, port: (server.address() as AddressInfo).port, log };
}

const resolver = async (host: string) => {
  const answers = TEST_DNS[host.toLowerCase()];
  if (!answers) throw Object.assign(new Error("ENOTFOUND"), { code: "ENOTFOUND" });
  return answers.map((address) => ({ address, family: (address.includes(":") ? 6 : 4) as 4 | 6 }));
};

const allowAll: HopAuthorizer = async () => true;

let main: TestServer;
let other: TestServer; // on 127.0.0.2, which is never allowed: it must never see a request

beforeAll(async () => {
  main = await startServer("127.0.0.1", (req, res, body) => {
    const url = new URL(req.url ?? "/", "http://x");
    const to = url.searchParams.get("to");
    if (url.pathname === "/redirect" && to) {
      res.writeHead(Number(url.searchParams.get("status") ?? 302), { location: to });
      return res.end();
    }
    if (url.pathname === "/loop") {
      res.writeHead(302, { location: "/loop" });
      return res.end();
    }
    if (url.pathname === "/big") {
      const size = Number(url.searchParams.get("size"));
      if (url.searchParams.has("chunked")) {
        res.writeHead(200);
        for (let i = 0; i < size; i += 1024) res.write(Buffer.alloc(Math.min(1024, size - i), 97));
        return res.end();
      }
      res.writeHead(200, { "content-length": size });
      return res.end(Buffer.alloc(size, 97));
    }
    if (url.pathname === "/slow") {
      setTimeout(() => res.end("late"), 2000);
      return;
    }
    res.writeHead(200, { "content-type": "application/json", "set-cookie": ["a=1", "b=2"] });
    res.end(JSON.stringify({ method: req.method, host: req.headers.host, body }));
  });
  other = await startServer("127.0.0.2", (_req, res) => res.end("PRIVATE"), main.port);
});

afterAll(async () => {
  for (const s of [main, other]) await new Promise((r) => s.server.close(r));
});

beforeEach(() => {
  main.log.length = 0;
  other.log.length = 0;
});

function http(options: { allowPrivate?: string[]; maxRedirects?: number; limits?: object; resolve?: typeof resolver } = {}): HttpHost {
  return createHttp({
    allowPrivate: options.allowPrivate,
    maxRedirects: options.maxRedirects,
    quota: makeQuota(options.limits),
    resolver: options.resolve ?? resolver,
  });
}

describe("http: the address guard refuses private targets before connecting", () => {
  it("has at least 25 URL and address spellings", () => {
    expect(URL_ATTACKS.length).toBeGreaterThanOrEqual(25);
  });

  it.each(URL_ATTACKS)("$url ($note) -> $expect, the server sees nothing", async ({ url, expect: tag }) => {
    const hops: string[] = [];
    const err = await guestError(() =>
      http().fetch({ method: "GET", url: url.replace("PORT", String(main.port)), headers: [] }, async (hop) => {
        hops.push(hop.url);
        return true;
      }),
    );
    expect(err.error.tag).toBe(tag);
    if (tag === "denied") expect(JSON.stringify(err.error.val)).toContain("address guard");
    expect(main.log).toEqual([]);
    expect(other.log).toEqual([]);
  });

  it("allowing one address does not allow its neighbours", async () => {
    const err = await guestError(() => http({ allowPrivate: ["127.0.0.1"] }).fetch({ method: "GET", url: `http://127.0.0.2:${main.port}/`, headers: [] }, allowAll));
    expect(err.error.tag).toBe("denied");
    expect(other.log).toEqual([]);
  });
});

describe("http: real requests to an allowed loopback server", () => {
  it("fetches by address, with status, headers and body", async () => {
    const res = await http({ allowPrivate: ["127.0.0.1"] }).fetch({ method: "post", url: `http://127.0.0.1:${main.port}/echo`, headers: [["x-test", "1"]], body: new TextEncoder().encode("hello") }, allowAll);
    expect(res.status).toBe(200);
    expect(JSON.parse(new TextDecoder().decode(res.body))).toEqual({ method: "POST", host: `127.0.0.1:${main.port}`, body: "hello" });
    expect(res.headers.filter(([k]) => k === "set-cookie").map(([, v]) => v)).toEqual(["a=1", "b=2"]);
    expect(main.log[0].headers["x-test"]).toBe("1");
    expect(main.log[0].headers.cookie).toBeUndefined();
    expect(main.log[0].headers.authorization).toBeUndefined();
  });

  it("reaches a host name that resolves to loopback, keeping the name as Host, with one DNS lookup", async () => {
    let lookups = 0;
    const counting = async (host: string) => {
      lookups++;
      return resolver(host);
    };
    const res = await http({ allowPrivate: ["127.0.0.1"], resolve: counting }).fetch({ method: "GET", url: `http://API.test:${main.port}/x`, headers: [] }, allowAll);
    expect(JSON.parse(new TextDecoder().decode(res.body)).host).toBe(`api.test:${main.port}`);
    expect(lookups).toBe(1);
  });

  it("allows a private target by host name", async () => {
    const res = await http({ allowPrivate: ["api.test"] }).fetch({ method: "GET", url: `http://api.test:${main.port}/`, headers: [] }, allowAll);
    expect(res.status).toBe(200);
  });

  it("DNS rebinding fails: the connection goes to the address that was checked", async () => {
    // First answer allowed (127.0.0.1), every later answer private and not allowed (127.0.0.2).
    let calls = 0;
    const rebinding = async () => [{ address: calls++ === 0 ? "127.0.0.1" : "127.0.0.2", family: 4 as const }];
    const res = await http({ allowPrivate: ["127.0.0.1"], resolve: rebinding }).fetch({ method: "GET", url: `http://rebind.test:${main.port}/`, headers: [] }, allowAll);
    expect(res.status).toBe(200);
    expect(main.log).toHaveLength(1);
    expect(other.log).toEqual([]);
    // The other way round: the first answer is refused and nothing connects.
    calls = 0;
    const flipped = async () => [{ address: calls++ === 0 ? "127.0.0.2" : "127.0.0.1", family: 4 as const }];
    expect(await outcome(() => http({ allowPrivate: ["127.0.0.1"], resolve: flipped }).fetch({ method: "GET", url: `http://rebind.test:${main.port}/`, headers: [] }, allowAll))).toBe("denied");
    expect(main.log).toHaveLength(1);
    expect(other.log).toEqual([]);
  });
});

describe("http: redirects", () => {
  const base = () => `http://127.0.0.1:${main.port}`;

  it("follows a redirect, asking the gate before every hop", async () => {
    const hops: string[] = [];
    const res = await http({ allowPrivate: ["127.0.0.1"] }).fetch({ method: "GET", url: `${base()}/redirect?to=/final`, headers: [] }, async (hop) => {
      hops.push(`${hop.method} ${hop.url}`);
      return true;
    });
    expect(res.status).toBe(200);
    expect(hops).toEqual([`GET ${base()}/redirect?to=/final`, `GET ${base()}/final`]);
  });

  it.each([
    ["to a private address", `http://127.0.0.2:PORT/`, "denied"],
    ["to the metadata service", "http://169.254.169.254/latest/meta-data/", "denied"],
    ["to a decimal loopback spelling not allowed", "http://2130706434:PORT/", "denied"],
    ["to a name resolving to metadata", "http://metadata.test/", "denied"],
    ["to file://", "file:///etc/passwd", "invalid"],
    ["to user info", "http://a@127.0.0.1:PORT/", "invalid"],
  ])("a redirect %s is refused", async (_name, to, tag) => {
    const target = encodeURIComponent(to.replace("PORT", String(main.port)));
    expect(await outcome(() => http({ allowPrivate: ["127.0.0.1"] }).fetch({ method: "GET", url: `${base()}/redirect?to=${target}`, headers: [] }, allowAll))).toBe(tag);
    expect(main.log).toHaveLength(1);
    expect(other.log).toEqual([]);
  });

  it("a hop the gate denies is not requested", async () => {
    let n = 0;
    const err = await guestError(() => http({ allowPrivate: ["127.0.0.1"] }).fetch({ method: "GET", url: `${base()}/redirect?to=/secret`, headers: [] }, async () => n++ === 0));
    expect(err.error.tag).toBe("denied");
    expect(main.log.map((l) => l.url)).toEqual(["/redirect?to=/secret"]);
  });

  it("stops after maxRedirects", async () => {
    expect(await outcome(() => http({ allowPrivate: ["127.0.0.1"], maxRedirects: 3 }).fetch({ method: "GET", url: `${base()}/loop`, headers: [] }, allowAll))).toBe("limit");
    expect(main.log).toHaveLength(4);
  });

  it("303 turns POST into GET without the body; credentials are not sent to another origin", async () => {
    const to = encodeURIComponent(`http://api.test:${main.port}/after`);
    const res = await http({ allowPrivate: ["127.0.0.1"] }).fetch(
      { method: "POST", url: `${base()}/redirect?status=303&to=${to}`, headers: [["authorization", "Bearer guest"], ["content-type", "text/plain"]], body: new TextEncoder().encode("payload") },
      allowAll,
    );
    expect(res.status).toBe(200);
    expect(main.log[0].headers.authorization).toBe("Bearer guest");
    expect(main.log[1]).toMatchObject({ method: "GET", body: "" });
    expect(main.log[1].headers.authorization).toBeUndefined();
    expect(main.log[1].headers["content-type"]).toBeUndefined();
  });
});

describe("http: headers, bodies and time", () => {
  const url = () => `http://127.0.0.1:${main.port}/`;
  const forbidden = ["Host", "host", "Connection", "Keep-Alive", "Proxy-Authorization", "proxy-connection", "Transfer-Encoding", "TE", "Trailer", "Upgrade", "Content-Length", "Expect"];

  it.each(forbidden)("refuses the guest header %s", async (name) => {
    expect(await outcome(() => http({ allowPrivate: ["127.0.0.1"] }).fetch({ method: "GET", url: url(), headers: [[name, "x"]] }, allowAll))).toBe("invalid");
    expect(main.log).toEqual([]);
  });

  it.each([
    [["x-a", "1\r\nHost: evil"]],
    [["bad name", "1"]],
    [["x-a", "a\0b"]],
  ])("refuses a malformed header %j", async (header) => {
    expect(await outcome(() => http({ allowPrivate: ["127.0.0.1"] }).fetch({ method: "GET", url: url(), headers: [header as [string, string]] }, allowAll))).toBe("invalid");
    expect(main.log).toEqual([]);
  });

  it.each(["CONNECT", "TRACE", "GET /x HTTP/1.1", ""])("refuses the method %j", async (method) => {
    expect(await outcome(() => http({ allowPrivate: ["127.0.0.1"] }).fetch({ method, url: url(), headers: [] }, allowAll))).toBe("invalid");
    expect(main.log).toEqual([]);
  });

  it("caps the request body before sending", async () => {
    expect(await outcome(() => http({ allowPrivate: ["127.0.0.1"], limits: { httpBody: 10 } }).fetch({ method: "POST", url: url(), headers: [], body: new Uint8Array(11) }, allowAll))).toBe("limit");
    expect(main.log).toEqual([]);
  });

  it.each(["", "&chunked=1"])("caps the response body (%s)", async (mode) => {
    const limits = { httpBody: 64 * 1024 };
    expect(await outcome(() => http({ allowPrivate: ["127.0.0.1"], limits }).fetch({ method: "GET", url: `${url()}big?size=${200 * 1024}${mode}`, headers: [] }, allowAll))).toBe("limit");
    const ok = await http({ allowPrivate: ["127.0.0.1"], limits }).fetch({ method: "GET", url: `${url()}big?size=${64 * 1024}${mode}`, headers: [] }, allowAll);
    expect(ok.body.byteLength).toBe(64 * 1024);
  });

  it("times out", async () => {
    const t0 = Date.now();
    expect(await outcome(() => http({ allowPrivate: ["127.0.0.1"], limits: { httpTimeout: 200 } }).fetch({ method: "GET", url: `${url()}slow`, headers: [] }, allowAll))).toBe("limit");
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it("a refused connection is io, naming no host detail", async () => {
    const err = await guestError(() => http({ allowPrivate: ["127.0.0.1"] }).fetch({ method: "GET", url: "http://127.0.0.1:1/", headers: [] }, allowAll));
    expect(err.error.tag).toBe("io");
  });
});

describe("dnsResolver: given DNS servers, not the system's", () => {
  it("asks the server for A and AAAA, every answer; a name without one does not resolve", async () => {
    const dns = await startDnsServer((name) => (name === "two.test" ? ["93.184.216.34", "127.0.0.1"] : []));
    try {
      const resolve = dnsResolver([dns.address]);
      expect(await resolve("TWO.test")).toEqual([
        { address: "93.184.216.34", family: 4 },
        { address: "127.0.0.1", family: 4 },
      ]);
      expect(dns.queries.filter((q) => q.name === "two.test").map((q) => q.type).sort()).toEqual(["A", "AAAA"]);
      await expect(resolve("none.test")).rejects.toThrow();
      // The guard sees the whole answer: one private address refuses the name.
      expect(await outcome(() => resolveChecked("two.test", NO_PRIVATE, resolve))).toBe("denied");
    } finally {
      await dns.close();
    }
  });

  it("refuses a server that is not an address, and no server at all", () => {
    for (const bad of [["dns.example"], ["1.2.3.4:notaport"], []]) expect(() => dnsResolver(bad)).toThrow(UsageError);
  });
});

describe("net-guard", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["10.1.2.3", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.1", "public"],
    ["192.168.1.1", "private"],
    ["169.254.169.254", "cloud-metadata"],
    ["169.254.1.1", "link-local"],
    ["100.64.0.1", "cgnat"],
    ["100.128.0.1", "public"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["224.0.0.251", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["8.8.8.8", "public"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["::ffff:8.8.8.8", "ipv4-mapped"],
    ["::ffff:127.0.0.1", "ipv4-mapped"],
    ["[::ffff:7f00:1]", "ipv4-mapped"],
    ["fc00::1", "unique-local"],
    ["fdff:ffff::1", "unique-local"],
    ["fe80::1", "link-local"],
    ["fd00:ec2::254", "cloud-metadata"],
    ["2002:7f00:1::1", "ipv4-translated"],
    ["2606:4700:4700::1111", "public"],
  ])("classifies %s as %s", (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });

  it("parses --allow-private entries and refuses nonsense", () => {
    const allow = parseAllowPrivate(["127.0.0.1", "10.0.0.0/8", "fd00::/8", "Localhost"]);
    expect([...allow.hosts]).toEqual(["localhost"]);
    expect(allow.cidrs.map((c) => c.prefix)).toEqual([32, 8, 8]);
    for (const bad of ["10.0.0.0/33", "not a host", "1.2.3.4/x", "-bad-"]) expect(() => parseAllowPrivate([bad])).toThrow(UsageError);
  });

  it("checks every DNS answer and returns the one checked", async () => {
    expect(await resolveChecked("8.8.8.8", NO_PRIVATE, resolver)).toEqual({ address: "8.8.8.8", family: 4 });
    const pub = async () => [{ address: "93.184.216.34", family: 4 as const }];
    expect(await resolveChecked("example.test", NO_PRIVATE, pub)).toEqual({ address: "93.184.216.34", family: 4 });
    expect(await outcome(() => resolveChecked("mixed.test", NO_PRIVATE, resolver))).toBe("denied");
    expect(await outcome(() => resolveChecked("nowhere.test", NO_PRIVATE, resolver))).toBe("io");
    expect(await outcome(() => resolveChecked("empty.test", NO_PRIVATE, async () => []))).toBe("io");
    expect(await resolveChecked("[::1]", parseAllowPrivate(["::1"]), resolver)).toEqual({ address: "::1", family: 6 });
  });
});

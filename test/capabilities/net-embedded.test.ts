/**
 * The address guard and IPv6 forms that carry an IPv4 address (issue 13, item 5): every form, in
 * every spelling, by the guard's decision, then through a real agent in a KernelSpace (URL
 * literals, a real DNS server's AAAA answers, a resolver's odd spellings) against a server on
 * 127.0.0.1 that must see no request. Before the fix, `::ffff:0:7f00:1` (IPv4-translated, SIIT)
 * passed the guard and the kernel tried to connect.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelSpace, dnsResolver } from "../../dist/runtime/index.js";
import { NO_PRIVATE, classifyAddress, parseAllowPrivate, resolveChecked } from "../../dist/runtime/capabilities/net-guard.js";
import type * as Guest from "../../dist/guest-sdk/index.js";
import { startDnsServer, type DnsServer } from "./dns-server.js";
import { guestError } from "./helpers.js";

/** Spellings of IPv6 forms carrying a refused IPv4 address, with the kind the guard must name. */
const REFUSED: [string, string, string][] = [
  // [address, kind, what it carries]
  ["::ffff:127.0.0.1", "ipv4-mapped", "127.0.0.1"],
  ["::ffff:7f00:1", "ipv4-mapped", "127.0.0.1"],
  ["::FFFF:7F00:0001", "ipv4-mapped", "127.0.0.1"],
  ["0000:0000:0000:0000:0000:ffff:127.0.0.1", "ipv4-mapped", "127.0.0.1"],
  ["[::ffff:a9fe:a9fe]", "ipv4-mapped", "169.254.169.254"],
  ["::ffff:0:127.0.0.1", "ipv4-translated", "127.0.0.1"],
  ["::ffff:0:7f00:1", "ipv4-translated", "127.0.0.1"],
  ["0:0:0:0:ffff:0:7f00:1", "ipv4-translated", "127.0.0.1"],
  ["0000:0000:0000:0000:FFFF:0000:7F00:0001", "ipv4-translated", "127.0.0.1"],
  ["::ffff:0:a00:1", "ipv4-translated", "10.0.0.1"],
  ["::ffff:0:169.254.169.254", "ipv4-translated", "169.254.169.254"],
  ["[::ffff:0:c0a8:101]", "ipv4-translated", "192.168.1.1"],
  ["::127.0.0.1", "ipv4-compatible", "127.0.0.1"],
  ["::7f00:1", "ipv4-compatible", "127.0.0.1"],
  ["0:0:0:0:0:0:a00:1", "ipv4-compatible", "10.0.0.1"],
  ["64:ff9b::127.0.0.1", "ipv4-translated", "127.0.0.1"],
  ["64:ff9b::7f00:1", "ipv4-translated", "127.0.0.1"],
  ["64:FF9B:0:0:0:0:7F00:1", "ipv4-translated", "127.0.0.1"],
  ["0064:ff9b:0000:0000:0000:0000:a9fe:a9fe", "ipv4-translated", "169.254.169.254"],
  ["64:ff9b::192.168.1.1", "ipv4-translated", "192.168.1.1"],
  ["64:ff9b::6440:1", "ipv4-translated", "100.64.0.1"],
  ["64:ff9b:1::7f00:1", "ipv4-translated", ""],
  ["64:ff9b:1:7f00:1::", "ipv4-translated", ""],
  ["64:ff9b:1:ffff::808:808", "ipv4-translated", ""],
  ["2002:7f00:1::", "ipv4-translated", "127.0.0.1"],
  ["2002:7f00:0001::1", "ipv4-translated", "127.0.0.1"],
  ["2002:a9fe:a9fe::1", "ipv4-translated", "169.254.169.254"],
  ["2002:0a00:0001:0:0:0:0:1", "ipv4-translated", "10.0.0.1"],
  ["2002:C0A8:0101::", "ipv4-translated", "192.168.1.1"],
  ["2001:0:7f00:1::f7f7:f7f7", "ipv4-translated", "127.0.0.1"], // Teredo server loopback, client 8.8.8.8
  ["2001:0:808:808::80ff:fffe", "ipv4-translated", "127.0.0.1"], // Teredo client 127.0.0.1 (inverted)
  ["2001:0000:0808:0808:0000:0000:80FF:FFFE", "ipv4-translated", "127.0.0.1"],
  ["2001:0:808:808:8000:ffff:f5ff:fffe", "ipv4-translated", "10.0.0.1"],
  ["2001:0:a9fe:a9fe::f7f7:f7f7", "ipv4-translated", "169.254.169.254"],
];

/** Forms that reach their IPv4 address through a translator or relay, carrying a public one. */
const PUBLIC: string[] = ["64:ff9b::808:808", "64:ff9b::8.8.8.8", "2002:808:808::1", "2001:0:808:808::f7f7:f7f7", "2606:4700:4700::1111"];

describe("the address guard's decision on IPv6 forms that carry an IPv4 address", () => {
  it.each(REFUSED)("%s is %s and refused", async (address, kind, carries) => {
    expect(classifyAddress(address)).toBe(kind);
    const err = await guestError(() => resolveChecked(address, NO_PRIVATE, async () => []));
    expect(err.error.tag).toBe("denied");
    const reason = (err.error.val as { reason: string }).reason;
    expect(reason).toMatch(/^address guard: /);
    if (carries) expect(reason).toMatch(new RegExp(`carrying .*${carries.replace(/\./g, "\\.")}`));
  });

  it.each(PUBLIC)("%s carries a public address and is reachable", async (address) => {
    expect(classifyAddress(address)).toBe("public");
    expect(await resolveChecked(address, NO_PRIVATE, async () => [])).toEqual({ address, family: 6 });
  });

  it("an IPv4-mapped address is refused whatever it carries: the host itself connects there", () => {
    expect(classifyAddress("::ffff:8.8.8.8")).toBe("ipv4-mapped");
    expect(classifyAddress("::ffff:0:8.8.8.8")).toBe("ipv4-translated");
    expect(classifyAddress("::8.8.8.8")).toBe("ipv4-compatible");
  });

  it("the same form returned by a resolver, in any spelling, is refused", async () => {
    for (const [address] of REFUSED.filter(([a]) => !a.startsWith("["))) {
      const err = await guestError(() => resolveChecked("name.test", NO_PRIVATE, async () => [{ address, family: 6 }]));
      expect((err.error.val as { reason: string }).reason, address).toContain(`${address} (resolved from name.test)`);
    }
  });

  it("allowing 127.0.0.1 does not allow IPv6 forms that carry it", async () => {
    const allow = parseAllowPrivate(["127.0.0.1"]);
    for (const address of ["::ffff:127.0.0.1", "::ffff:0:7f00:1", "64:ff9b::7f00:1", "2002:7f00:1::"]) {
      expect((await guestError(() => resolveChecked(address, allow, async () => []))).error.tag).toBe("denied");
    }
  });
});

/** Fetches every URL of its task and reports what each answered. */
async function fetcher(task: string, { http }: typeof Guest): Promise<string> {
  const told: { tag: string; reason?: string }[] = [];
  for (const url of JSON.parse(task) as string[]) {
    try {
      const res = await http.fetch(url);
      told.push({ tag: "ok", reason: `${res.status} ${res.text()}` });
    } catch (error) {
      const e = error as { name?: string; kind?: string; reason?: string; detail?: string; message?: string };
      told.push({ tag: e.name === "PermissionDenied" ? "denied" : (e.kind ?? "thrown"), reason: e.reason ?? e.detail ?? String(e.message) });
    }
  }
  return JSON.stringify(told);
}

describe("through a real agent: a server on 127.0.0.1 sees no request", () => {
  let server: Server;
  let port: number;
  const seen: string[] = [];
  let dns: DnsServer;
  const open = { version: 1, name: "open", default: "deny", rules: [{ id: "any-url", action: "http.fetch", effect: "allow" }] };

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.socket.remoteAddress} ${req.url}`);
      res.end("LOOPBACK");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
    const records: Record<string, string[]> = {};
    REFUSED.forEach(([address], i) => (records[`form${i}.test`] = [address.replace(/^\[|\]$/g, "")]));
    dns = await startDnsServer(() => [], records);
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await dns.close();
  });

  async function run(kernel: KernelSpace, urls: string[]): Promise<{ tag: string; reason?: string }[]> {
    try {
      const result = await kernel.execute(kernel.register(fetcher), JSON.stringify(urls));
      expect(result.status, result.error).toBe("ok");
      return JSON.parse(result.output!) as { tag: string; reason?: string }[];
    } finally {
      await kernel.close();
    }
  }

  it("the server answers when 127.0.0.1 itself is allowed (the test can see a request)", async () => {
    const told = await run(new KernelSpace({ policy: open, log: false, allowPrivate: ["127.0.0.1"], pool: { warm: 1 } }), [`http://127.0.0.1:${port}/control`]);
    expect(told).toEqual([{ tag: "ok", reason: "200 LOOPBACK" }]);
    expect(seen).toEqual(["127.0.0.1 /control"]);
    seen.length = 0;
  });

  it("URL literals of every form are refused by the guard, before any connection", async () => {
    const urls = REFUSED.map(([address]) => `http://[${address.replace(/^\[|\]$/g, "")}]:${port}/literal`);
    const told = await run(new KernelSpace({ policy: open, log: false, allowPrivate: ["127.0.0.1"], pool: { warm: 1 } }), urls);
    told.forEach((t, i) => {
      expect(t.tag, `${urls[i]}: ${JSON.stringify(t)}`).toBe("denied");
      expect(t.reason, urls[i]).toMatch(/^address guard: /);
    });
    expect(seen).toEqual([]);
  });

  it("names whose AAAA answers (from a real DNS server) carry a refused address are refused", async () => {
    const urls = REFUSED.map((_r, i) => `http://form${i}.test:${port}/named`);
    const kernel = new KernelSpace({ policy: open, log: false, allowPrivate: ["127.0.0.1"], resolver: dnsResolver([dns.address]), pool: { warm: 1 } });
    const told = await run(kernel, urls);
    told.forEach((t, i) => {
      expect(t.tag, `${urls[i]}: ${JSON.stringify(t)}`).toBe("denied");
      expect(t.reason, urls[i]).toMatch(new RegExp(`^address guard: .* \\(resolved from form${i}\\.test\\)`));
    });
    expect(dns.queries.filter((q) => q.type === "AAAA").map((q) => q.name)).toEqual(expect.arrayContaining(REFUSED.map((_r, i) => `form${i}.test`)));
    expect(seen).toEqual([]);
  });

  it("a resolver's own spellings (zero-padded, upper case, dotted tail) are refused too", async () => {
    const spelled = REFUSED.map(([address]) => address.replace(/^\[|\]$/g, ""));
    const resolver = async (host: string) => [{ address: spelled[Number(/^form(\d+)\.test$/.exec(host)?.[1] ?? -1)] ?? "::1", family: 6 as const }];
    const kernel = new KernelSpace({ policy: open, log: false, allowPrivate: ["127.0.0.1"], resolver, pool: { warm: 1 } });
    const told = await run(kernel, spelled.map((_a, i) => `http://form${i}.test:${port}/spelled`));
    told.forEach((t, i) => expect(t.tag, `${spelled[i]}: ${JSON.stringify(t)}`).toBe("denied"));
    expect(seen).toEqual([]);
  });
});

/**
 * URL paths whose meaning depends on the server (issue 13, item 4), attacked through a real agent
 * in a KernelSpace under a policy that allows `/allowed/**` and denies `/allowed/private/**`, on
 * three servers on 127.0.0.1 that decode and normalize paths as real servers do (path-servers.ts):
 * a decoding one (Python's http.server, proxies), a Tomcat-like one (`;` path parameters), and
 * the real `python3 -m http.server`. Every spelling must be refused as `invalid` before any
 * request, so the servers see none; every legitimate URL still goes through.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelSpace } from "../../dist/runtime/index.js";
import type * as Guest from "../../dist/guest-sdk/index.js";
import { hasPython, startDecodingServer, startPythonServer, startTomcatLikeServer, type PathServer } from "./path-servers.js";

/** Spellings that some server below reads as a path outside `/allowed/` or inside `/allowed/private/`. */
const ATTACKS = [
  "/allowed/..%2fsecret/x",
  "/allowed/..%2Fsecret/x",
  "/allowed/%2e%2e%2fsecret/x",
  "/allowed/%2E%2e%2Fsecret/x",
  "/allowed/.%2e%2fsecret/x",
  "/allowed/%2e.%2fsecret/x",
  "/allowed/..%5csecret/x",
  "/allowed/..%5Csecret%5Cx",
  "/allowed/%2e%2e%5csecret/x",
  "/allowed/private%2fkey",
  "/allowed/..;/secret/x",
  "/allowed/..;jsessionid=1/secret/x",
  "/allowed/.;/private/key",
  "/allowed/private;x/key",
  "/allowed/private;/key",
  "/allowed//private/key",
  "/allowed/x//..//private/key",
  "/allowed/%252e%252e%252fsecret/x",
  "/allowed/%252e%252e/secret/x",
  "/allowed/%25252e%25252e%25252fsecret/x",
  "/allowed/..%252fsecret/x",
  "/allowed/%c0%ae%c0%ae/secret/x",
  "/allowed/%C0%AE%C0%AE%C0%AFsecret/x",
  "/allowed/..%c0%afsecret/x",
  "/allowed/%e0%80%ae%e0%80%ae/secret/x",
  "/allowed/%u002e%u002e/secret/x",
  "/allowed/..%u002fsecret/x",
  "/allowed/%ef%bc%8e%ef%bc%8e/secret/x",
  "/allowed/..%ef%bc%8fsecret/x",
  "/allowed/..%EF%BC%BCsecret/x",
  "/allowed/%e2%80%a5/secret/x",
  "/allowed/..%20/secret/x",
  "/allowed/%20..%20/secret/x",
  "/allowed/..%00/secret/x",
];

/** Legitimate URLs: each must reach the server as written, and be served under /allowed/. */
const LEGIT = [
  "/allowed/ok.txt",
  "/allowed/a%20b",
  "/allowed/a+b",
  "/allowed/a%2Bb",
  "/allowed/caf%C3%A9",
  "/allowed/%E6%97%A5%E6%9C%AC%E8%AA%9E",
  "/allowed/%E2%82%AC%F0%9F%98%80",
  "/allowed/50%25",
  "/allowed/%3Bsemi",
  "/allowed/a.b/c..d/...e/..x/.hidden",
  "/allowed/v1.2/",
  "/allowed/~user/@me/a,b",
  "/allowed/x?next=%2F..%2Fsecret%2Fx&u=https%3A%2F%2Fe.example%2F..%2F",
  "/allowed/x?a=/../../secret;b=..;/",
];

/** Fetches every URL of its task, in order, and reports what each answered. */
async function fetcher(task: string, { http }: typeof Guest): Promise<string> {
  const told: { tag: string; status?: number; body?: string; reason?: string }[] = [];
  for (const url of JSON.parse(task) as string[]) {
    try {
      const res = await http.fetch(url);
      told.push({ tag: "ok", status: res.status, body: res.text() });
    } catch (error) {
      const e = error as { name?: string; kind?: string; reason?: string; detail?: string; message?: string };
      told.push({ tag: e.name === "PermissionDenied" ? "denied" : (e.kind ?? "thrown"), reason: e.reason ?? e.detail ?? String(e.message) });
    }
  }
  return JSON.stringify(told);
}

/** Requests a raw path directly (not through the kernel): what the server makes of it. */
function direct(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, method: "GET" }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", (error) => resolve({ status: 0, body: `no answer (${error.message})` })); // python3 drops the connection on %00
    req.end();
  });
}

const forbidden = (body: string) => /^served /.test(body) && !/^served \/allowed\/(?!private(\/|$))/.test(body);

let servers: PathServer[] = [];
let pythonRoot: string | undefined;
let kernel: KernelSpace;

beforeAll(async () => {
  servers = [await startDecodingServer(), await startTomcatLikeServer()];
  if (hasPython()) {
    pythonRoot = mkdtempSync(join(tmpdir(), "agent-os-python-"));
    servers.push(await startPythonServer(pythonRoot));
  }
  const at = (path: string) => servers.map((s) => `http://127.0.0.1:${s.port}${path}`);
  kernel = new KernelSpace({
    policy: {
      version: 1,
      name: "allowed-only",
      default: "deny",
      rules: [
        { id: "no-private", action: "http.fetch", resource: at("/allowed/private/**"), effect: "deny" },
        { id: "allowed", action: "http.fetch", resource: at("/allowed/**"), effect: "allow" },
      ],
    },
    allowPrivate: ["127.0.0.1"],
    log: false,
    pool: { warm: 1 },
  });
});

afterAll(async () => {
  await kernel?.close();
  for (const s of servers) await s.close();
  if (pythonRoot) rmSync(pythonRoot, { recursive: true, force: true });
});

describe("URL paths whose meaning depends on the server", () => {
  it("runs against the real python3 http.server too", () => {
    if (!hasPython()) console.warn("python3 is not installed: only the two emulating servers are attacked");
    expect(servers.length).toBeGreaterThanOrEqual(2);
  });

  it("every spelling is a real attack: asked directly, some server serves a path the policy denies", async () => {
    for (const path of ATTACKS) {
      const answers = await Promise.all(servers.map(async (s) => `${s.name}: ${(await direct(s.port, path)).body}`));
      expect(answers.some((a) => forbidden(a.replace(/^\w+: /, ""))), `${path} -> ${answers.join(" | ")}`).toBe(true);
    }
    for (const s of servers) {
      await s.sync();
      s.log.length = 0;
    }
  });

  it("a real agent is refused every spelling as invalid, and no server sees a request", async () => {
    const urls = servers.flatMap((s) => ATTACKS.map((path) => `http://127.0.0.1:${s.port}${path}`));
    const result = await kernel.execute(kernel.register(fetcher), JSON.stringify(urls));
    expect(result.status, result.error).toBe("ok");
    const told = JSON.parse(result.output!) as { tag: string; reason?: string; body?: string }[];
    told.forEach((t, i) => {
      expect(t.tag, `${urls[i]}: ${JSON.stringify(t)}`).toBe("invalid");
      expect(t.reason).toMatch(/a URL path whose meaning depends on the server/);
    });
    for (const s of servers) {
      await s.sync();
      expect(s.log, s.name).toEqual([]);
    }
  });

  it("a redirect to such a spelling is refused before it is followed", async () => {
    const [decoding] = servers;
    const base = `http://127.0.0.1:${decoding.port}`;
    const urls = ["/allowed/..%2fsecret/x", "/allowed/..;/secret/x", "/allowed/%252e%252e%252fsecret/x"].map(
      (to) => `${base}/allowed/redirect?to=${encodeURIComponent(to)}`,
    );
    const result = await kernel.execute(kernel.register(fetcher), JSON.stringify(urls));
    const told = JSON.parse(result.output!) as { tag: string; reason?: string }[];
    expect(told.map((t) => t.tag)).toEqual(["invalid", "invalid", "invalid"]);
    expect(told[0].reason).toMatch(/redirect .* to an unusable location: a URL path whose meaning depends on the server/);
    await decoding.sync();
    expect(decoding.log).toEqual(urls.map((u) => `GET ${u.slice(base.length)}`));
    decoding.log.length = 0;
  });

  it("legitimate URLs still reach every server, as written, and are served under /allowed/", async () => {
    const urls = servers.flatMap((s) => (s.name === "python" ? ["/allowed/ok.txt"] : LEGIT).map((path) => `http://127.0.0.1:${s.port}${path}`));
    const result = await kernel.execute(kernel.register(fetcher), JSON.stringify(urls));
    expect(result.status, result.error).toBe("ok");
    const told = JSON.parse(result.output!) as { tag: string; status?: number; body?: string }[];
    told.forEach((t, i) => {
      expect(t, urls[i]).toMatchObject({ tag: "ok", status: 200 });
      expect(t.body, urls[i]).toMatch(/^served \/allowed\//);
      expect(forbidden(t.body!), urls[i]).toBe(false);
    });
    for (const s of servers) {
      await s.sync();
      const expected = (s.name === "python" ? ["/allowed/ok.txt"] : LEGIT).map((p) => `GET ${p.replace("日本語", "%E6%97%A5%E6%9C%AC%E8%AA%9E")}`);
      expect(s.log, s.name).toEqual(expected);
      s.log.length = 0;
    }
  });
});

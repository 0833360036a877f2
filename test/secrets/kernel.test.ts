/**
 * Secrets the agent never sees, attacked for real: a registered agent on QuickJS (in a worker,
 * through the channel and the gate) fetches from real servers on 127.0.0.1 while the policy
 * names a secret for one of them. Afterwards the host is checked: what each server received,
 * what the agent returned, and what the LevelDB log holds (read back with `agent-os log --json`).
 *
 * The value has characters that JSON and percent-encoding change (`/ + " =`), so that each echo
 * form is really a different byte string.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KernelSpace, PolicyError, type RunResult } from "../../dist/runtime/index.js";
import type * as Guest from "../../dist/guest-sdk/index.js";
import { agentOs } from "../cli/helpers.js";
import { tempDir } from "../capabilities/helpers.js";

const ENV = "AOS_TEST_SECRET_TOKEN";
const VALUE = 'sk-Zq9/81+kd"x=very-secret-7f3a';
const FORMATTED = `Bearer ${VALUE}`;

interface Seen {
  url: string;
  headers: IncomingMessage["headers"];
  raw: string[];
}

interface TestServer {
  server: Server;
  port: number;
  origin: string;
  seen: Seen[];
}

/** Answers with what the request carried, in the form `?as=` asks for. */
function echo(req: IncomingMessage, res: ServerResponse, as: string): void {
  const auth = String(req.headers.authorization ?? "");
  const json = JSON.stringify({ headers: req.headers });
  const bodies: Record<string, () => string | Buffer> = {
    json: () => json,
    php: () => json.replace(/\//g, "\\/"),
    raw: () => `you sent: ${auth}`,
    url: () => `token=${encodeURIComponent(auth)}&x=1`,
    form: () => new URLSearchParams({ token: auth }).toString(),
    base64: () => JSON.stringify({ blob: Buffer.from(`prefix-${auth}-suffix`).toString("base64") }),
    base64at1: () => JSON.stringify({ blob: Buffer.from(`p-${auth}`).toString("base64") }),
  };
  if (as === "header") {
    res.writeHead(200, { "x-echo": auth, "x-raw-value": auth.replace(/^Bearer /, "") });
    res.end("see the headers");
  } else if (as === "gzip") {
    res.writeHead(200, { "content-encoding": "gzip", "content-type": "application/json" });
    res.end(gzipSync(json));
  } else {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end((bodies[as] ?? bodies.json)());
  }
}

async function startServer(): Promise<TestServer> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? "", headers: req.headers, raw: req.rawHeaders });
    const url = new URL(req.url ?? "/", "http://x");
    const to = url.searchParams.get("to");
    if (url.pathname === "/redirect" && to) {
      res.writeHead(302, { location: to });
      return res.end();
    }
    if (url.pathname === "/leak-location") {
      res.writeHead(302, { location: `${to ?? "/"}?t=${encodeURIComponent(String(req.headers.authorization))}` });
      return res.end();
    }
    if (url.pathname === "/echo") return echo(req, res, url.searchParams.get("as") ?? "json");
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("hello");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return { server, port, origin: `http://127.0.0.1:${port}`, seen };
}

/** The agent: fetches each URL with its headers and reports status, headers and body (or the error). */
async function prober(task: string, { http }: typeof Guest): Promise<string> {
  const calls = JSON.parse(task) as { url: string; headers?: Record<string, string> }[];
  const out: unknown[] = [];
  for (const call of calls) {
    try {
      const res = await http.fetch(call.url, { headers: call.headers });
      out.push({ status: res.status, headers: res.headers, body: res.text() });
    } catch (error) {
      const e = error as { name?: string; kind?: string; detail?: string; reason?: string; message?: string };
      out.push({ error: e.name, kind: e.kind, message: e.detail ?? e.reason ?? e.message });
    }
  }
  return JSON.stringify(out);
}

/** Every form of the value a leak could take in text this test reads. */
function leaks(text: string): boolean {
  const forms = [VALUE, JSON.stringify(VALUE).slice(1, -1), encodeURIComponent(VALUE), Buffer.from(VALUE).toString("base64").slice(0, 24), "very-secret-7f3a"];
  return forms.some((f) => text.includes(f));
}

/** Text of a log line with every `$bytes` decoded, so that a value inside a recorded body is found. */
function decodedLog(stdout: string): string {
  return stdout.replace(/\{"\$bytes":"([A-Za-z0-9+/=]*)"\}/g, (_m, b64: string) => JSON.stringify(Buffer.from(b64, "base64").toString("latin1")));
}

let api: TestServer; // the secret's origin
let other: TestServer; // another origin: it must never see the value
let dir: ReturnType<typeof tempDir>;
let kernel: KernelSpace;

const policyFor = (origins: string[]) => ({
  version: 1,
  name: "secrets-test",
  default: "deny",
  rules: [
    { id: "basics", action: ["log.write", "clock.now", "random.bytes", "process.*"], effect: "allow" },
    { id: "loopback", action: "http.fetch", resource: "http://127.0.0.1:*/**", effect: "allow" },
  ],
  secrets: [{ name: "api", env: ENV, origins, header: "Authorization", format: "Bearer {value}" }],
});

async function run(calls: { url: string; headers?: Record<string, string> }[]): Promise<{ result: RunResult; told: Record<string, unknown>[] }> {
  const result = await kernel.execute(kernel.register(prober), JSON.stringify(calls));
  expect(result.status, result.error).toBe("ok");
  return { result, told: JSON.parse(result.output ?? "[]") as Record<string, unknown>[] };
}

beforeAll(async () => {
  api = await startServer();
  other = await startServer();
});

afterAll(async () => {
  for (const s of [api, other]) await new Promise((r) => s.server.close(r));
});

beforeEach(() => {
  process.env[ENV] = VALUE;
  api.seen.length = 0;
  other.seen.length = 0;
  dir = tempDir("secrets");
  kernel = new KernelSpace({ policy: policyFor([api.origin]), allowPrivate: ["127.0.0.1"], log: { dir: dir.path }, pool: { warm: 1 }, cache: false });
});

afterEach(async () => {
  delete process.env[ENV];
  await kernel.close();
  dir.cleanup();
});

describe("secrets: injected at egress, to their origins only", () => {
  it("the secret's origin receives the header with the value; the agent's own header of that name is dropped", async () => {
    const { told } = await run([
      { url: `${api.origin}/a` },
      { url: `${api.origin}/b`, headers: { authorization: "Bearer guest-chosen", AUTHORIZATION: "x", "x-other": "kept" } },
    ]);
    expect(told.map((t) => t.status)).toEqual([200, 200]);
    expect(api.seen).toHaveLength(2);
    for (const seen of api.seen) expect(seen.headers.authorization).toBe(FORMATTED);
    // One Authorization header only: the agent's two spellings were dropped, its other header kept.
    expect(api.seen[1].raw.filter((_v, i) => i % 2 === 0 && /^authorization$/i.test(api.seen[1].raw[i]))).toHaveLength(1);
    expect(api.seen[1].headers["x-other"]).toBe("kept");
    expect(api.seen[1].headers["accept-encoding"]).toBe("identity");
  });

  it("another origin never sees the value, even when the agent names the header", async () => {
    const { told } = await run([{ url: `${other.origin}/x` }, { url: `${other.origin}/y`, headers: { Authorization: "Bearer guest-chosen" } }]);
    expect(told.map((t) => t.status)).toEqual([200, 200]);
    expect(other.seen[0].headers.authorization).toBeUndefined();
    expect(other.seen[1].headers.authorization).toBe("Bearer guest-chosen"); // the agent's own, not the secret
    expect(leaks(JSON.stringify(other.seen))).toBe(false);
  });

  it("a redirect to another origin does not carry it; a redirect onto the secret's origin does (hop by hop)", async () => {
    const away = `${api.origin}/redirect?to=${encodeURIComponent(`${other.origin}/landed`)}`;
    const back = `${other.origin}/redirect?to=${encodeURIComponent(`${api.origin}/home`)}`;
    const { told, result } = await run([{ url: away }, { url: back }]);
    expect(told.map((t) => t.status)).toEqual([200, 200]);
    expect(api.seen.map((s) => [s.url.split("?")[0], s.headers.authorization])).toEqual([
      ["/redirect", FORMATTED],
      ["/home", FORMATTED],
    ]);
    expect(other.seen.map((s) => s.url.split("?")[0])).toEqual(["/landed", "/redirect"]);
    expect(leaks(JSON.stringify(other.seen))).toBe(false);
    expect(leaks(JSON.stringify(result))).toBe(false);
  });

  it("a redirect whose location holds the value is not followed, and the other origin sees nothing", async () => {
    const { told, result } = await run([{ url: `${api.origin}/leak-location?to=${encodeURIComponent(`${other.origin}/steal`)}` }]);
    expect(told[0]).toMatchObject({ error: "PermissionDenied" });
    expect(String(told[0].message)).toContain("location holds a secret");
    expect(api.seen[0].headers.authorization).toBe(FORMATTED);
    expect(other.seen).toEqual([]);
    expect(leaks(JSON.stringify(told))).toBe(false);
    // The call failed, but it did carry the secret: its result event says so.
    const log = await kernel.log;
    const results = [];
    for await (const e of log.query({ runId: result.runId, type: "result" })) results.push(e.data);
    expect(results).toEqual([expect.objectContaining({ err: expect.objectContaining({ tag: "denied" }), secrets: ["api"] })]);
    expect(leaks(JSON.stringify(results))).toBe(false);
  });

  it("a variable that is not set fails the call with io, and the server sees nothing", async () => {
    delete process.env[ENV];
    const { told, result } = await run([{ url: `${api.origin}/a` }]);
    expect(told[0]).toMatchObject({ error: "KernelError", kind: "io" });
    expect(String(told[0].message)).toContain(`${ENV} is not set`);
    expect(api.seen).toEqual([]);
    expect(result.denials).toEqual([]);
  });

  it("the value is read at call time: a rotated value is the one sent", async () => {
    process.env[ENV] = `${VALUE}-rotated`;
    await run([{ url: `${api.origin}/a` }]);
    expect(api.seen[0].headers.authorization).toBe(`${FORMATTED}-rotated`);
  });
});

describe("secrets: echoes come back as [secret:NAME], to the agent and into the log", () => {
  const FORMS = ["json", "php", "raw", "url", "form", "base64", "base64at1", "gzip"];

  it.each(FORMS)("an echo in the body (%s) reaches the agent scrubbed", async (as) => {
    const { told } = await run([{ url: `${api.origin}/echo?as=${as}`, headers: { "accept-encoding": "gzip" } }]);
    expect(api.seen[0].headers.authorization).toBe(FORMATTED); // the server did get it
    expect(told[0].status).toBe(200);
    expect(String(told[0].body)).toContain("[secret:api]");
    expect(leaks(JSON.stringify(told))).toBe(false);
  });

  it("an echo in response headers reaches the agent scrubbed", async () => {
    const { told } = await run([{ url: `${api.origin}/echo?as=header` }]);
    expect(told[0].headers).toMatchObject({ "x-echo": "[secret:api]", "x-raw-value": "[secret:api]" });
    expect(leaks(JSON.stringify(told))).toBe(false);
  });

  it("the log has the agent's request and the scrubbed answer, names the secret carried, and replays", async () => {
    const { result } = await run([
      { url: `${api.origin}/echo?as=json`, headers: { "x-mine": "1" } },
      { url: `${api.origin}/echo?as=header` },
      { url: `${other.origin}/x` },
    ]);
    const log = await kernel.log;
    const results: Record<string, unknown>[] = [];
    const calls: Record<string, unknown>[] = [];
    for await (const e of log.query({ runId: result.runId })) {
      if (e.type === "result") results.push(e.data);
      if (e.type === "call") calls.push(e.data);
    }
    const fetches = calls.filter((c) => c.op === "http.fetch");
    expect(fetches).toHaveLength(3);
    expect(JSON.stringify(fetches[0].args)).toContain("x-mine");
    expect(results.filter((r) => r.secrets !== undefined).map((r) => r.secrets)).toEqual([["api"], ["api"]]);
    expect(JSON.stringify(results.map((r) => r.ok))).not.toContain('"secrets"'); // not in what the guest saw

    const replayed = await kernel.replay({ runId: result.runId });
    expect(replayed.status, JSON.stringify(replayed.divergence)).toBe("identical");
    expect(replayed.output).toBe(result.output);
    expect(leaks(replayed.output ?? "")).toBe(false);

    await kernel.close();
    const printed = await agentOs(dir.path, "log", "--json", "--log", dir.path);
    expect(printed.code, printed.stderr).toBe(0);
    const text = decodedLog(printed.stdout);
    expect(text).toContain("[secret:api]");
    expect(text).toContain('"secrets":["api"]');
    expect(leaks(text)).toBe(false);
    expect(leaks(printed.stdout)).toBe(false);
  });
});

describe("secrets: configuration", () => {
  it("a policy that holds a value instead of naming a variable is a PolicyError naming the secret", () => {
    const literal = { ...policyFor(["https://api.example.com"]), secrets: [{ name: "github", value: "ghp_literal", origins: ["https://api.example.com"], header: "Authorization" }] };
    expect(() => new KernelSpace({ policy: literal, log: false })).toThrow(PolicyError);
    expect(() => new KernelSpace({ policy: literal, log: false })).toThrow(/secret "github": "value" is not allowed/);
    const pasted = { ...policyFor(["https://api.example.com"]), secrets: [{ name: "github", env: "ghp_16C7e42F292c6912E7710c838347Ae178B4a", origins: ["https://api.example.com"], header: "Authorization" }] };
    expect(() => new KernelSpace({ policy: pasted, log: false })).toThrow(/secret "github": expected the name of an environment variable/);
    let message = "";
    try {
      new KernelSpace({ policy: pasted, log: false });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).not.toContain("ghp_16C7e42F");
  });

  it("KernelOptions.secrets are checked too, and replace the policy's secret of the same name", async () => {
    expect(() => new KernelSpace({ log: false, secrets: [{ name: "x", env: "X", origins: ["https://a.example/path"], header: "X-Key" }] })).toThrow(/secrets\[0\]\.origins: secret "x": an origin has no path/);
    const clash = { name: "api2", env: "X", origins: [api.origin], header: "authorization" };
    expect(() => new KernelSpace({ policy: policyFor([api.origin]), log: false, secrets: [clash] })).toThrow(/secrets "api" and "api2" both set authorization/);
    await kernel.close();
    process.env.AOS_TEST_SECRET_OTHER = "other-value-123456";
    try {
      kernel = new KernelSpace({
        policy: policyFor([api.origin]),
        allowPrivate: ["127.0.0.1"],
        log: false,
        secrets: [{ name: "api", env: "AOS_TEST_SECRET_OTHER", origins: [other.origin], header: "X-Key" }],
      });
      await run([{ url: `${api.origin}/a` }, { url: `${other.origin}/b` }]);
      expect(api.seen[0].headers.authorization).toBeUndefined();
      expect(other.seen[0].headers["x-key"]).toBe("other-value-123456");
    } finally {
      delete process.env.AOS_TEST_SECRET_OTHER;
    }
  });
});

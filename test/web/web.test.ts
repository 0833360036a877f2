/**
 * The Web platform inside the sandbox, on both engines: one agent (test/web/agents/web.js) run
 * on QuickJS and built as a component, against a real loopback server. fetch goes through the
 * kernel's http.fetch (decided, logged), console through log.write; the same case makes the
 * same kernel calls in the same order on both engines.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { KernelSpace, type Agent, type RunResult } from "../../dist/runtime/index.js";
import { CACHE_DIR, ROOT, BUILD_TIMEOUT_MS } from "../component/helpers.js";
import { policyWith } from "../kernel/helpers.js";
import { BIG, startServer, type Seen } from "./server.js";

vi.setConfig({ testTimeout: 120_000 });

const AGENT = join(ROOT, "test/web/agents/web.js");
type EngineName = "quickjs" | "component";
const ENGINES: EngineName[] = ["quickjs", "component"];

let server: Awaited<ReturnType<typeof startServer>>;
const calls = new Map<string, Partial<Record<EngineName, string[]>>>();

beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

function kernelFor(rules: Record<string, unknown>[]): KernelSpace {
  const policy = policyWith([
    { id: "no-forbidden", action: "http.fetch", resource: `${server.url}forbidden`, effect: "deny", reason: "not this one" },
    { id: "loopback", action: "http.fetch", resource: `${server.url}**`, effect: "allow" },
    ...rules,
  ]);
  return new KernelSpace({ policy, log: false, pool: { warm: 1 }, allowPrivate: ["127.0.0.1"], cache: { dir: CACHE_DIR } });
}

interface Logged {
  action: string;
  effect: string;
  args: unknown[];
}

async function loggedCalls(kernel: KernelSpace, result: RunResult): Promise<Logged[]> {
  const out: Logged[] = [];
  for await (const e of (await kernel.log).query({ runId: result.runId, type: "call" })) {
    const d = e.data as { action: string; decision: { effect: string }; args: unknown[] };
    out.push({ action: d.action, effect: d.decision.effect, args: d.args });
  }
  return out;
}

describe.each(ENGINES)("the Web platform on the %s engine", (engine) => {
  let kernel: KernelSpace;
  let agent: Agent;

  beforeAll(async () => {
    kernel = kernelFor([]);
    agent = engine === "quickjs" ? await kernel.load(AGENT) : await kernel.load(AGENT, { engine: "component" });
  }, BUILD_TIMEOUT_MS);
  afterAll(() => kernel?.close());

  async function runCase(name: string, k: KernelSpace = kernel, a: Agent = agent): Promise<{ out: any; result: RunResult; logged: Logged[]; seen: Seen[] }> {
    const before = server.seen.length;
    const result = await k.execute(a, JSON.stringify({ case: name, url: server.url }));
    expect(result.status, result.error).toBe("ok");
    const logged = await loggedCalls(k, result);
    const entry = calls.get(name) ?? {};
    entry[engine] = logged.map((c) => `${c.action} ${c.effect}`);
    calls.set(name, entry);
    return { out: JSON.parse(result.output!), result, logged, seen: server.seen.slice(before) };
  }

  it("fetch: method, headers and body reach the server through one http.fetch; status, headers and JSON come back", async () => {
    const { out, logged, seen } = await runCase("fetch");
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: "POST", url: "/echo?x=1", body: '{"hello":"world"}' });
    expect(seen[0].headers).toMatchObject({ "x-agent": "web", "content-type": "application/json" });
    expect(out).toMatchObject({ status: 201, ok: true, statusText: "Created", url: `${server.url}echo?x=1`, bodyUsed: true });
    expect(out.headers).toEqual([["content-type", "application/json"], ["x-server", "loopback"]]);
    expect(out.body).toMatchObject({ method: "POST", body: '{"hello":"world"}' });
    const fetches = logged.filter((c) => c.action === "http.fetch");
    expect(fetches).toHaveLength(1);
    expect(fetches[0]).toMatchObject({ effect: "allow" });
  });

  it("a response body is a ReadableStream, read chunk by chunk (whole from the kernel, then streamed)", async () => {
    const { out } = await runCase("stream");
    expect(out.total).toBe(Buffer.byteLength(BIG));
    expect(out.lines).toBe(100);
    expect(out.chunks).toBeGreaterThan(1);
    expect(out.bodyUsed).toBe(true);
  });

  it("a denied fetch rejects with a TypeError whose cause is PermissionDenied; the server sees nothing", async () => {
    const { out, seen, logged } = await runCase("denied");
    expect(seen).toEqual([]);
    expect(out.error).toMatchObject({ name: "TypeError", message: "fetch failed", isTypeError: true, cause: { name: "PermissionDenied", rule: "no-forbidden", reason: "not this one" } });
    expect(logged.filter((c) => c.action === "http.fetch").map((c) => c.effect)).toEqual(["deny"]);
  });

  it("a URL with credentials, a relative URL, and one neither http nor https are TypeErrors before any kernel call", async () => {
    for (const name of ["credentials", "relative"]) {
      const { out, seen, logged } = await runCase(name);
      expect(seen).toEqual([]);
      expect(logged.filter((c) => c.action === "http.fetch")).toEqual([]);
      const errors = name === "credentials" ? [out.fetch.error, out.request.error] : [out.relative.error, out.file.error, out.data.error];
      for (const error of errors) expect(error).toMatchObject({ name: "TypeError", isTypeError: true });
    }
  });

  it("a Request or Response whose body was read cannot be read, sent or cloned again", async () => {
    const { out, seen } = await runCase("reuse");
    expect(out.first).toBe("once");
    expect(out.bodyUsed).toBe(true);
    expect(out.again.error).toMatchObject({ isTypeError: true });
    expect(out.clone.error).toMatchObject({ isTypeError: true });
    expect(out.text).toContain("twice");
    expect(out.twice.error).toMatchObject({ isTypeError: true });
    // A Request made from another takes its body (the other's is used up); from a used one, a TypeError.
    expect(out.moved).toEqual([true, "moved"]);
    expect(out.fromUsed.error).toMatchObject({ isTypeError: true });
    expect(seen.map((s) => s.body)).toEqual(["twice"]);
  });

  it("an abort in the same tick rejects with AbortError before any kernel call: the server sees nothing", async () => {
    const { out, seen, logged } = await runCase("abort-before");
    expect(seen).toEqual([]);
    expect(logged.filter((c) => c.action === "http.fetch")).toEqual([]);
    expect(out.pending.error).toMatchObject({ name: "AbortError" });
    expect(out.already.error).toMatchObject({ name: "AbortError" });
  });

  it("an abort while the body is read errors the body stream with the reason", async () => {
    const { out } = await runCase("abort-during");
    expect(out.firstBytes).toBeGreaterThan(0);
    expect(out.next.error).toMatchObject({ name: "AbortError" });
  });

  it("FormData goes as multipart/form-data, URLSearchParams as a urlencoded form, a ReadableStream read whole first", async () => {
    const { out } = await runCase("form");
    expect(out.form.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    const boundary = out.form.headers["content-type"].split("boundary=")[1];
    expect(out.form.body).toBe(
      `--${boundary}\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="notes.txt"\r\nContent-Type: text/plain\r\n\r\nfile body\r\n` +
        `--${boundary}--\r\n`,
    );
    expect(out.params.headers["content-type"]).toBe("application/x-www-form-urlencoded;charset=UTF-8");
    expect(out.params.body).toBe("a=1+2");
    expect(out.streamed).toBe("streamed upload");
  });

  it("console lines go to the log as log.write at the method's level, formatted and cut", async () => {
    const { logged } = await runCase("console");
    const writes = logged.filter((c) => c.action === "log.write");
    expect(writes.every((c) => c.effect === "allow")).toBe(true);
    const lines = writes.map((c) => [c.args[0], c.args[1]] as [string, string]);
    expect(lines[0]).toEqual(["info", `log str 42.5 42 1.5 {"j":1} [ 1, 'two' ] %`]);
    expect(lines[1][0]).toBe("info");
    expect(lines[1][1]).toContain("deeper");
    expect(lines[2]).toEqual(["debug", "debug 1n null undefined Symbol(s)"]);
    expect(lines[3]).toEqual(["warn", "warn Map(1) { 'k' => 1 } Set(1) { 2 }"]);
    expect(lines[4][0]).toBe("error");
    expect(lines[4][1]).toMatch(/^TypeError: boom/);
    expect(lines[5]).toEqual(["info", "{ name: 'cycle', self: [Circular] }"]);
    expect(lines[6][1]).toContain("(index)");
    expect(lines[7][1].length).toBeLessThan(8300);
    expect(lines[7][1]).toMatch(/more characters\)$/);
    // A Symbol label makes no line (and no throw); a throwing getter is shown, not run twice.
    expect(lines[8]).toEqual(["info", "[object that cannot be shown]"]);
    expect(lines).toHaveLength(9);
  });

  it("console under a policy that denies log.write: nothing throws, the run succeeds, the log holds the denials", async () => {
    const quiet = kernelFor([{ id: "quiet", action: "log.write", effect: "deny", reason: "no logging" }]);
    try {
      const quietAgent = engine === "quickjs" ? await quiet.load(AGENT) : await quiet.load(AGENT, { engine: "component" });
      const { out, result, logged } = await runCase("console", quiet, quietAgent);
      expect(out).toBe("logged");
      const writes = logged.filter((c) => c.action === "log.write");
      expect(writes).toHaveLength(9);
      expect(writes.every((c) => c.effect === "deny")).toBe(true);
      expect(result.denials.filter((d) => d.action === "log.write").map((d) => d.rule)).toEqual(Array(9).fill("quiet"));
    } finally {
      await quiet.close();
    }
  });

  it("URL, URLSearchParams, TextDecoder, structuredClone, atob/btoa, Headers, Blob, events, crypto.randomUUID", async () => {
    const { out } = await runCase("globals");
    expect(out.url).toEqual(["http://example.com/a/c?q=1%202#frag", "http:", "example.com", "/a/c", "?q=1%202", "#frag"]);
    expect(out.idna).toBe("xn--mnchen-3ya.example");
    expect(out.invalid.error).toMatchObject({ isTypeError: true });
    expect(out.edges).toEqual(["http://[::1]:8080/x", "http://127.0.0.1/", "http://h.example/a%20b/%7e?x=%C3%A9#%C3%BC", "https://h.example/", "http://xn--mnchen-3ya.example/"]);
    expect(out.refused).toEqual([true, true, true, true]);
    expect(out.relative).toBe("http://h.example/a/x?y");
    expect(out.params).toEqual([["1", "3"], " x y", "a=1&a=3&b=2&c=+x+y&d=%C3%A9%26%3D"]);
    expect(out.split).toEqual(["a", "€", "😀b", ""]);
    expect(out.fatal.error).toMatchObject({ isTypeError: true });
    expect(out.replacement).toBe("a\ufffdb");
    expect(out.bom).toEqual(["A", 2]);
    expect(out.clone).toEqual([true, true, true, 86400000, [1, 2], ["s"], "/x/gi", [1, 2]]);
    expect(out.cloneFunction.error).toMatchObject({ name: "DataCloneError" });
    expect(out.base64.slice(0, 3)).toEqual(["aGVsbG//", "hello\u00ff", "hi"]);
    expect(out.base64[3].error).toMatchObject({ name: "InvalidCharacterError" });
    expect(out.base64[4].error).toMatchObject({ name: "InvalidCharacterError" });
    for (const uuid of out.uuid) expect(uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(out.uuid[0]).not.toBe(out.uuid[1]);
    expect(out.headers).toEqual([["a", "1"], ["b", "2, 3"], ["set-cookie", "x=1"], ["set-cookie", "y=2"]]);
    expect(out.badHeader.error).toMatchObject({ isTypeError: true });
    expect(out.response).toEqual(["application/json", "error", "http://h.example/"]);
    expect(out.badStatus.error).toMatchObject({ name: "RangeError" });
    expect(out.blob).toEqual([3, "text/plain", "abc", "bc"]);
    expect(out.events).toEqual(["ping"]);
    expect(out.any).toEqual([true, "why"]);
    expect(out.microtask).toBe("ran");
  });
});

describe("both engines", () => {
  it("make the same kernel calls in the same order for each case", () => {
    const compared = [...calls].filter(([, byEngine]) => byEngine.quickjs && byEngine.component);
    expect(compared.length).toBeGreaterThan(0);
    expect(Object.fromEntries(compared.map(([name, byEngine]) => [name, byEngine.component]))).toEqual(
      Object.fromEntries(compared.map(([name, byEngine]) => [name, byEngine.quickjs])),
    );
  });
});

/**
 * A hostile component tries every ambient route of the StarlingMonkey environment: the global
 * fetch (and Request, XMLHttpRequest, WebSocket), Date, Math.random, crypto, performance.now,
 * console, timers, dynamic import. None reaches the host on its own: the global fetch and the
 * SDK's both are the kernel's http capability, console is the kernel's log.write, and time and
 * randomness are the kernel's (all gated and logged).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { KernelSpace, type Agent, type RunResult } from "../../dist/runtime/index.js";
import { policyWith } from "../kernel/helpers.js";
import { BUILD_TIMEOUT_MS, CACHE_DIR, prebuild } from "./helpers.js";

const NOW = Date.UTC(2001, 0, 2, 3, 4, 5, 678);
type Attempt = { ok: true; value: unknown } | { ok: false; error: string };

let server: Server;
let url: string;
const requests: string[] = [];
let wasm: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.end("reached");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ambient`;
  wasm = (await prebuild(["ambient"])).ambient;
}, BUILD_TIMEOUT_MS);

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function kernelWith(rules: Record<string, unknown>[], basics = true): KernelSpace {
  const policy = policyWith(rules);
  if (!basics) (policy.rules as unknown[]).shift();
  return new KernelSpace({ policy, log: false, pool: { warm: 1 }, now: () => NOW, allowPrivate: ["127.0.0.1"], cache: { dir: CACHE_DIR } });
}

async function probe(kernel: KernelSpace, agent: Agent): Promise<{ result: RunResult; out: Record<string, Attempt>; calls: string[] }> {
  const result = await kernel.execute(agent, JSON.stringify({ url }));
  expect(result.status, result.error).toBe("ok");
  const calls: string[] = [];
  for await (const e of (await kernel.log).query({ runId: result.runId, type: "call" })) {
    const d = e.data as { action: string; decision: { effect: string } };
    calls.push(`${d.action} ${d.decision.effect}`);
  }
  return { result, out: JSON.parse(result.output!) as Record<string, Attempt>, calls };
}

describe("a hostile component in the StarlingMonkey environment", () => {
  it("reaches nothing on its own, and reads time and randomness from the kernel only", async () => {
    const written: string[] = [];
    const spies = [process.stdout, process.stderr].map((stream) =>
      vi.spyOn(stream, "write").mockImplementation(((chunk: unknown) => (written.push(String(chunk)), true)) as never),
    );
    const kernel = kernelWith([{ id: "control", action: "http.fetch", resource: `${url}`, effect: "allow" }]);
    try {
      const agent = await kernel.load(wasm);
      expect(agent.engine).toBe("component");
      const first = await probe(kernel, agent);
      const second = await probe(kernel, agent);
      const { out } = first;

      // The network: the global fetch is the kernel's http.fetch (guest-web/), as the SDK's is;
      // the requests the server saw are the kernel's.
      expect(out["typeof fetch"]).toEqual({ ok: true, value: "function" });
      expect(out.fetch).toEqual({ ok: true, value: 200 });
      expect(out.Request).toEqual({ ok: true, value: url });
      expect(out["typeof XMLHttpRequest"]).toEqual({ ok: true, value: "undefined" });
      expect(out["typeof WebSocket"]).toEqual({ ok: true, value: "undefined" });
      expect(out["kernel http.fetch"]).toEqual({ ok: true, value: 200 });
      expect(requests).toEqual(["GET /ambient", "GET /ambient", "GET /ambient", "GET /ambient"]);

      // Time: the kernel's clock (KernelSpace `now`), by every way to the Date constructor.
      expect(out["Date.now"]).toEqual({ ok: true, value: NOW });
      expect(out["new Date"]).toEqual({ ok: true, value: NOW });
      expect(out["Date via its prototype"]).toEqual({ ok: true, value: NOW });
      expect(out["performance.now"]).toMatchObject({ ok: true });
      expect(typeof (out["performance.now"] as { value: unknown }).value).toBe("number");

      // Randomness: the kernel's, so it does not repeat from one instance to the next (the
      // engine's own generator, seeded at build time, would).
      const values = (o: Record<string, Attempt>) => ["Math.random", "crypto.getRandomValues", "crypto.randomUUID"].map((k) => JSON.stringify(o[k]));
      for (const [a, b] of values(first.out).map((v, i) => [v, values(second.out)[i]])) expect(a).not.toBe(b);
      expect((out["crypto.randomUUID"] as { value: string }).value).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(out["typeof crypto.subtle"]).toEqual({ ok: true, value: "undefined" });

      // Everything else: gone, or going nowhere.
      // (timers are there, on the kernel's clock: see timers.test.ts)
      expect(out["typeof setTimeout"]).toEqual({ ok: true, value: "function" });
      expect(out["typeof process"]).toEqual({ ok: true, value: "undefined" });
      expect(out["import node:http"]).toEqual({ ok: false, error: 'cannot import "node:http": a Node built-in; an agent can import only "agent-os/guest", "agentos:kernel/*", its own files and packages from node_modules' });
      expect(out.console).toEqual({ ok: true, value: "object" });
      expect(written.join("")).not.toContain("ambient-console-leak");

      // And every clock reading and random draw went through the gate, into the log.
      expect(first.calls).toEqual([
        "http.fetch allow", // the global fetch
        "clock.now allow", // Date.now
        "clock.now allow", // new Date
        "clock.now allow", // Date via its prototype: new Date() for the prototype,
        "clock.now allow", //   then new (its constructor)()
        "random.bytes allow", // Math.random (a pool of 512 bytes serves both)
        "random.bytes allow", // getRandomValues
        "random.bytes allow", // randomUUID
        "clock.now allow", // performance.now (monotonic)
        "log.write allow", // console.log
        "log.write allow", // console.error
        "http.fetch allow", // the kernel's http, the control
      ]);
    } finally {
      for (const spy of spies) spy.mockRestore();
      await kernel.close();
    }
  });

  it("is refused the clock and randomness when the policy refuses them", async () => {
    const kernel = kernelWith([{ id: "log", action: "log.write", effect: "allow" }], false);
    try {
      const { out } = await probe(kernel, await kernel.load(wasm));
      expect(out["Date.now"]).toMatchObject({ ok: false });
      expect((out["Date.now"] as { error: string }).error).toMatch(/no rule matched; default deny|denied/);
      expect(out["Math.random"]).toMatchObject({ ok: false });
      expect(out["crypto.getRandomValues"]).toMatchObject({ ok: false });
      expect(out["performance.now"]).toMatchObject({ ok: false });
    } finally {
      await kernel.close();
    }
  });
});

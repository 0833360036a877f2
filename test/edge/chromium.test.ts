/**
 * The edge kernel in a Web page, in Chromium (Debian's, driven by playwright-core): the same
 * conformance cases as in workerd, on the browser's main thread, with engine.wasm fetched and
 * compiled by the page. A local server serves the page, the bundle, the engine and the
 * stand-in endpoints on one origin, and counts what the stand-in is sent.
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import * as esbuild from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startScriptedModel, type ScriptedModel } from "../../dist/runtime/index.js";
import { expectFsCase } from "./fs-checks.js";
import { expectSqlCase } from "./sql-checks.js";
import { expectConformance, expectGuarded, expectModelCall, expectSecrets } from "./checks.js";
import { secretsRoute, startOtherOrigin, type SecretsSeen } from "./secrets-stand-in.js";
import { expectToolsCase } from "./tools-checks.js";
import { mcpStandIn } from "./tools-server.js";

const CHROMIUM = "/usr/bin/chromium";
const ENGINE = readFileSync(new URL("../../runtime/engines/quickjs-async/engine.wasm", import.meta.url));
const SQLITE = readFileSync(new URL("../../runtime/edge/sqlite/sqlite.wasm", import.meta.url));
const ENTRY = new URL("./browser-entry.js", import.meta.url).pathname;
const PAGE = `<!doctype html><meta charset="utf-8"><title>agent-os edge</title><script type="module" src="/app.js"></script>`;

let server: Server;
/** The stand-in model, reached through the page's own origin (a model API called from a page needs CORS; the server forwards /v1/). */
let stand: ScriptedModel;
let origin: string;
let browser: Browser;
let page: Page;
const seen: string[] = [];
const secretsSeen: SecretsSeen[] = [];
/** A real MCP server, at the page's own origin (/mcp): no CORS needed. */
const mcp = mcpStandIn();

/** The launch flags of a headless Chromium on a closed network, as root (see the machine notes). */
const FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not installed at ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`);
  const app = (await esbuild.build({ entryPoints: [ENTRY], bundle: true, platform: "browser", format: "esm", write: false, logLevel: "error" })).outputFiles[0].text;
  server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/") return void res.writeHead(200, { "content-type": "text/html" }).end(PAGE);
    if (path === "/app.js") return void res.writeHead(200, { "content-type": "text/javascript" }).end(app);
    if (path === "/engine.wasm") return void res.writeHead(200, { "content-type": "application/wasm" }).end(ENGINE);
    if (path === "/sqlite.wasm") return void res.writeHead(200, { "content-type": "application/wasm" }).end(SQLITE);
    if (path === "/favicon.ico") return void res.writeHead(404).end();
    if (path.startsWith("/v1/")) return void forward(req, res);
    if (path === "/mcp") return void mcp.handle(req, res);
    seen.push(req.url ?? "");
    if (secretsRoute(req, res, secretsSeen)) return;
    if (req.url === "/allowed/redirect") return void res.writeHead(302, { location: "/secret/after-redirect" }).end();
    res.end(`from the stand-in: ${req.url}`);
  });
  stand = await startScriptedModel([{ content: "4, from the stand-in model", usage: { input: 12, output: 5 } }]);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  page = await browser.newPage();
  await page.goto(origin + "/");
  await page.waitForFunction(() => typeof (globalThis as { edgeCase?: unknown }).edgeCase === "function");
}, 60_000);

/** Forwards a request to the stand-in model, headers and body as they came. */
function forward(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", async () => {
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k, v]) => typeof v === "string" && !["host", "content-length", "connection"].includes(k))) as Record<string, string>;
    const answer = await fetch(stand.url + req.url, { method: req.method, headers, body: Buffer.concat(chunks) });
    res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" }).end(Buffer.from(await answer.arrayBuffer()));
  });
}

afterAll(async () => {
  await stand?.close();
  await browser?.close();
  await mcp.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

async function run(name: string): Promise<Record<string, any>> {
  const report = (await page.evaluate(([n, o]) => (globalThis as unknown as { edgeCase(n: string, o: string): Promise<unknown> }).edgeCase(n, o), [name, origin])) as Record<string, any>;
  expect(report.thrown).toBeUndefined();
  return report;
}

describe("the edge kernel in Chromium", () => {
  it("calls a model through the page's fetch with a key only the kernel holds", async () => {
    expectModelCall(await run("model"), stand.requests as never);
  }, 60_000);

  it("decides, carries out, kills, stops, logs and replays as on Node", async () => {
    seen.length = 0;
    expectConformance(await run("conformance"), seen);
  }, 60_000);

  it("refuses private IP literals and localhost names: the server sees nothing", async () => {
    seen.length = 0;
    expectGuarded(await run("guard"), seen);
  }, 60_000);

  it("a redirect the browser hides is refused, not followed unseen: the server never sees its target", async () => {
    seen.length = 0;
    const r = await run("redirect");
    expect(r.output).toMatch(/was redirected, and this host does not show where/);
    expect(seen).toEqual(["/allowed/redirect"]);
  }, 60_000);

  it("injects the policy's secret on its origin only (same-origin), with the value from env, and scrubs every echo of it", async () => {
    secretsSeen.length = 0;
    const other = await startOtherOrigin();
    try {
      const report = (await page.evaluate(([n, o]) => (globalThis as unknown as { edgeCase(n: string, o: string): Promise<unknown> }).edgeCase(n, o), ["secrets", JSON.stringify({ origin, other: other.origin })])) as Record<string, any>;
      expect(report.thrown).toBeUndefined();
      expectSecrets(report, secretsSeen, other.seen);
    } finally {
      await other.close();
    }
  }, 60_000);

  it("gives agents a filesystem on a key-value store: the same answers as in Node, kept for the next kernel", async () => {
    expectFsCase((await run("fs")) as never);
  }, 60_000);

  it("gives agents host tools and an MCP server's, reached through the page's fetch", async () => {
    mcp.calls.length = 0;
    expectToolsCase(await run("tools"), mcp.calls);
  }, 60_000);

  it("gives agents SQLite in WebAssembly under the same analyzer, saved to a store, a runaway statement interrupted", async () => {
    expectSqlCase((await run("sql")) as never);
  }, 60_000);
});

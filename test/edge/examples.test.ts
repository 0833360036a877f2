/**
 * The edge examples, as their comments say to run them: examples/edge/worker.ts as a Worker
 * with its log in a Durable Object (workerd through miniflare, storage persisted to a temp
 * directory, the host restarted in between), and examples/edge/browser.html in Chromium with
 * its log in IndexedDB (the page reloaded in between). Both logs keep their chain and verify.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as esbuild from "esbuild";
import { Miniflare } from "miniflare";
import { chromium, type Browser } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = new URL("../../", import.meta.url).pathname;
const ENGINE = readFileSync(join(ROOT, "runtime/engines/quickjs-async/engine.wasm"));
const EDGE = join(ROOT, "dist/runtime/edge/index.js");

async function bundle(entry: string, external: string[] = []): Promise<string> {
  const result = await esbuild.build({ entryPoints: [join(ROOT, entry)], bundle: true, platform: "browser", format: "esm", write: false, logLevel: "error", alias: { "agent-os/edge": EDGE }, external });
  return result.outputFiles[0].text;
}

const AGENT = `import { log } from "agent-os/guest";
export async function run(task) { await log.info("hello " + task); return "hello " + task; }`;

describe("examples/edge/worker.ts", () => {
  const persist = mkdtempSync(join(tmpdir(), "agent-os-do-"));
  afterAll(() => rmSync(persist, { recursive: true, force: true }));

  it("runs uploaded agents with their log in a Durable Object, across a restart", async () => {
    const code = await bundle("examples/edge/worker.ts", ["agent-os/engine.wasm"]);
    const start = () =>
      new Miniflare({
        modules: [
          { type: "ESModule", path: "worker.mjs", contents: code },
          { type: "CompiledWasm", path: "agent-os/engine.wasm", contents: ENGINE },
        ],
        durableObjects: { AGENT_LOG: "AgentLog" },
        durableObjectsPersist: persist,
        compatibilityDate: "2025-01-01",
      });
    const logOf = async (mf: Miniflare) => {
      const res = await mf.dispatchFetch("http://example/log");
      const events = (await res.text()).trim().split("\n").map((line) => JSON.parse(line) as { seq: number; type: string });
      return { verified: res.headers.get("x-verified"), events };
    };
    let mf = start();
    try {
      const ran = await (await mf.dispatchFetch("http://example/run?task=edge", { method: "POST", body: AGENT })).json();
      expect(ran).toMatchObject({ status: "ok", output: "hello edge" });
      const before = await logOf(mf);
      expect(before.verified).toBe("true");
      expect(before.events.map((e) => e.type)).toEqual(["spawn", "call", "exit"]);
    } finally {
      await mf.dispose();
    }
    // The host restarts: the object's storage is all that is left; the chain goes on from it.
    mf = start();
    try {
      const ran = await (await mf.dispatchFetch("http://example/run?task=again", { method: "POST", body: AGENT })).json();
      expect(ran).toMatchObject({ status: "ok", output: "hello again" });
      const after = await logOf(mf);
      expect(after.verified).toBe("true");
      expect(after.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      await mf.dispose();
    }
  }, 60_000);
});

describe("examples/edge/browser.html", () => {
  let server: Server | undefined;
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  });

  it("runs the page's agent with its log in IndexedDB, which survives a reload and verifies", async () => {
    const app = await bundle("examples/edge/browser.ts");
    const html = readFileSync(join(ROOT, "examples/edge/browser.html"), "utf8");
    server = createServer((req, res) => {
      if (req.url === "/browser.html") return void res.writeHead(200, { "content-type": "text/html" }).end(html);
      if (req.url === "/app.js") return void res.writeHead(200, { "content-type": "text/javascript" }).end(app);
      if (req.url === "/engine.wasm") return void res.writeHead(200, { "content-type": "application/wasm" }).end(ENGINE);
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/browser.html`;
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForSelector("body[data-ready=yes]");
    await page.click("#run");
    await page.waitForFunction(() => document.getElementById("result")!.textContent !== "");
    // The example agent's request to the cloud metadata address is refused by the standard policy.
    expect(await page.textContent("#result")).toMatch(/^ok: refused: denied by rule standard-cloud-metadata/);
    const rows = await page.locator("#events tr").count();
    expect(rows).toBeGreaterThanOrEqual(4);
    expect(await page.textContent("#verified")).toBe("the chain verifies");

    await page.reload();
    await page.waitForSelector("body[data-ready=yes]");
    expect(await page.locator("#events tr").count()).toBe(rows);
    expect(await page.textContent("#verified")).toBe("the chain verifies");
    await page.click("#run");
    await page.waitForFunction((n) => document.querySelectorAll("#events tr").length > n, rows);
    expect(await page.textContent("#verified")).toBe("the chain verifies");
    expect(await page.locator("#events tr").first().textContent()).toMatch(/^1spawn/);
  }, 60_000);
});

/**
 * `agent-os/edge` imports no Node built-in: bundled for the browser with esbuild, its whole
 * graph resolves without one (a Node built-in does not resolve on that platform). The control:
 * the same check finds node:dns in the Node host's resolvers.
 */
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";
import { describe, expect, it } from "vitest";
import { bundleForWeb } from "../policy/web-host.js";

const EDGE = new URL("../../dist/runtime/edge/index.js", import.meta.url).pathname;
const NODE_ONLY = new URL("../../dist/runtime/hosts/node/net/net-dns.js", import.meta.url).pathname;

describe("the agent-os/edge bundle", () => {
  it("has no Node import anywhere in its graph", async () => {
    const bundle = await bundleForWeb(EDGE);
    expect(bundle.nodeImports).toEqual([]);
    expect(bundle.code).toContain("EdgeKernel");
  }, 60_000);

  it("the check finds Node's modules where they are (the Node host's DNS resolvers)", async () => {
    const bundle = await bundleForWeb(NODE_ONLY);
    expect(bundle.nodeImports).toEqual([expect.stringMatching(/net-dns\.js -> node:dns$/)]);
  }, 60_000);

  it("carries the guest SDK and the Web groups, and its size is known", async () => {
    const result = await esbuild.build({ entryPoints: [EDGE], bundle: true, platform: "browser", format: "esm", minify: true, write: false, logLevel: "silent" });
    const code = result.outputFiles[0].contents;
    const text = new TextDecoder().decode(code);
    // (embedded by the build: an empty SDK would make every run fail)
    expect(text).toContain("agent-os/guest");
    expect(text).toContain("__agentos_web_group");
    const gzipped = gzipSync(code).length;
    console.log(`agent-os/edge: ${(code.length / 1024).toFixed(0)} KiB minified, ${(gzipped / 1024).toFixed(0)} KiB gzipped (engine.wasm apart)`);
    expect(code.length).toBeLessThan(2 * 1024 * 1024);
  }, 60_000);
});

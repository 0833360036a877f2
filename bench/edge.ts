/**
 * The edge kernel in workerd (through miniflare) beside the same work on Node in the same run:
 * spawn to first host call and a gated no-op call, measured by the same code (edge-measure.ts)
 * on both hosts, with the same engine and the same in-memory log.
 */
import { readFileSync } from "node:fs";
import * as esbuild from "esbuild";
import { Miniflare } from "miniflare";
import type { BenchRow, BenchSuite } from "./harness.js";
import { measureEdge, type EdgeFigures } from "./edge-measure.js";
import { Wasm } from "../runtime/engines/component/wasm.js";

const ENGINE = new URL("../../runtime/engines/quickjs-async/engine.wasm", import.meta.url);
const MEASURE = new URL("./edge-measure.js", import.meta.url).pathname;

/** The Worker: runs measureEdge on the engine it imports, answers with the figures. */
const WORKER = `import { measureEdge } from ${JSON.stringify(MEASURE)};
import engine from "./engine.wasm";
export default { async fetch() {
  try { return Response.json(await measureEdge(engine)); }
  catch (error) { return Response.json({ thrown: String(error && error.stack || error) }, { status: 500 }); }
} };`;

async function inWorkerd(): Promise<EdgeFigures> {
  const bundle = await esbuild.build({ stdin: { contents: WORKER, resolveDir: "/", loader: "js" }, bundle: true, platform: "browser", format: "esm", write: false, external: ["./engine.wasm"], logLevel: "error" });
  const mf = new Miniflare({
    modules: [
      { type: "ESModule", path: "worker.mjs", contents: bundle.outputFiles[0].text },
      { type: "CompiledWasm", path: "engine.wasm", contents: readFileSync(ENGINE) },
    ],
    compatibilityDate: "2025-01-01",
  });
  try {
    const res = await mf.dispatchFetch("http://bench/");
    const body = (await res.json()) as EdgeFigures & { thrown?: string };
    if (body.thrown) throw new Error(`bench edge: the Worker failed: ${body.thrown}`);
    return body;
  } finally {
    await mf.dispose();
  }
}

export const edgeBench: BenchSuite = {
  title: "Edge (issue 18): the edge kernel in workerd (miniflare) beside the same code on Node, in-memory log",
  async run(): Promise<BenchRow[]> {
    const node = await measureEdge(new Wasm.Module(readFileSync(ENGINE)));
    const workerd = await inWorkerd();
    return [
      { name: "spawn to first host call, workerd, mean of 200", value: workerd.spawnToFirstCallMs, unit: "ms", better: "lower", baseline: { name: "the same on Node", value: node.spawnToFirstCallMs } },
      { name: "gated no-op host call (clock.now), workerd", value: workerd.gatedCallsPerSecond, unit: "calls/s", better: "higher", baseline: { name: "the same on Node", value: node.gatedCallsPerSecond } },
    ];
  },
};

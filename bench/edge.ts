/**
 * The edge kernel in workerd (through miniflare) beside the same work on Node in the same run:
 * spawn to first host call and a gated no-op call, measured by the same code (edge-measure.ts)
 * on both hosts, with the same engine and the same in-memory log; and a durable log append on
 * each host's store (a Durable Object's storage through createKvBackend; LevelDB on Node).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openLevelBackend } from "../runtime/hosts/node/log/level.js";
import * as esbuild from "esbuild";
import { Miniflare } from "miniflare";
import type { BenchRow, BenchSuite } from "./harness.js";
import { measureAppends, measureEdge, type EdgeFigures } from "./edge-measure.js";
import { Wasm } from "../runtime/engines/component/wasm.js";

const ENGINE = new URL("../../runtime/engines/quickjs-async/engine.wasm", import.meta.url);
const MEASURE = new URL("./edge-measure.js", import.meta.url).pathname;
const EDGE = new URL("../runtime/edge/index.js", import.meta.url).pathname;

/** The Worker: runs measureEdge on the engine it imports, answers with the figures. */
const WORKER = `import { measureEdge, measureAppends } from ${JSON.stringify(MEASURE)};
import { createKvBackend, durableObjectKvStore } from ${JSON.stringify(EDGE)};
import engine from "./engine.wasm";
export class BenchLog {
  constructor(state) { this.storage = state.storage; }
  async fetch() { return Response.json({ appendMs: await measureAppends(createKvBackend(durableObjectKvStore(this.storage))) }); }
}
export default { async fetch(request, env) {
  try {
    if (new URL(request.url).pathname === "/appends") return env.BENCH_LOG.get(env.BENCH_LOG.idFromName("bench")).fetch(request);
    return Response.json(await measureEdge(engine));
  } catch (error) { return Response.json({ thrown: String(error && error.stack || error) }, { status: 500 }); }
} };`;

async function inWorkerd(persist: string): Promise<EdgeFigures & { appendMs: number }> {
  const bundle = await esbuild.build({ stdin: { contents: WORKER, resolveDir: "/", loader: "js" }, bundle: true, platform: "browser", format: "esm", write: false, external: ["./engine.wasm"], logLevel: "error" });
  const mf = new Miniflare({
    modules: [
      { type: "ESModule", path: "worker.mjs", contents: bundle.outputFiles[0].text },
      { type: "CompiledWasm", path: "engine.wasm", contents: readFileSync(ENGINE) },
    ],
    durableObjects: { BENCH_LOG: "BenchLog" },
    durableObjectsPersist: persist,
    compatibilityDate: "2025-01-01",
  });
  try {
    const ask = async <T>(path: string): Promise<T> => {
      const body = (await (await mf.dispatchFetch(`http://bench${path}`)).json()) as T & { thrown?: string };
      if (body.thrown) throw new Error(`bench edge: the Worker failed: ${body.thrown}`);
      return body;
    };
    return { ...(await ask<EdgeFigures>("/")), ...(await ask<{ appendMs: number }>("/appends")) };
  } finally {
    await mf.dispose();
  }
}

export const edgeBench: BenchSuite = {
  title: "Edge (issue 18): the edge kernel in workerd (miniflare) beside the same code on Node, in-memory log",
  async run(): Promise<BenchRow[]> {
    const node = await measureEdge(new Wasm.Module(readFileSync(ENGINE)));
    const dir = mkdtempSync(join(tmpdir(), "agent-os-bench-edge-"));
    let workerd: EdgeFigures & { appendMs: number };
    let nodeAppendMs: number;
    try {
      workerd = await inWorkerd(join(dir, "do"));
      nodeAppendMs = await measureAppends(await openLevelBackend(join(dir, "level")));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return [
      { name: "spawn to first host call, workerd, mean of 200", value: workerd.spawnToFirstCallMs, unit: "ms", better: "lower", baseline: { name: "the same on Node", value: node.spawnToFirstCallMs } },
      { name: "gated no-op host call (clock.now), workerd", value: workerd.gatedCallsPerSecond, unit: "calls/s", better: "higher", baseline: { name: "the same on Node", value: node.gatedCallsPerSecond } },
      { name: "durable log append, workerd: Durable Object storage (miniflare's, on disk), mean of 200", value: workerd.appendMs, unit: "ms", better: "lower", baseline: { name: "Node: LevelDB, sync", value: nodeAppendMs } },
    ];
  },
};

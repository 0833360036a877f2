/**
 * What bundling an agent for QuickJS costs (kernel.load, agent-os run): an agent of two files
 * importing yaml and picomatch, bundled cold (esbuild), bundled again in the same process, and
 * taken from the bundle cache (which re-hashes every input file and the folders it depends on),
 * each beside reading the bundle's input files once, in the same run. Then kernel.load, with
 * the cache and without, beside the same read.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KernelSpace } from "../runtime/index.js";
import { bundleAgent } from "../runtime/hosts/node/build/bundle.js";
import { QUICKJS_PROFILE, bundleModule } from "../runtime/engines/quickjs/agent.js";
import { median, timeEach, type BenchRow, type BenchSuite } from "./harness.js";

const AGENT = new URL("../../bench/agents/deps.js", import.meta.url).pathname;
const RUNS = 15;

export const bundleBench: BenchSuite = {
  title: "Bundling a QuickJS agent with npm dependencies (yaml, picomatch)",
  async run(): Promise<BenchRow[]> {
    const dir = mkdtempSync(join(tmpdir(), "agent-os-bench-bundle-"));
    const cache = { dir: join(dir, "cache"), key: new Uint8Array(randomBytes(32)) };
    try {
      const t0 = performance.now();
      const { inputs, code } = await bundleAgent(AGENT, AGENT, QUICKJS_PROFILE);
      const firstMs = performance.now() - t0; // esbuild's service starts here
      const readAll = () => {
        for (const file of inputs) readFileSync(file);
      };
      const readMs = median(await timeEach(RUNS, readAll)) / 1000;
      const bundledMs = median(await timeEach(RUNS, () => bundleModule(AGENT, { cache: false }))) / 1000;
      await bundleModule(AGENT, { cache });
      const cachedMs = median(await timeEach(RUNS, () => bundleModule(AGENT, { cache }))) / 1000;
      const kernel = new KernelSpace({ log: false, pool: { warm: 0 }, cache });
      const uncached = new KernelSpace({ log: false, pool: { warm: 0 }, cache: false });
      const loadCachedMs = median(await timeEach(RUNS, () => kernel.load(AGENT))) / 1000;
      const loadMs = median(await timeEach(RUNS, () => uncached.load(AGENT))) / 1000;
      await Promise.all([kernel.close(), uncached.close()]);
      const baseline = { name: `read the ${inputs.length} input files once`, value: readMs };
      const size = `${(code.length / 1024).toFixed(0)} KiB`;
      return [
        { name: `first bundle in a process (esbuild starting), ${size}`, value: firstMs, unit: "ms", better: "lower", baseline },
        { name: `bundle again (no cache), median of ${RUNS}`, value: bundledMs, unit: "ms", better: "lower", baseline },
        { name: `from the bundle cache (every input re-hashed), median of ${RUNS}`, value: cachedMs, unit: "ms", better: "lower", baseline },
        { name: `kernel.load, no cache, median of ${RUNS}`, value: loadMs, unit: "ms", better: "lower", baseline },
        { name: `kernel.load, cached, median of ${RUNS}`, value: loadCachedMs, unit: "ms", better: "lower", baseline },
      ];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

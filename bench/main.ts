/**
 * `npm run bench`: every suite, each figure beside a baseline measured in the same run.
 * `npm run bench -- kernel policy` runs only the named suites.
 */
import { formatTable, type BenchSuite } from "./harness.js";
import { bundleBench } from "./bundle.js";
import { capabilitiesBench } from "./capabilities.js";
import { componentBench } from "./component.js";
import { densityBench } from "./density.js";
import { edgeBench } from "./edge.js";
import { kernelBench } from "./kernel.js";
import { llmBench } from "./llm.js";
import { logBench } from "./log.js";
import { mcpBench } from "./mcp.js";
import { mcpServeBench } from "./mcp-serve.js";
import { policyBench } from "./policy.js";
import { secretsBench } from "./secrets.js";
import { toolsBench } from "./tools.js";
import { webBench } from "./web.js";
import { clusterBench } from "./cluster.js";

const SUITES: Record<string, BenchSuite> = { kernel: kernelBench, policy: policyBench, log: logBench, capabilities: capabilitiesBench, component: componentBench, bundle: bundleBench, secrets: secretsBench, llm: llmBench, "mcp-serve": mcpServeBench, mcp: mcpBench, tools: toolsBench, web: webBench, density: densityBench, edge: edgeBench, cluster: clusterBench };

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(name in SUITES));
if (unknown.length > 0) {
  console.error(`bench: unknown suite ${unknown.join(", ")} (suites: ${Object.keys(SUITES).join(", ")})`);
  process.exit(2);
}
console.log(`Agent OS benchmarks — node ${process.version}, ${new Date().toISOString()}`);
console.log("Ratios compare with the baseline measured in the same run, so that machine noise cancels out.");
for (const name of wanted.length > 0 ? wanted : Object.keys(SUITES)) {
  const suite = SUITES[name];
  console.log(formatTable(suite.title, await suite.run()));
}

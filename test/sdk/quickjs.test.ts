/**
 * The SDK cases on the QuickJS engine: each SDK's agent file loaded by `kernel.load()` (bundled
 * by the project's bundler, with its npm packages) and run in a worker.
 */
import { runSdkCases } from "./cases.js";
import { SDK_AGENTS } from "./scenarios.js";

runSdkCases({
  name: "quickjs",
  load: (kernel, scenario) => kernel.load(SDK_AGENTS[scenario.file]),
  loadTimeoutMs: 60_000,
});

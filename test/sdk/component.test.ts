/**
 * The SDK cases on the component engine: one component holding the `openai`, AI SDK and Agents
 * SDK agents (test/sdk/agents/all.js, the task picks the scenario), built by the project's own
 * build step and cached by content hash with the other test components.
 */
import { BUILD_TIMEOUT_MS } from "../component/helpers.js";
import { runSdkCases } from "./cases.js";
import { SDK_AGENTS } from "./scenarios.js";

runSdkCases({
  name: "component",
  load: (kernel) => kernel.load(SDK_AGENTS.all, { engine: "component" }),
  loadTimeoutMs: BUILD_TIMEOUT_MS,
});

// The SDK scenarios that can run inside the sandbox, in one agent (one component holds them:
// each build costs seconds and hundreds of megabytes). The task's `scenario` picks one; see
// openai.js and ai.js. (agents.js is not here: the Agents SDK does not bundle, see agents.test.ts.)
import * as openai from "./openai.js";
import * as ai from "./ai.js";

const byScenario = { ...Object.fromEntries(Object.keys(openai.scenarios).map((s) => [s, openai])), "ai-generate": ai };

export async function run(task) {
  const { scenario } = JSON.parse(task);
  const agent = byScenario[scenario];
  if (!agent) return JSON.stringify({ error: "unknown scenario " + scenario });
  return agent.run(task);
}

// Every SDK scenario in one agent (one component holds them all: each build costs seconds and
// hundreds of megabytes). The task's `scenario` picks one; see openai.js, ai.js and agents.js.
import * as openai from "./openai.js";
import * as ai from "./ai.js";
import * as agents from "./agents.js";

const byScenario = {};
for (const agent of [openai, ai, agents]) for (const name of Object.keys(agent.scenarios)) byScenario[name] = agent;

export async function run(task) {
  const { scenario } = JSON.parse(task);
  const agent = byScenario[scenario];
  if (!agent) return JSON.stringify({ error: "unknown scenario " + scenario });
  return agent.run(task);
}

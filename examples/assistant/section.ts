/**
 * The demo's assistant part: the tool-using assistant (examples/assistant/agent.js) on QuickJS,
 * under its own policy (examples/assistant/policy.yaml: a token budget, its workspace read-only,
 * one table, GET to known APIs), against a scripted model on 127.0.0.1. The workspace's inbox
 * carries a prompt injection; the scripted model follows it, and the policy stops it. The status
 * API's token is a secret the kernel injects: the agent never sees it.
 */
import { join } from "node:path";
import { escapeText } from "../../runtime/cli/escape.js";
import { KernelSpace, type LoggedEvent, type RunResult } from "../../runtime/index.js";
import { assistantKernelOptions, startAssistantWorld, type AssistantWorld } from "./world.js";

export interface AssistantOutcome {
  result: RunResult;
  world: AssistantWorld;
  events: LoggedEvent[];
}

/** Prints one line. */
export type Say = (line: string) => void;

/**
 * Runs the assistant in `dir` (its workspace, database and log go there) and tells what happened.
 * `root` is the examples folder.
 */
export async function runAssistant(dir: string, root: string, say: Say): Promise<AssistantOutcome> {
  const world = await startAssistantWorld(dir);
  const kernel = new KernelSpace({ ...assistantKernelOptions(world, root), log: { dir: join(dir, "assistant-log") } });
  try {
    const agent = await kernel.load(join(root, "assistant/agent.js"));
    const result = await kernel.execute(agent, world.question);
    const log = await kernel.log;
    const events: LoggedEvent[] = [];
    for await (const e of log.query({ runId: result.runId })) events.push(e);
    say(`  the model is a script on ${world.model.url} (not a model): it follows the injection in inbox.txt`);
    for (const e of events.filter((e) => e.type === "call")) {
      const d = e.data as { action: string; resource: string; decision?: { effect: string; rule: string | null } };
      say(`    #${String(e.seq).padStart(3)} ${d.action.padEnd(10)} ${d.resource.padEnd(46)} -> ${d.decision?.effect}${d.decision?.rule ? ` (${d.decision.rule})` : ""}`);
    }
    const tokens = result.usage.tokens ?? { input: 0, output: 0 };
    say(`  ${result.status === "ok" ? "exited ok" : `${result.status} (${result.reason ?? "error"}): ${result.error ?? ""}`}; tokens ${tokens.input} in, ${tokens.output} out (budget ${kernel.policy.limits.tokens ?? "default"})`);
    say(`  answer: ${escapeText(result.output ?? "")}`);
    const carried = world.statusRequests.filter((r) => r.headers.authorization === `Bearer ${world.token}`).length;
    say(`  on the host: the status API got ${world.statusRequests.length} request(s), ${carried} with the token the kernel added;`);
    say(`  the collector got ${world.collectorRequests.length}; the token appears in the agent's output ${count(result.output ?? "", world.token)} times`);
    return { result, world, events };
  } finally {
    await kernel.close();
    await world.close();
  }
}

function count(text: string, needle: string): number {
  return needle === "" ? 0 : text.split(needle).length - 1;
}

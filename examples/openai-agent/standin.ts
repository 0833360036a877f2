/**
 * A stand-in for OpenAI for the openai-agent example: the scripted model server
 * (startScriptedModel) on 127.0.0.1, answering like a model that uses the `calculate` tool once
 * and then answers. It is a script, not a model, and says so (its answers name the model
 * "... (scripted)"). It prints its base URL and serves until it is stopped.
 *
 *   node dist/examples/openai-agent/standin.js [--port 8787]
 */
import { startScriptedModel, type ScriptStep, type ScriptedModel, type ScriptedRequest } from "../../runtime/index.js";

/** The model's side of the conversation: ask for the tool, then answer with its result. */
export function standinScript(request: ScriptedRequest): ScriptStep {
  const messages = (request.body.messages ?? []) as { role?: string; content?: unknown }[];
  const result = messages.findLast((m) => m.role === "tool");
  if (result === undefined) return { toolCalls: [{ name: "calculate", arguments: { operation: "multiply", a: 12, b: 7 } }], usage: { input: 120, output: 18 } };
  return { content: `12 times 7 is ${String(result.content)}.`, usage: { input: 160, output: 9 } };
}

/** Starts the stand-in on 127.0.0.1:`port` (0: a free port). */
export function startStandin(port: number): Promise<ScriptedModel> {
  return startScriptedModel((request) => standinScript(request), { port });
}

async function main(): Promise<void> {
  const at = process.argv.indexOf("--port");
  const port = at > 0 ? Number(process.argv[at + 1]) : 8787;
  const model = await startStandin(port);
  console.log(`${model.url}/v1`);
  const stop = (): void => void model.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) await main();

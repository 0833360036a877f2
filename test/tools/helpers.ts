/**
 * Shared pieces of the tools capability's tests: the toolbox agent (one source for both
 * engines), host tools that record what their handlers saw, a policy, and kernels closed after.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineTool, type KernelSpace, type LoggedEvent, type ToolContext, type ToolDefinition } from "../../dist/runtime/index.js";

const HERE = dirname(fileURLToPath(import.meta.url));
/** Runs the tool steps its task lists and reports each outcome (test/tools/agents/toolbox/agent.js). */
export const TOOLBOX = join(HERE, "agents", "toolbox", "agent.js");

/** What a handler saw: its arguments and its context (no signal). */
export interface Seen {
  tool: string;
  args: Record<string, unknown>;
  runId: string;
  agent: string;
  signal: AbortSignal;
}

/** Host tools whose handlers push into `seen`: create_issue, echo (returns `size` bytes), slow (waits on its signal). */
export function hostTools(seen: Seen[], description = "Creates an issue in a repository"): ToolDefinition[] {
  const note = (tool: string, args: Record<string, unknown>, c: ToolContext) => seen.push({ tool, args, runId: c.runId, agent: c.agent, signal: c.signal });
  return [
    defineTool({
      name: "create_issue",
      description,
      input: { type: "object", properties: { repo: { type: "string" }, title: { type: "string" }, labels: { type: "array", items: { type: "string" } } }, required: ["repo", "title"], additionalProperties: false },
      run: async (args, c) => {
        note("create_issue", args, c);
        return { number: 7, url: `https://example.test/${String(args.repo)}/issues/7` };
      },
    }),
    defineTool({
      name: "echo",
      description: "Returns a string of the size asked for",
      input: { type: "object", properties: { size: { type: "integer", minimum: 0 } }, required: ["size"] },
      run: (args, c) => {
        note("echo", args, c);
        return { text: "x".repeat(Number(args.size)) };
      },
    }),
    defineTool({
      name: "slow",
      description: "Waits until its signal aborts (or 30 s)",
      input: { type: "object" },
      run: (args, c) => {
        note("slow", args, c);
        return new Promise((resolve) => {
          const timer = setTimeout(() => resolve("late"), 30_000);
          c.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            resolve("aborted");
          });
        });
      },
    }),
  ];
}

export function toolsPolicy(rules: unknown[] = [], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: 1,
    name: "tools-test",
    default: "deny",
    rules: [
      { id: "basics", action: ["log.write", "clock.now", "random.bytes", "tool.list"], effect: "allow" },
      ...rules,
    ],
    ...extra,
  };
}

export { closeKernels, kernel } from "../kernel/helpers.js";

/** Runs the toolbox with these steps; the parsed outcomes. */
export async function runSteps(k: KernelSpace, steps: unknown[], agent?: Parameters<KernelSpace["execute"]>[0]): Promise<{ outcomes: Outcome[]; runId: string }> {
  const result = await k.execute(agent ?? (await k.load(TOOLBOX)), JSON.stringify(steps));
  if (result.status !== "ok") throw new Error(`the toolbox run ended ${result.status}: ${result.error}`);
  return { outcomes: JSON.parse(result.output!) as Outcome[], runId: result.runId };
}

export type Outcome = { ok: unknown } | { error: { name: string; kind: string | null; rule: string | null; message: string } };

/** The events of one run, from the kernel's log (in memory or on disk). */
export async function events(k: KernelSpace, runId: string): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  for await (const e of (await k.log).query({ runId })) out.push(e);
  return out;
}

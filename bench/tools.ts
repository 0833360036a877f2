/**
 * What a host tool call costs through the kernel: an agent calls tools.call on a host tool that
 * answers at once (QuickJS isolate, channel, the run's listing, the schema check, policy with an
 * `args` constraint, the log of the arguments and the result), beside an asynchronously answered
 * host call that does nothing (process.checkpoint: the two thread hand-offs every such call
 * pays), in the same kernel, with the in-memory log. Every figure is the median, over ROUNDS
 * rounds, of the mean per call over CALLS calls.
 */
import { KernelSpace, defineTool, type Agent } from "../runtime/index.js";
import { median, type BenchRow, type BenchSuite } from "./harness.js";

const CALLS = 500;
const ROUNDS = 5;

const POLICY = {
  version: 1,
  name: "bench-tools",
  default: "deny",
  rules: [
    { id: "basics", action: ["clock.now", "process.checkpoint"], effect: "allow" },
    { id: "lookup", action: "tool.call", resource: "lookup", args: { "/key": "item-*" }, effect: "allow" },
  ],
};

function loop(name: string, imports: string, call: string): Agent {
  return {
    name,
    kind: "module",
    engine: "quickjs",
    codeHash: name,
    source: `${imports}
import { monotonicNow } from "agentos:kernel/clock";
export function run(task) {
  const n = Number(task);
  ${call};
  const t0 = monotonicNow();
  for (let i = 0; i < n; i++) ${call};
  return String(Number(monotonicNow() - t0) / n / 1000);
}`,
  };
}

const TOOL_AGENT = loop("bench-tools", `import { call } from "agentos:kernel/tools";`, `call("lookup", '{"key":"item-42"}')`);
const FLOOR_AGENT = loop("bench-tools-floor", `import { checkpoint } from "agentos:kernel/process";`, `checkpoint("x")`);

async function perCallMs(kernel: KernelSpace, agent: Agent, n: number): Promise<number> {
  const result = await kernel.execute(agent, String(n));
  if (result.status !== "ok") throw new Error(`bench: the agent failed: ${result.error}`);
  return Number(result.output) / 1000;
}

export const toolsBench: BenchSuite = {
  title: "Tool calls: a host tool through the kernel vs an async host call doing nothing (in-memory log)",
  async run(): Promise<BenchRow[]> {
    const lookup = defineTool({
      name: "lookup",
      description: "Looks a key up",
      input: { type: "object", properties: { key: { type: "string" } }, required: ["key"] },
      run: ({ key }) => ({ key, value: 42 }),
    });
    const kernel = new KernelSpace({ policy: POLICY, log: false, tools: [lookup], limits: { wallTime: 600_000, hostCalls: 10_000_000 } });
    try {
      await perCallMs(kernel, TOOL_AGENT, 5);
      await perCallMs(kernel, FLOOR_AGENT, 5);
      const t: number[] = [];
      const f: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        t.push(await perCallMs(kernel, TOOL_AGENT, CALLS));
        f.push(await perCallMs(kernel, FLOOR_AGENT, CALLS));
      }
      const tool = median(t);
      const floor = median(f);
      return [
        { name: "tools.call per call (host tool, args rule)", value: tool, unit: "ms", better: "lower", baseline: { name: "process.checkpoint (async, does nothing)", value: floor } },
        { name: "added by the tool path", value: tool - floor, unit: "ms", better: "lower" },
      ];
    } finally {
      await kernel.close();
    }
  },
};

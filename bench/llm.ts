/**
 * What the kernel adds to a model call: an agent calls llm.chat with a 2 KB prompt and gets a
 * 2 KB answer from a stand-in OpenAI-compatible server on loopback (QuickJS isolate, channel,
 * request check, policy, log of the request and the whole answer, key lookup, the client's
 * request building and parsing, scrubbing), beside the same HTTP request sent directly with
 * `fetch` from the kernel's thread in the same run (body built, response parsed as JSON).
 * Target: under 1 ms added at the median.
 *
 * Measured with the in-memory log and with the durable LevelDB log (each call event and each
 * result event waits for its sync). Every figure is the median, over ROUNDS rounds, of the mean
 * per call over CALLS calls; the kernel's side and the baseline's run in the same round.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { KernelSpace, startScriptedModel, type Agent } from "../runtime/index.js";
import { median, type BenchRow, type BenchSuite } from "./harness.js";

const CALLS = 200;
const ROUNDS = 5;
const TARGET_MS = 1;
const PROMPT = "Summarize the following notes. ".repeat(64).slice(0, 2048);
const ANSWER = "The notes say the meeting moved to Tuesday. ".repeat(47).slice(0, 2048);
const KEY_ENV = "AGENT_OS_BENCH_MODEL_KEY";

const POLICY = {
  version: 1,
  name: "bench-llm",
  default: "deny",
  rules: [
    { id: "basics", action: ["clock.now"], effect: "allow" },
    { id: "model", action: "llm.chat", resource: "bench", effect: "allow" },
  ],
};

/** Calls llm.chat `n` times (the raw import) between two readings of the monotonic clock; returns µs per call. */
const AGENT_SOURCE = `import { chat } from "agentos:kernel/llm";
import { monotonicNow } from "agentos:kernel/clock";
const request = { model: "bench", messages: [{ role: "user", content: ${JSON.stringify(PROMPT)}, toolCalls: [] }], tools: [], maxTokens: 1024, stop: [], json: false };
export function run(task) {
  const n = Number(task);
  chat(request);
  const t0 = monotonicNow();
  for (let i = 0; i < n; i++) chat(request);
  return String(Number(monotonicNow() - t0) / n / 1000);
}`;
const AGENT: Agent = { name: "bench-llm", kind: "module", engine: "quickjs", source: AGENT_SOURCE, codeHash: "bench-llm" };

async function directMs(url: string, n: number): Promise<number> {
  const body = { model: "bench-model", messages: [{ role: "user", content: PROMPT }], max_tokens: 1024 };
  const once = async () => {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", authorization: `Bearer ${process.env[KEY_ENV]}` },
      body: JSON.stringify(body),
      redirect: "error",
    });
    const json = (await res.json()) as { choices: { message: { content: string } }[] };
    if (json.choices[0].message.content.length !== ANSWER.length) throw new Error("bench: unexpected answer");
  };
  await once();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await once();
  return (performance.now() - t0) / n;
}

async function kernelMs(kernel: KernelSpace, n: number): Promise<number> {
  const result = await kernel.execute(AGENT, String(n));
  if (result.status !== "ok") throw new Error(`bench: the agent failed: ${result.error}`);
  return Number(result.output) / 1000;
}

async function measure(url: string, log: { dir: string } | false): Promise<{ kernel: number; direct: number }> {
  const kernel = new KernelSpace({
    policy: POLICY,
    log,
    limits: { tokens: 1_000_000_000, wallTime: 600_000 },
    models: { bench: { provider: "openai", model: "bench-model", baseUrl: `${url}/v1`, apiKeyEnv: KEY_ENV } },
  });
  try {
    await kernelMs(kernel, 5); // warm: worker, engine, connection pool
    const k: number[] = [];
    const d: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      k.push(await kernelMs(kernel, CALLS));
      d.push(await directMs(url, CALLS));
    }
    return { kernel: median(k), direct: median(d) };
  } finally {
    await kernel.close();
  }
}

export const llmBench: BenchSuite = {
  title: "Model calls: llm.chat through the kernel vs the same request with fetch (2 KB prompt, 2 KB answer, loopback)",
  async run(): Promise<BenchRow[]> {
    process.env[KEY_ENV] = "sk-bench-0123456789abcdef";
    const server = await startScriptedModel([{ content: ANSWER, usage: { input: 512, output: 512 } }]);
    const dir = mkdtempSync(path.join(os.tmpdir(), "agent-os-bench-llm-"));
    try {
      const memory = await measure(server.url, false);
      const durable = await measure(server.url, { dir: path.join(dir, "log") });
      const row = (name: string, m: { kernel: number; direct: number }): BenchRow[] => [
        { name: `llm.chat per call (${name})`, value: m.kernel, unit: "ms", better: "lower", baseline: { name: "fetch + JSON, same request", value: m.direct } },
        { name: `added by the kernel (${name})`, value: m.kernel - m.direct, unit: "ms", better: "lower", target: { text: `< ${TARGET_MS} ms added at the median`, met: m.kernel - m.direct < TARGET_MS } },
      ];
      return [...row("in-memory log", memory), ...row("durable log", durable)];
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
      delete process.env[KEY_ENV];
    }
  },
};

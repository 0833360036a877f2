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
 *
 * Where the added time goes, each beside the same baseline: the provider client alone in the
 * kernel's thread (request building, the bounded read, parsing), an asynchronously answered host
 * call that does nothing (process.checkpoint on the in-memory log: the two thread hand-offs every
 * such call pays), and the log's staging of one model call's call and result events.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { openLog } from "../runtime/episodic/index.js";
import { sendChat } from "../runtime/models/client.js";
import type { ChatRequest } from "../runtime/models/types.js";
import { KernelSpace, startScriptedModel, type Agent } from "../runtime/index.js";
import { median, type BenchRow, type BenchSuite } from "./harness.js";

const CALLS = 200;
const ROUNDS = 5;
const TARGET_MS = 1;
/** The 2 KB prompt and 2 KB answer of a model call (also the web suite's). */
export const PROMPT = "Summarize the following notes. ".repeat(64).slice(0, 2048);
export const ANSWER = "The notes say the meeting moved to Tuesday. ".repeat(47).slice(0, 2048);
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

/** An agent that makes `n` checkpoints (answered asynchronously, nothing else done); returns µs per call. */
const CHECKPOINT_AGENT: Agent = {
  name: "bench-async-floor",
  kind: "module",
  engine: "quickjs",
  codeHash: "bench-async-floor",
  source: `import { checkpoint } from "agentos:kernel/process";
import { monotonicNow } from "agentos:kernel/clock";
export function run(task) {
  const n = Number(task);
  checkpoint("w");
  const t0 = monotonicNow();
  for (let i = 0; i < n; i++) checkpoint("x");
  return String(Number(monotonicNow() - t0) / n / 1000);
}`,
};

const CHAT: ChatRequest = { model: "bench", messages: [{ role: "user", content: PROMPT, toolCalls: [] }], tools: [], maxTokens: 1024, stop: [], json: false };

async function clientMs(url: string, n: number): Promise<number> {
  const spec = { provider: "openai" as const, model: "bench-model", baseUrl: `${url}/v1` };
  const once = () => sendChat(spec, CHAT, { apiKey: process.env[KEY_ENV], signal: new AbortController().signal });
  await once();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await once();
  return (performance.now() - t0) / n;
}

/** Staging one model call's two events (2 KB request, 2 KB answer) in an in-memory log. */
async function stagingMs(url: string, n: number): Promise<number> {
  const answer = await sendChat({ provider: "openai", model: "bench-model", baseUrl: `${url}/v1` }, CHAT, { apiKey: process.env[KEY_ENV], signal: new AbortController().signal });
  const log = await openLog(false);
  try {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const call = log.stage({ type: "call", runId: "r", pid: 1, agent: "a", data: { op: "llm.chat", action: "llm.chat", resource: "bench", args: [CHAT], decision: { effect: "allow", rule: "model", reason: "", matched: ["model"] } } });
      log.stage({ type: "result", runId: "r", pid: 1, agent: "a", data: { call: call.seq, ok: answer, model: { alias: "bench", latencyMs: 1 } } });
    }
    return (performance.now() - t0) / n;
  } finally {
    await log.close();
  }
}

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

async function breakdown(url: string): Promise<{ client: number; direct: number; floor: number; staging: number }> {
  const kernel = new KernelSpace({ policy: { version: 1, default: "deny", rules: [{ action: ["clock.now", "process.checkpoint"], effect: "allow" }] }, log: false, limits: { wallTime: 600_000 } });
  try {
    await kernel.execute(CHECKPOINT_AGENT, "5");
    const c: number[] = [];
    const d: number[] = [];
    const f: number[] = [];
    const s: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      c.push(await clientMs(url, CALLS));
      d.push(await directMs(url, CALLS));
      const floor = await kernel.execute(CHECKPOINT_AGENT, String(CALLS));
      f.push(Number(floor.output) / 1000);
      s.push(await stagingMs(url, CALLS));
    }
    return { client: median(c), direct: median(d), floor: median(f), staging: median(s) };
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
      const parts = await breakdown(server.url);
      const row = (name: string, m: { kernel: number; direct: number }): BenchRow[] => [
        { name: `llm.chat per call (${name})`, value: m.kernel, unit: "ms", better: "lower", baseline: { name: "fetch + JSON, same request", value: m.direct } },
        { name: `added by the kernel (${name})`, value: m.kernel - m.direct, unit: "ms", better: "lower", target: { text: `< ${TARGET_MS} ms added at the median`, met: m.kernel - m.direct < TARGET_MS } },
      ];
      return [
        ...row("in-memory log", memory),
        ...row("durable log", durable),
        { name: "where: the provider client alone, same thread", value: parts.client, unit: "ms", better: "lower", baseline: { name: "fetch + JSON, same request", value: parts.direct } },
        { name: "where: async host call doing nothing (checkpoint)", value: parts.floor, unit: "ms", better: "lower" },
        { name: "where: logging one model call (2 events, in memory)", value: parts.staging, unit: "ms", better: "lower" },
      ];
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
      delete process.env[KEY_ENV];
    }
  },
};

/**
 * Agents written with the usual SDKs (the Web platform inside the sandbox):
 *
 * - loading an agent that bundles the `openai` package (about 950 KB): the first load (esbuild
 *   bundling every input, then the bundle cached) and a cached load, beside reading the
 *   bundle's input files once, in the same run;
 * - a chat completion through the `openai` SDK inside the QuickJS sandbox (its fetch is the
 *   kernel's http.fetch: policy, address guard, the secret at egress, the log), beside the same
 *   request with Node's `fetch` sent directly from the kernel's thread to the stand-in on
 *   loopback, and beside the `openai` SDK in plain Node. 2 KB prompt, 2 KB answer, in-memory
 *   log. Target: under 2 ms added at the median. Every figure is the median, over ROUNDS
 *   rounds, of the mean per call over CALLS calls; all run in the same round.
 * - where the added time goes: the same request in the sandbox with `fetch` and `res.json()`
 *   (the Web platform, no SDK) and with the kernel's http.fetch from the guest SDK (neither).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KernelSpace, startScriptedModel, type Agent } from "../runtime/index.js";
import { bundleAgent } from "../runtime/hosts/node/build/bundle.js";
import { QUICKJS_PROFILE } from "../runtime/engines/quickjs/agent.js";
import { median, timeEach, type BenchRow, type BenchSuite } from "./harness.js";
import { ANSWER, PROMPT } from "./llm.js";

const AGENT = new URL("../../bench/agents/openai.js", import.meta.url).pathname;
/** The same request without the SDK: the sandbox's fetch, or the guest SDK's http.fetch. */
const FETCH_AGENT = new URL("../../bench/agents/fetch.js", import.meta.url).pathname;
const LOADS = 7;
const CALLS = 100;
const ROUNDS = 5;
const TARGET_MS = 2;
const KEY_ENV = "AGENT_OS_BENCH_WEB_KEY";

const POLICY = {
  version: 1,
  name: "bench-web",
  default: "deny",
  rules: [
    { id: "basics", action: ["clock.*", "random.bytes", "log.write"], effect: "allow" },
    { id: "model", action: "http.fetch", resource: "http://127.0.0.1:*/v1/chat/completions", methods: ["POST"], effect: "allow" },
  ],
};

async function loads(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), "agent-os-bench-web-"));
  try {
    const { inputs, code } = await bundleAgent(AGENT, AGENT, QUICKJS_PROFILE); // esbuild's service starts here
    const readMs = median(await timeEach(LOADS, () => inputs.forEach((file) => readFileSync(file)))) / 1000;
    const first: number[] = [];
    for (let i = 0; i < LOADS; i++) {
      const kernel = new KernelSpace({ log: false, pool: { warm: 0 }, cache: { dir: join(dir, `cache-${i}`), key: new Uint8Array(randomBytes(32)) } });
      const t0 = performance.now();
      await kernel.load(AGENT);
      first.push(performance.now() - t0);
      await kernel.close();
    }
    const cache = { dir: join(dir, "cache"), key: new Uint8Array(randomBytes(32)) };
    const kernel = new KernelSpace({ log: false, pool: { warm: 0 }, cache });
    await kernel.load(AGENT);
    const cachedMs = median(await timeEach(LOADS, () => kernel.load(AGENT))) / 1000;
    await kernel.close();
    const baseline = { name: `read the ${inputs.length} input files once`, value: readMs };
    const size = `${(code.length / 1024).toFixed(0)} KiB`;
    return [
      { name: `kernel.load of an openai agent, first (bundle ${size}), median of ${LOADS}`, value: median(first), unit: "ms", better: "lower", baseline },
      { name: `kernel.load of the same agent, cached, median of ${LOADS}`, value: cachedMs, unit: "ms", better: "lower", baseline },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Node's fetch to the stand-in, the request the SDK sends; ms per call. */
async function directMs(url: string, n: number): Promise<number> {
  const body = JSON.stringify({ model: "bench-model", messages: [{ role: "user", content: PROMPT }], max_tokens: 1024 });
  const once = async () => {
    const res = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", accept: "application/json", authorization: `Bearer ${process.env[KEY_ENV]}` }, body });
    const json = (await res.json()) as { choices: { message: { content: string } }[] };
    if (json.choices[0].message.content.length !== ANSWER.length) throw new Error("bench: unexpected answer");
  };
  await once();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await once();
  return (performance.now() - t0) / n;
}

/** The same agent module, imported by Node itself (the SDK on Node's fetch); ms per call. */
async function nodeSdkMs(url: string, n: number): Promise<number> {
  const { default: OpenAI } = await import("openai");
  const client = new OpenAI({ apiKey: process.env[KEY_ENV], baseURL: `${url}/v1`, maxRetries: 0 });
  const once = async () => {
    const completion = await client.chat.completions.create({ model: "bench-model", messages: [{ role: "user", content: PROMPT }], max_tokens: 1024 });
    if (completion.choices[0].message.content?.length !== ANSWER.length) throw new Error("bench: unexpected answer");
  };
  await once();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await once();
  return (performance.now() - t0) / n;
}

async function calls(): Promise<BenchRow[]> {
  process.env[KEY_ENV] = "sk-bench-web-0123456789abcdef";
  const server = await startScriptedModel([{ content: ANSWER, usage: { input: 512, output: 512 } }]);
  const secrets = [{ name: "model", env: KEY_ENV, origins: [server.url], header: "Authorization", format: "Bearer {value}" }];
  const kernel = new KernelSpace({ policy: POLICY, log: false, secrets, allowPrivate: ["127.0.0.1"], limits: { wallTime: 600_000, hostCalls: 10_000_000 }, pool: { warm: 0 } });
  try {
    const sdk = await kernel.load(AGENT);
    const plain = await kernel.load(FETCH_AGENT);
    const sandboxMs = async (agent: Agent, n: number, mode = "sdk"): Promise<number> => {
      const task = JSON.stringify({ baseURL: `${server.url}/v1`, prompt: PROMPT, answerLength: ANSWER.length, n, mode });
      const result = await kernel.execute(agent, task);
      if (result.status !== "ok") throw new Error(`bench: the ${agent.name} agent failed: ${result.error}`);
      return Number(result.output) / 1000;
    };
    // warm: worker, engine, the Web platform's modules, connection pools
    for (const [agent, mode] of [[sdk, "sdk"], [plain, "fetch"], [plain, "http"]] as const) await sandboxMs(agent, 5, mode);
    const rounds: Record<"sdk" | "fetch" | "http" | "direct" | "node", number[]> = { sdk: [], fetch: [], http: [], direct: [], node: [] };
    for (let round = 0; round < ROUNDS; round++) {
      rounds.sdk.push(await sandboxMs(sdk, CALLS));
      rounds.fetch.push(await sandboxMs(plain, CALLS, "fetch"));
      rounds.http.push(await sandboxMs(plain, CALLS, "http"));
      rounds.direct.push(await directMs(server.url, CALLS));
      rounds.node.push(await nodeSdkMs(server.url, CALLS));
    }
    const m = (k: keyof typeof rounds) => median(rounds[k]);
    const baseline = { name: "Node's fetch + JSON, same request", value: m("direct") };
    const added = m("sdk") - m("direct");
    return [
      { name: "chat completion through the openai SDK in the sandbox", value: m("sdk"), unit: "ms", better: "lower", baseline },
      { name: "added by the sandbox", value: added, unit: "ms", better: "lower", target: { text: `< ${TARGET_MS} ms added at the median`, met: added < TARGET_MS } },
      { name: "where: the openai SDK in plain Node", value: m("node"), unit: "ms", better: "lower", baseline },
      { name: "where: the sandbox's fetch + res.json(), no SDK", value: m("fetch"), unit: "ms", better: "lower", baseline },
      { name: "where: the kernel's http.fetch (agent-os/guest), no Web platform", value: m("http"), unit: "ms", better: "lower", baseline },
    ];
  } finally {
    await kernel.close();
    await server.close();
    delete process.env[KEY_ENV];
  }
}

export const webBench: BenchSuite = {
  title: "Agents written with the usual SDKs: loading an openai agent, a chat completion through the SDK in the sandbox vs fetch (2 KB prompt, 2 KB answer, loopback)",
  async run(): Promise<BenchRow[]> {
    return [...(await loads()), ...(await calls())];
  },
};

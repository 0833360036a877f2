// The portable conformance subset: the same cases run by the edge kernel in workerd
// (worker.js) and in Chromium (browser-entry.js), each returning a plain report that the
// tests check. `engine` is engine.wasm as a compiled WebAssembly.Module; `origin` a stand-in
// HTTP server's (its /allowed/** answers, its /secret/** must never be reached).
import { defineTool, EdgeKernel, memoryKvStore } from "../../dist/runtime/edge/index.js";
import { FS_AGENT_SOURCE, FS_POLICY } from "./fs-agent.js";

const POLICY = (origin) => `version: 1
name: edge-conformance
extends: [standard]
rules:
  - id: stand-in
    action: http.fetch
    resource: "${origin}/allowed/**"
    effect: allow
  - id: no-secret
    action: http.fetch
    resource: "${origin}/secret/**"
    effect: deny
`;

const agents = {
  fetcher: `import { http, log } from "agent-os/guest";
export async function run(base) {
  await log.info("start");
  const ok = await http.fetch(base + "/allowed/one");
  let denied = "";
  try { await http.fetch(base + "/secret/two"); } catch (e) { denied = String(e.message || e); }
  return JSON.stringify({ body: await ok.text(), denied, t: Date.now(), r: Math.random() });
}`,
  spin: `export function run() { let i = 0; for (;;) i++; }`,
  bomb: `export function run() { const keep = []; for (;;) keep.push(new Array(100000).fill("memory")); }`,
  ticker: `import { log } from "agent-os/guest";
export async function run() { for (let i = 0; i < 20; i++) await log.info("tick " + i); return "ticked"; }`,
};

export async function conformance(engine, origin) {
  const kernel = new EdgeKernel({ engine, policy: POLICY(origin), allowPrivate: ["127.0.0.1"] });
  const agent = (name) => EdgeKernel.agent(name, agents[name]);
  try {
    const fetched = await kernel.execute(agent("fetcher"), origin);
    const fuel = await kernel.execute(agent("spin"), "", { limits: { fuel: 5_000_000 } });
    const deadline = await kernel.execute(agent("spin"), "", { limits: { wallTime: 300 } });
    const memory = await kernel.execute(agent("bomb"), "", { limits: { memory: 16 * 1024 * 1024 } });

    // SIGSTOP a spinner; a neighbour runs to the end meanwhile; SIGCONT, then SIGKILL.
    const spinner = kernel.spawn(agent("spin"), "");
    await new Promise((r) => setTimeout(r, 20));
    spinner.signal("SIGSTOP");
    await new Promise((r) => setTimeout(r, 20));
    const stoppedFuel = spinner.usage.fuel;
    const neighbour = await kernel.execute(agent("ticker"), "");
    const stateWhileStopped = spinner.state;
    const fuelWhileStopped = spinner.usage.fuel;
    spinner.signal("SIGCONT");
    await new Promise((r) => setTimeout(r, 20));
    const stateAfterCont = spinner.state;
    spinner.signal("SIGKILL");
    const killed = await spinner.wait();

    const log = await kernel.log;
    const verified = await log.verify();
    const replay = await kernel.replay({ runId: fetched.runId });
    const events = [];
    for await (const e of log.query({ runId: fetched.runId })) events.push({ type: e.type, action: e.data.action, effect: e.data.decision?.effect, rule: e.data.decision?.rule });
    return {
      fetched: { status: fetched.status, output: fetched.output, error: fetched.error, denials: fetched.denials },
      fuel: { status: fuel.status, reason: fuel.reason },
      deadline: { status: deadline.status, reason: deadline.reason },
      memory: { status: memory.status, reason: memory.reason, error: memory.error },
      stop: { stoppedFuel, fuelWhileStopped, stateWhileStopped, stateAfterCont, neighbour: neighbour.status, neighbourOutput: neighbour.output, killed: killed.status, killedSignal: killed.signal },
      verified: { ok: verified.ok, count: verified.count },
      replay: { status: replay.status, output: replay.output, same: replay.output === fetched.output },
      events,
    };
  } finally {
    await kernel.close();
  }
}

/** The address guard where the platform resolves names: IP literals and localhost names are refused. */
export async function guard(engine, origin) {
  const port = new URL(origin).port;
  const policy = `version: 1
name: edge-guard
extends: [standard]
rules:
  - id: anywhere
    action: http.fetch
    resource: "http://**"
    effect: allow
`;
  const kernel = new EdgeKernel({ engine, policy });
  const source = `import { http } from "agent-os/guest";
export async function run(targets) {
  const out = [];
  for (const url of JSON.parse(targets)) { try { await http.fetch(url); out.push("reached"); } catch (e) { out.push(String(e.message || e)); } }
  return JSON.stringify(out);
}`;
  try {
    const targets = [`http://127.0.0.1:${port}/allowed/guard`, "http://169.254.169.254/latest/meta-data/", `http://localhost:${port}/allowed/guard`, `http://[::ffff:127.0.0.1]:${port}/allowed/guard`];
    const result = await kernel.execute(EdgeKernel.agent("guarded", source), JSON.stringify(targets));
    return { status: result.status, answers: JSON.parse(result.output ?? "[]"), error: result.error };
  } finally {
    await kernel.close();
  }
}

/**
 * A redirect from an allowed URL to a denied one: the platform follows none (redirect:
 * "manual"), the kernel decides the next hop and refuses it. A browser does not show scripts
 * where a redirect goes: the kernel refuses to follow it unseen.
 */
export async function redirect(engine, origin) {
  const kernel = new EdgeKernel({ engine, policy: POLICY(origin), allowPrivate: ["127.0.0.1"] });
  const source = `import { http } from "agent-os/guest";
export async function run(url) { try { await http.fetch(url); return "followed"; } catch (e) { return String(e.message || e); } }`;
  try {
    const result = await kernel.execute(EdgeKernel.agent("redirected", source), `${origin}/allowed/redirect`);
    return { status: result.status, output: result.output, denials: result.denials };
  } finally {
    await kernel.close();
  }
}

/**
 * A model call: the agent asks the alias "gpt", the kernel calls the stand-in model at
 * `modelUrl` through the host's fetch with the key it alone holds, and logs the call. The key
 * reaches the model and nothing the agent or the log can see; the run replays from the log.
 */
export async function model(engine, modelUrl) {
  const policy = `version: 1
name: edge-model
extends: [standard]
rules:
  - id: model
    action: llm.chat
    resource: gpt
    effect: allow
`;
  const key = "sk-edge-model-test-4c1d9e";
  const kernel = new EdgeKernel({
    engine,
    policy,
    models: { gpt: { provider: "openai", model: "gpt-edge", baseUrl: `${modelUrl}/v1`, apiKeyEnv: "EDGE_MODEL_KEY" } },
    env: (name) => (name === "EDGE_MODEL_KEY" ? key : undefined),
  });
  const source = `import { llm } from "agent-os/guest";
export async function run(question) {
  const answer = await llm.chat({ model: "gpt", messages: [{ role: "user", content: question }] });
  return JSON.stringify({ content: answer.content, usage: answer.usage });
}`;
  try {
    const result = await kernel.execute(EdgeKernel.agent("asker", source), "What is 2 + 2?");
    const log = await kernel.log;
    const events = [];
    for await (const e of log.query({ runId: result.runId })) events.push(e);
    const replay = await kernel.replay({ runId: result.runId });
    return {
      status: result.status,
      output: result.output,
      error: result.error,
      tokens: result.usage.tokens,
      calls: events.filter((e) => e.type === "call").map((e) => `${e.data.action} ${e.data.resource} ${e.data.decision.effect}`),
      keyInLog: JSON.stringify(events).includes(key),
      keyInOutput: (result.output ?? "").includes(key),
      verified: (await log.verify()).ok,
      replay: replay.status,
    };
  } finally {
    await kernel.close();
  }
}

const SECRET_VALUE = 'sk-edge/7f+Qx"z=very-secret-91c4';

/**
 * Secrets at egress: the policy names a secret for the stand-in's origin, its value only in the
 * host's `env`. The agent fetches the stand-in's echoes of what it was sent (raw and in a
 * header, gzip-compressed, gzip inside gzip, br, a redirect whose location holds it) and another
 * origin. `origins` is JSON: `{ origin, other }` (the other origin's server answers with CORS).
 * The report has what the agent got, the result events' secret names and the log's text (bytes
 * as Latin-1), for the checks to search for the value.
 */
export async function secrets(engine, origins) {
  const { origin, other } = JSON.parse(origins);
  const policy = `version: 1
name: edge-secrets
extends: [standard]
rules:
  - id: stand-in
    action: http.fetch
    resource: "${origin}/allowed/**"
    effect: allow
  - id: other-origin
    action: http.fetch
    resource: "${other}/allowed/**"
    effect: allow
secrets:
  - name: stand-in-key
    env: EDGE_STAND_IN_KEY
    origins: ["${origin}"]
    header: Authorization
    format: "Bearer {value}"
`;
  const kernel = new EdgeKernel({ engine, policy, allowPrivate: ["127.0.0.1"], env: (name) => (name === "EDGE_STAND_IN_KEY" ? SECRET_VALUE : undefined) });
  const source = `import { http } from "agent-os/guest";
export async function run(task) {
  const { origin, other } = JSON.parse(task);
  const calls = [
    ["raw", origin + "/allowed/secrets/raw", { authorization: "Bearer made-by-the-agent" }],
    ["gzip", origin + "/allowed/secrets/gzip"],
    ["gzipInGzip", origin + "/allowed/secrets/gzip-in-gzip"],
    ["br", origin + "/allowed/secrets/br"],
    ["redirect", origin + "/allowed/secrets/leak-location"],
    ["other", other + "/allowed/secrets/other"],
  ];
  const out = {};
  for (const [name, url, headers] of calls) {
    try {
      const res = await http.fetch(url, { headers: headers || {} });
      out[name] = { status: res.status, headers: res.headers, body: res.text() };
    } catch (e) {
      out[name] = { error: e.name, kind: e.kind || null, message: String(e.detail || e.reason || e.message) };
    }
  }
  return JSON.stringify(out);
}`;
  try {
    const result = await kernel.execute(EdgeKernel.agent("secret-user", source), origins);
    const log = await kernel.log;
    const events = [];
    for await (const e of log.query({ runId: result.runId })) events.push(e);
    const fetches = new Set(events.filter((e) => e.type === "call" && e.data.action === "http.fetch").map((e) => e.seq));
    const latin1 = (bytes) => Array.from(bytes, (b) => String.fromCharCode(b)).join("");
    const replay = await kernel.replay({ runId: result.runId });
    return {
      value: SECRET_VALUE,
      status: result.status,
      error: result.error,
      answers: JSON.parse(result.output ?? "{}"),
      output: result.output,
      // (each http.fetch call's result event: the secrets it carried, by name, or null)
      fetchSecrets: events.filter((e) => e.type === "result" && fetches.has(e.data.call)).map((e) => e.data.secrets ?? null),
      logText: JSON.stringify(events, (_k, v) => (v instanceof Uint8Array ? latin1(v) : v)),
      verified: (await log.verify()).ok,
      replay: { status: replay.status, same: replay.output === result.output },
    };
  } finally {
    await kernel.close();
  }
}

// The fs capability on mounts backed by a key-value store: a script of fs calls (see
// fs-agent.js) run by one kernel, then read back by a new kernel over the same store.
export async function fsCase(engine) {
  const ws = memoryKvStore();
  const data = memoryKvStore();
  const run = async (ops, limits = {}) => {
    const kernel = new EdgeKernel({ engine, policy: FS_POLICY, fs: { mounts: { "/workspace": { store: ws }, "/data": { store: data, readOnly: true } } } });
    try {
      const result = await kernel.execute(EdgeKernel.agent("fs-script", FS_AGENT_SOURCE), JSON.stringify(ops), { limits });
      return result.status === "ok" ? JSON.parse(result.output) : { status: result.status, error: result.error };
    } finally {
      await kernel.close();
    }
  };
  const first = await run(
    [
      ["mkdir", "/workspace/notes/deep", { recursive: true }],
      ["write", "/workspace/notes/a.txt", "hello"],
      ["write", "/workspace/notes/a.txt", " edge", { append: true }],
      ["write", "/workspace/notes/big.txt", "0123456789".repeat(20_000)],
      ["list", "/workspace/notes"],
      ["stat", "/workspace/notes/a.txt"],
      ["readText", "/workspace/../etc/passwd"],
      ["readText", "/elsewhere/x"],
      ["write", "/workspace/secret/k", "k"],
      ["write", "/data/x", "x"],
      ["write", "/workspace/too-much.txt", "x".repeat(100_000)],
    ],
    { fsWriteBytes: 250_000 },
  );
  const second = await run([
    ["readText", "/workspace/notes/a.txt"],
    ["stat", "/workspace/notes/big.txt"],
    ["remove", "/workspace/notes", { recursive: true }],
    ["list", "/workspace"],
  ]);
  return { first, second };
}

/**
 * Tools: a host tool (defineTool) and an MCP server over Streamable HTTP at `${origin}/mcp` (a
 * real one, built with the official SDK: see tools-server.ts), reached through the host's fetch.
 * The agent lists its tools, calls allowed ones, one the policy denies and one with an argument
 * that breaks its schema; the report has its outcomes, the log's calls, the chain's check and
 * the replay. The checks (tools-checks.ts) compare what the server was sent.
 */
export async function tools(engine, origin) {
  const policy = `version: 1
name: edge-tools
extends: [standard]
rules:
  - { id: list-tools, action: tool.list, effect: allow }
  - { id: remote-echo, action: tool.call, resource: remote/echo, effect: allow }
  - { id: remote-add, action: tool.call, resource: remote/add, effect: allow }
  - { id: no-wipe, action: tool.call, resource: remote/wipe, effect: deny }
  - { id: stamp, action: tool.call, resource: stamp, effect: allow }
`;
  const stamp = defineTool({
    name: "stamp",
    description: "Stamps a number",
    input: { type: "object", properties: { n: { type: "integer" } }, required: ["n"], additionalProperties: false },
    run: async ({ n }, { agent }) => ({ stamped: n, by: agent }),
  });
  const kernel = new EdgeKernel({ engine, policy, tools: [stamp], mcp: { remote: { url: `${origin}/mcp` } } });
  const source = `import { tools } from "agent-os/guest";
export async function run() {
  const out = {};
  const attempt = async (key, f) => { try { out[key] = { ok: await f() }; } catch (e) { out[key] = { error: e.name, kind: e.kind || null, rule: e.rule || null, message: String(e.message) }; } };
  await attempt("list", async () => (await tools.list()).map((t) => t.name));
  await attempt("echo", () => tools.call("remote/echo", { text: "hello from the edge" }));
  await attempt("add", () => tools.call("remote/add", { a: 2, b: 3 }));
  await attempt("wipe", () => tools.call("remote/wipe", {}));
  await attempt("invalid", () => tools.call("remote/echo", { text: 42 }));
  await attempt("stamp", () => tools.call("stamp", { n: 7 }));
  await attempt("stampInvalid", () => tools.call("stamp", { n: 7, extra: true }));
  return JSON.stringify(out);
}`;
  try {
    const result = await kernel.execute(EdgeKernel.agent("tool-user", source), "");
    const log = await kernel.log;
    const events = [];
    for await (const e of log.query({ runId: result.runId })) if (e.type === "call") events.push(`${e.data.action} ${e.data.resource} ${e.data.decision.effect} ${e.data.decision.rule}`);
    const replay = await kernel.replay({ runId: result.runId });
    return {
      status: result.status,
      error: result.error,
      outcomes: JSON.parse(result.output ?? "{}"),
      denials: result.denials,
      events,
      verified: (await log.verify()).ok,
      replay: { status: replay.status, same: replay.output === result.output },
    };
  } finally {
    await kernel.close();
  }
}

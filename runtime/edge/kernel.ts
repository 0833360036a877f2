/**
 * The kernel on an edge host or in a browser: one thread, no files, no native modules. Agents
 * run on the asynchronous QuickJS engine in this thread (an engine instance and linear memory
 * each), every host call goes through the same gate, policy and hash-chained log as on Node,
 * and signals, fuel, the deadline and the memory limit work the same.
 *
 * What the host gives: the engine (engine.wasm imported as a WebAssembly.Module: edge hosts do
 * not compile WebAssembly from bytes), the policy (YAML text or an object), and optionally the
 * log's store, the platform's fetch, model aliases and where their keys are. Capabilities
 * here: clock, random, log lines, checkpoints, http (with the policy's secrets, their values
 * from the host's `env`), llm (both through `fetch`) and fs (mounts on the host's key-value
 * stores, edge/fs.ts), and tools (the host's own, made with defineTool, and MCP servers over
 * Streamable HTTP through `fetch`: edge/tools.ts), and sql (SQLite in WebAssembly, with the same
 * analyzer as on Node: edge/sql.ts).
 */
import { Wasm, type WasmModule } from "../engines/component/wasm.js";
import { useEngineModule } from "../engines/quickjs-async/module.js";
import { quickjsStackFor } from "../engines/quickjs-async/stack.js";
import { createChainLog, type KernelLog } from "../episodic/log.js";
import type { LogBackend } from "../episodic/backend.js";
import { createMemoryBackend } from "../episodic/memory.js";
import { locateRun } from "../episodic/recording.js";
import { Replayer, recordedAgent, replayGateRun, spawnedWith, type ReplayResult } from "../episodic/replay.js";
import { KernelClosedError, UsageError } from "../errors.js";
import { authorizeHop, type GateRun, type Verifier } from "../gate.js";
import { createClock } from "../capabilities/clock.js";
import { createLlm } from "../capabilities/llm.js";
import { checkModels, type ModelsOption } from "../kernel/models-option.js";
import type { RunCapabilities } from "../capabilities/index.js";
import { Admission } from "../kernel/admission.js";
import { newGateRun, type CapabilityBase } from "../kernel/gate-run.js";
import { InThreadHost } from "../kernel/in-thread.js";
import type { Agent } from "../kernel/kernel.js";
import { AgentProcess, type ProcessInfo } from "../kernel/process.js";
import { mergeLimits, runSpec, validateLimits, withCodeStored } from "../kernel/run-spec.js";
import { compilePolicy } from "../policy/portable.js";
import { checkMergedSecrets } from "../policy/secrets.js";
import { webContentDecoder } from "../capabilities/secrets-web.js";
import { sha256Hex } from "../portable/sha256.js";
import type { Limits, ModelAlias, Policy, RunResult, Signal } from "../types.js";
import { createEdgeHttp, type FetchFunction } from "./http.js";
import { createEdgeFs, type EdgeMount } from "./fs.js";
import { checkEdgeFs, loadEdgeMounts, type EdgeFsOption } from "./fs-mounts.js";
import { SDK_SOURCE } from "./sdk-source.js";
import { checkEdgeSql, EdgeSql, type EdgeSqlOption } from "./sql.js";
import { edgeToolRegistry, runTools } from "./tools.js";
import type { ToolDefinition } from "../tools/host.js";
import type { McpHttpSpec } from "../tools/mcp-spec.js";
import type { ToolRegistry } from "../tools/registry.js";
import { WEB_SOURCES } from "./web-sources.js";
import { setWebSources } from "../engines/web/quickjs.js";

/** Options of {@link EdgeKernel}. */
export interface EdgeKernelOptions {
  /** engine.wasm (runtime/engines/quickjs-async/engine.wasm), imported as a WebAssembly.Module. */
  engine: WasmModule;
  /** YAML text, a policy object, or a compiled Policy (see compilePolicy). */
  policy: string | Record<string, unknown> | Policy;
  /** Where the log is kept: a backend (see LogBackend) or an open log. Default: in memory. */
  log?: LogBackend | KernelLog;
  /** The platform's fetch, for the http capability. Default: `globalThis.fetch`. */
  fetch?: FetchFunction;
  /** Private targets agents may reach (IP literals, CIDRs, localhost names). Default: none. */
  allowPrivate?: string[];
  /** Limits that override the policy's, for every run. */
  limits?: Partial<Limits>;
  /** How many agents run at once; more wait in a queue (state "queued"). Default: 64. */
  maxConcurrent?: number;
  /** The wall clock agents read, in milliseconds. Default: Date.now. */
  now?: () => number;
  /**
   * The host thread's V8 stack, in bytes: QuickJS's recursion limit is derived from it (see
   * quickjs-async/stack.ts). Default: V8's default, 984 KiB, which allows shallow recursion only.
   */
  nativeStackBytes?: number;
  /** Milliseconds between SIGTERM and the SIGKILL that follows. Default: 5000. */
  termGraceMs?: number;
  /**
   * Model aliases for the `llm` capability, as on Node (`provider`, `model`, `baseUrl`,
   * `apiKeyEnv`, ...); they override the policy's `models:` per alias. Requests go through
   * the host's global `fetch`.
   */
  models?: ModelsOption;
  /**
   * Where model keys (`apiKeyEnv`) are read, at call time: a Worker's `env` bindings, say.
   * Default: nowhere, so a model that needs a key fails its calls. Agents never see a key.
   * The policy's `secrets:` are read here too, at call time (a secret that is not set fails
   * the http.fetch that needs it with `io`, before anything is sent).
   */
  env?: (name: string) => string | undefined;
  /**
   * The content codings the platform's fetch undoes itself before the kernel reads a body, such
   * as `["gzip", "deflate", "br"]` in a page. A response to a request that carried a secret is
   * scrubbed once decoded: gzip and deflate the kernel decodes itself when it finds them still
   * encoded; any other coding is refused (`io`) unless listed here. List only what the platform
   * is known to decode (see capabilities/secrets-web.ts). Default: none.
   */
  decodedByFetch?: string[];
  /**
   * The `fs` capability: guest paths mapped onto the host's key-value stores, e.g.
   * `{ mounts: { "/workspace": { store: durableObjectKvStore(ctx.storage) }, "/data": { store, readOnly: true } } }`.
   * Each store's tree is loaded into memory when the kernel starts (runs wait for it) and every
   * change is written through before the call returns (see edge/fs.ts; no links of any kind).
   * The policy decides every call as on Node. Default: no mounts (fs calls answer `not-found`).
   */
  fs?: EdgeFsOption;
  /**
   * The `sql` capability: SQLite in WebAssembly (`agent-os/sqlite.wasm`, imported as a module),
   * with the same analyzer and policy facts as on Node, e.g.
   * `{ sqlite, databases: { main: { store: durableObjectKvStore(ctx.storage) } } }`. Each database
   * is in memory, loaded from its store when the kernel starts and saved to it after every
   * statement that commits a change (see edge/sql.ts). Default: no databases.
   */
  sql?: EdgeSqlOption;
  /**
   * Tools of the host's own code that agents may call (`tools.call(name, args)`), made with
   * `defineTool` from `agent-os/edge`; named `TOOL`. Their schemas are interpreted (no code
   * generation). Bad or duplicate definitions are a UsageError. Default: none.
   */
  tools?: readonly ToolDefinition[];
  /**
   * MCP servers whose tools agents may call, as `SERVER/TOOL`: Streamable HTTP only
   * (`{ url, headers? }`; a stdio spec is a UsageError naming the server). Their requests go
   * through `fetch`; a redirect is refused, not followed. Connected when a run first lists or
   * calls tools, closed with the kernel. A bad name or spec is a UsageError. Default: none.
   *
   * @example mcp: { remote: { url: "https://tools.example.com/mcp", headers: { authorization: `Bearer ${env.TOOLS_TOKEN}` } } }
   */
  mcp?: Readonly<Record<string, McpHttpSpec>>;
}

/** The hard cap on one agent's engine memory here: an edge isolate has about 128 MB in all. */
const MAX_HEAP_BYTES = 64 * 1024 * 1024;
const DEFAULT_STACK_BYTES = 984 * 1024;

/** "verify" needs models, which this kernel does not have: such a decision denies (fail closed). */
const noVerifier: Verifier = async (_request, decision) => ({
  effect: "deny",
  rule: decision.rule,
  reason: "this rule asks for verification by models, and this kernel has none configured",
  matched: decision.matched,
});

/**
 * A kernel for edge hosts and browsers.
 *
 * @example
 * import engine from "agent-os/engine.wasm"; // a WebAssembly.Module, as the host imports wasm
 * const kernel = new EdgeKernel({ engine, policy: "extends: [standard]\n" });
 * const result = await kernel.execute(EdgeKernel.agent("hello", source), "world");
 */
export class EdgeKernel {
  readonly policy: Policy;
  private readonly options: EdgeKernelOptions;
  private readonly logPromise: Promise<KernelLog>;
  private readonly admission: Admission;
  private readonly host: InThreadHost;
  private readonly processes = new Map<number, AgentProcess>();
  private readonly storedCode = new Set<string>();
  private readonly models: Record<string, ModelAlias>;
  /** The fs mounts, once their trees are loaded (runs start after that). */
  private readonly mountsReady: Promise<EdgeMount[]>;
  private mounts: EdgeMount[] = [];
  /** The databases, once loaded from their stores (runs start after that). */
  private readonly sqlReady: Promise<EdgeSql | undefined>;
  private sql: EdgeSql | undefined;
  /** The tool providers (none: agents' tool calls answer `invalid`). */
  private readonly tools: ToolRegistry | undefined;
  private nextPid = 1;
  private closed = false;

  /** @throws PolicyError for a policy that does not compile; UsageError for bad options. */
  constructor(options: EdgeKernelOptions) {
    if (!options || typeof options !== "object") throw new UsageError("EdgeKernel: options are required ({ engine, policy })");
    if (!(options.engine instanceof (Wasm.Module as unknown as abstract new () => object))) throw new UsageError("EdgeKernel: engine must be engine.wasm imported as a WebAssembly.Module");
    if (SDK_SOURCE === "") throw new UsageError("EdgeKernel: this build has no guest SDK embedded (run npm run build)");
    this.options = options;
    this.policy = isPolicy(options.policy) ? options.policy : compilePolicy(options.policy, { now: options.now });
    validateLimits(options.limits, "limits");
    checkSecretOptions(this.policy, options);
    this.tools = edgeToolRegistry(options);
    this.models = { ...this.policy.models, ...checkModels(options.models) };
    useEngineModule(options.engine);
    setWebSources(webSource);
    this.admission = new Admission(options.maxConcurrent ?? 64);
    this.host = new InThreadHost({ sdkSource: SDK_SOURCE, maxHeapBytes: MAX_HEAP_BYTES, maxStackBytes: quickjsStackFor(options.nativeStackBytes ?? DEFAULT_STACK_BYTES) });
    this.logPromise = openEdgeLog(options.log, options.now);
    this.logPromise.catch(() => undefined);
    const fsMounts = checkEdgeFs(options.fs);
    this.mountsReady = loadEdgeMounts(fsMounts, (options.now ?? Date.now)()).then((m) => (this.mounts = m));
    this.mountsReady.catch(() => undefined);
    checkEdgeSql(options.sql);
    checkStoresApart(fsMounts, options.sql);
    this.sqlReady = options.sql ? EdgeSql.load(options.sql, options.now ?? Date.now).then((s) => (this.sql = s)) : Promise.resolve(undefined);
    this.sqlReady.catch(() => undefined);
  }

  /**
   * An agent from its source: an ES module exporting `run(task)`, as `agent-os build` bundles it
   * (imports of `agent-os/guest` and `agentos:kernel/*` only).
   * @example const agent = EdgeKernel.agent("hello", "export function run(task) { return task; }");
   */
  static agent(name: string, source: string): Agent {
    if (typeof name !== "string" || name === "") throw new UsageError("EdgeKernel.agent: the name must be a non-empty string");
    if (typeof source !== "string") throw new UsageError("EdgeKernel.agent: the source must be a string");
    return { name, kind: "module", engine: "quickjs", source, codeHash: sha256Hex(source) };
  }

  /** The episodic log, once open. */
  get log(): Promise<KernelLog> {
    return this.logPromise;
  }

  /** Starts an agent on a task; returns its process at once. */
  spawn(agent: Agent, task: string, options: { limits?: Partial<Limits> } = {}): AgentProcess {
    if (this.closed) throw new KernelClosedError();
    if (agent?.engine !== "quickjs") throw new UsageError("EdgeKernel runs QuickJS agents only (see EdgeKernel.agent)");
    if (typeof task !== "string") throw new UsageError("the task must be a string");
    validateLimits(options.limits, "spawn limits");
    const pid = this.nextPid++;
    const runId = crypto.randomUUID();
    const spec = runSpec(agent, runId, pid, task, this.limitsFor(options.limits));
    const meta = { codeHash: agent.codeHash, codeStored: sha256Hex(agent.source) === agent.codeHash, policyName: this.policy.name, policyHash: this.policy.hash, isolation: "shared" as const };
    const proc = new AgentProcess(pid, runId, spec, meta, {
      host: this.host,
      admission: this.admission,
      log: this.withCode(agent),
      termGraceMs: this.options.termGraceMs ?? 5000,
      gateRun: (p, log) => this.gateRun(p, log, task),
      onExit: (p) => this.processes.delete(p.pid),
    });
    this.processes.set(pid, proc);
    return proc;
  }

  /** Runs an agent to the end: spawn, then wait. */
  execute(agent: Agent, task: string, options: { limits?: Partial<Limits> } = {}): Promise<RunResult> {
    return this.spawn(agent, task, options).wait();
  }

  /**
   * Replays a recorded run from this kernel's log: the same code, every host call answered from
   * the log and compared with the recorded one; nothing is carried out.
   * @throws ReplayError for an unknown run or changed code.
   */
  async replay(options: { runId: string; agent?: Agent }): Promise<ReplayResult> {
    if (this.closed) throw new KernelClosedError();
    const log = await this.logPromise;
    const { run, stop } = await locateRun(log, { runId: options.runId });
    const agent = await recordedAgent(log, run, options.agent);
    const { task, limits } = spawnedWith(run);
    const replayer = new Replayer(run, stop ? { stop } : {});
    const spec = runSpec({ ...agent, engine: "quickjs" }, run.runId, run.spawn.pid, task, limits);
    const memory = createChainLog(createMemoryBackend());
    const proc = new AgentProcess(this.nextPid++, run.runId, spec, { codeHash: agent.codeHash, policyName: "replay", policyHash: "", isolation: "shared" }, {
      host: this.host,
      admission: this.admission,
      log: memory,
      termGraceMs: this.options.termGraceMs ?? 5000,
      gateRun: (p, own) => replayGateRun(p, own, limits, task, this.policy),
      onExit: (p) => this.processes.delete(p.pid),
      handle: (gate, request) => replayer.handle(gate, request),
    });
    this.processes.set(proc.pid, proc);
    try {
      return replayer.finish(await proc.wait());
    } finally {
      await (await memory).close();
    }
  }

  /** The live processes. */
  ps(): ProcessInfo[] {
    return [...this.processes.values()].map((p) => p.info());
  }

  /** Sends a signal to a live process. @throws UsageError for an unknown pid. */
  signal(pid: number, signal: Signal): void {
    const proc = this.processes.get(pid);
    if (!proc) throw new UsageError(`no live process with pid ${pid}`);
    proc.signal(signal, "operator");
  }

  /** Kills every live process and closes the log. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const live = [...this.processes.values()];
    for (const proc of live) proc.signal("SIGKILL", "kernel (closing)");
    await Promise.all(live.map((p) => p.wait()));
    await this.tools?.close();
    // Changes an fs call started reach the store before close resolves (the stores stay the host's).
    await Promise.all(this.mounts.map((m) => m.volume.idle()));
    await this.sql?.close();
    await this.host.close();
    const log = await this.logPromise.catch(() => undefined);
    await log?.close();
  }

  /** The log, once the agent's source is queued into it under its hash (for replay). */
  private withCode(agent: Agent): Promise<KernelLog> {
    return Promise.all([this.mountsReady, this.sqlReady]).then(() => this.logPromise).then((log) => withCodeStored(log, agent, this.storedCode));
  }

  private limitsFor(spawnLimits: Partial<Limits> | undefined): Limits {
    return mergeLimits(this.policy.limits, this.options.limits, spawnLimits, MAX_HEAP_BYTES);
  }

  private gateRun(proc: AgentProcess, log: KernelLog, task: string): GateRun {
    const capabilities = (run: GateRun, base: CapabilityBase): RunCapabilities => {
      const clock = createClock(base.startedNs);
      const quota = { limits: run.limits, fsBytesWritten: 0, fsFilesCreated: 0 };
      const env = this.options.env ?? (() => undefined);
      const llm = Object.keys(this.models).length > 0 ? createLlm({ models: this.models, limits: run.limits, tokens: run.tokens, env }) : undefined;
      const tools = runTools(this.tools, run);
      const sql = this.sql?.forRun(run.limits, quota);
      return {
        ...base,
        clock,
        http: createEdgeHttp({
          fetch: this.options.fetch,
          allowPrivate: this.options.allowPrivate,
          quota,
          secrets: this.policy.secrets,
          env,
          decode: webContentDecoder({ decodedByFetch: this.options.decodedByFetch }),
        }),
        llm,
        fs: this.mounts.length > 0 ? createEdgeFs({ mounts: this.mounts, quota, now: this.options.now ?? Date.now }) : undefined,
        tools,
        sql,
        interrupt: () => {
          tools?.interrupt();
          clock.interrupt();
        },
        authorizeHop: authorizeHop(run),
        close: () => {
          clock.close();
          tools?.close();
          llm?.close();
          return sql?.close();
        },
      };
    };
    return newGateRun(proc, log, task, { policy: this.policy, verifier: noVerifier, capabilities, now: this.options.now ?? Date.now });
  }
}

/** A Web group's embedded bundle. @throws Error for a group the build did not embed */
function webSource(group: string): string {
  const source = Object.hasOwn(WEB_SOURCES, group) ? WEB_SOURCES[group] : undefined;
  if (source === undefined) throw new Error(`the Web group ${JSON.stringify(group)} is not in this build (run npm run build)`);
  return source;
}

/**
 * What Node's kernel checks of secrets (kernel/capabilities.ts): no two of the policy's, merged
 * across `extends`, set one header on one origin; and where their values come from.
 * @throws UsageError
 */
function checkSecretOptions(policy: Policy, options: EdgeKernelOptions): void {
  checkMergedSecrets(policy.secrets ?? [], "secrets (the policy's)");
  if (options.env !== undefined && typeof options.env !== "function") throw new UsageError("EdgeKernel: env must be a function (name) => string | undefined");
  const decoded = options.decodedByFetch;
  if (decoded !== undefined && !(Array.isArray(decoded) && decoded.every((c) => typeof c === "string"))) {
    throw new UsageError('EdgeKernel: decodedByFetch must be a list of content codings, e.g. ["gzip", "deflate", "br"]');
  }
}

/** @throws UsageError when a store is given both to an fs mount and to a database (their keys would mix) */
function checkStoresApart(mounts: Array<{ guest: string; spec: { store: unknown } }>, sql: EdgeSqlOption | undefined): void {
  for (const [name, spec] of Object.entries(sql?.databases ?? {})) {
    const mount = mounts.find((m) => m.spec.store === spec.store);
    if (mount) throw new UsageError(`EdgeKernel: the fs mount ${mount.guest} and the sql database ${name} use the same store`);
  }
}

function isPolicy(value: unknown): value is Policy {
  return typeof (value as Policy | null)?.decide === "function" && typeof (value as Policy).hash === "string";
}

/** The log on the host's store, an open log as it is, or in memory. */
function openEdgeLog(log: EdgeKernelOptions["log"], now: (() => number) | undefined): Promise<KernelLog> {
  if (log === undefined) return createChainLog(createMemoryBackend(), { now });
  if (typeof (log as KernelLog).stage === "function") return Promise.resolve(log as KernelLog);
  return createChainLog(log as LogBackend, { now });
}

/**
 * KernelSpace: agents as processes, under one policy, with one log.
 *
 * ```ts
 * const kernel = new KernelSpace({ policy: "strict", log: false });
 * const hello = kernel.register(async function hello(task) { return `hi, ${task}`; });
 * const result = await kernel.execute(hello, "Agent OS");   // { status: "ok", output: "hi, Agent OS", ... }
 * await kernel.close();
 * ```
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { extname, resolve } from "node:path";
import { createRunSql } from "../hosts/node/sql/sql-run.js";
import { ApprovalBroker, resolveApprovals, type AlwaysProposal, type ApprovalAnswer, type ApprovalEvent, type ApprovalRequest, type ApprovalScope } from "../approvals/index.js";
import type { LoadedComponent } from "../engines/component/load.js";
import type { McpServeHandle, ServeMcpOptions } from "../mcp/serve.js";
import type { DashboardHandle, DashboardOptions } from "../dashboard/types.js";
import type { ToolInfo } from "../tools/types.js";
import { checkCacheOutsideMounts } from "../engines/component/trust.js";
import type { EngineName } from "../engines/engine.js";
import { openLog, type KernelLog } from "../episodic/index.js";
import { locateRun } from "../episodic/recording.js";
import { Replayer, recordedAgent, replayGateRun, spawnedWith, type ReplayResult } from "../episodic/replay.js";
import { KernelClosedError, UsageError } from "../errors.js";
import type { GateRun, Verifier } from "../gate.js";
import { resolvePolicy } from "../policy/index.js";
import { primeRates } from "../policy/prime.js";
import type { Limits, Policy, RunResult, Signal, VerificationSettings } from "../types.js";
import { createVerifier, verifyOutput } from "../verify/verifier.js";
import type { VerificationResult } from "../verify/consensus.js";
import { mergeSettings, normalizeVerificationOptions } from "../verify/settings.js";
import { createRunCapabilities, resolveCapabilityOptions, type ResolvedCapabilities } from "./capabilities.js";
import { Admission } from "./admission.js";
import { DedicatedHost } from "../hosts/node/pool/dedicated-host.js";
import type { Isolation, RunHost } from "./hosts.js";
import { isolationFor, resolvePlacement, type Placement } from "../hosts/node/pool/placement.js";
import { AgentProcess, LiveProcesses, type ProcessInfo } from "./process.js";
import { newGateRun, type CapabilityBase } from "./gate-run.js";
import { countedElsewhere } from "../gate-rates.js";
import { DEFAULT_MAX_HEAP_BYTES } from "../hosts/node/pool/pool.js";
import { createSharedHost } from "../hosts/node/pool/shared-host-factory.js";
import { mergeLimits, runSpec, sha256, validateLimits, withCodeStored } from "./run-spec.js";

export type { DashboardHandle, DashboardOptions } from "../dashboard/types.js";

export type { Agent, KernelOptions, ReplayOptions, SpawnOptions } from "./kernel-options.js";
import type { Agent, KernelOptions, ReplayOptions, SpawnOptions } from "./kernel-options.js";

const SDK_SOURCE_URL = new URL("../../guest-sdk/index.js", import.meta.url);
let sdkSource: string | undefined;

export class KernelSpace {
  /** The policy every call is decided under. */
  readonly policy: Policy;
  private readonly options: KernelOptions;
  private readonly logPromise: Promise<KernelLog>;
  private readonly placement: Placement;
  private readonly admission: Admission;
  /** Absent with `pool: false`. */
  private readonly dedicated: DedicatedHost | undefined;
  /** Made on the first shared spawn. */
  private shared: RunHost | undefined;
  private readonly capabilities: ResolvedCapabilities;
  private readonly maxHeapBytes: number;
  private readonly verification: Partial<VerificationSettings>;
  private readonly verifier: Verifier;
  private readonly verifying = new AbortController();
  private readonly approvalBroker: ApprovalBroker | undefined;
  private readonly processes = new LiveProcesses();
  private readonly components = new Map<string, Promise<LoadedComponent>>();
  /** Code hashes whose source this kernel has put into the log (for replay). */
  private readonly storedCode = new Set<string>();
  private nextPid = 1;
  private closed = false;
  /** Dashboards attached to this kernel: closed with it. */
  private readonly dashboards = new Set<DashboardHandle>();

  /** @throws PolicyError when the policy does not load (nothing runs under a broken policy). */
  constructor(options: KernelOptions = {}) {
    this.options = options;
    this.placement = resolvePlacement(options);
    this.admission = new Admission(this.placement.maxConcurrent);
    this.policy = resolvePolicy(options.policy ?? "strict");
    validateLimits(options.limits, "limits");
    this.verification = mergeSettings(this.policy.verification, normalizeVerificationOptions(options.verification));
    this.verifier = options.verifier ?? createVerifier(this.verification, { signal: this.verifying.signal });
    this.capabilities = resolveCapabilityOptions(options, this.policy.secrets, this.policy.models);
    checkCacheOutsideMounts(options.cache, this.capabilities.mounts);
    const logDir = options.log === false ? undefined : (options.log?.dir ?? ".agent-os/log");
    const approvals = resolveApprovals(options.approvals, { mounts: this.capabilities.mounts, logDir });
    this.approvalBroker = approvals && new ApprovalBroker({ ...approvals, policy: this.policy, now: options.now ?? Date.now });
    sdkSource ??= readFileSync(SDK_SOURCE_URL, "utf8");
    const pool = this.placement.pool;
    this.maxHeapBytes = (pool === false ? undefined : pool.maxHeapBytes) ?? DEFAULT_MAX_HEAP_BYTES;
    // (last: nothing after it may throw, or the warm workers it starts would be left running)
    this.dedicated = pool === false ? undefined : new DedicatedHost(sdkSource, pool);
    const logOption = options.log === undefined ? { dir: ".agent-os/log" } : options.log;
    // Rate limits count from the durable log, so that a restart does not reset them.
    this.logPromise = openLog(logOption === false ? false : { dir: logOption.dir, now: options.now }).then((log) => primeRates(this.policy, log));
    // The mailbox of `agent-os approve|deny` is this kernel's once it holds the log.
    if (this.approvalBroker && logDir !== undefined) this.logPromise = this.logPromise.then((log) => this.approvalBroker!.attachMailbox(logDir, log));
    this.logPromise.catch(() => undefined);
  }

  /** The episodic log, once open. @throws LogError when it cannot be opened. */
  get log(): Promise<KernelLog> {
    return this.logPromise;
  }

  /**
   * Registers a function as an agent. It runs from its source text inside an isolate, with the
   * task as its first argument and the guest SDK (`fs`, `http`, `sql`, `log`, ...) as its
   * second; it cannot use variables from outside itself.
   *
   * @example const echo = kernel.register(async function echo(task, { log }) { await log.info(task); return task; });
   */
  register(fn: (task: string, sdk: never) => unknown, options: { name?: string } = {}): Agent {
    if (typeof fn !== "function") throw new UsageError("register() takes a function");
    const source = Function.prototype.toString.call(fn);
    if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
      throw new UsageError(`register() needs a function written in JavaScript; ${fn.name || "this one"} is native or bound`);
    }
    try {
      // Parses (never runs) the source as an expression, as the isolate will; a class parses
      // as one too, but cannot be called.
      if (/^class\b/.test(source)) throw new SyntaxError("a class");
      new Function(`return (${source}\n);`);
    } catch {
      throw new UsageError(
        `register(): the source of ${fn.name || "this function"} is not a standalone function expression ` +
          `(a method shorthand or a class cannot be registered; use a function or an arrow function)`,
      );
    }
    const name = options.name ?? (fn.name || "anonymous");
    return { name, kind: "function", engine: "quickjs", source, codeHash: sha256(source) };
  }

  /**
   * Loads an agent: an ES module exporting `run(task)` (QuickJS), or a WebAssembly component
   * built by `agent-os build` (a `.wasm` file; checked, transpiled, instrumented and cached). With
   * `engine: "component"` a source file (.js, .mjs, .ts, .mts) is built into a component first.
   * For QuickJS the source (JavaScript or TypeScript), its own files and its npm packages are
   * bundled by the same step as `agent-os build` (Node built-ins, URLs and files outside its
   * directory and node_modules refused), cached by content in `cache`; the agent's code is the
   * bundle, and its hash the code hash.
   * @example const agent = await kernel.load("./examples/hello/agent.js");
   * @example const component = await kernel.load("./hello.wasm");
   * @throws AgentLoadError for a missing file, a file that is not an agent module, an agent that
   * does not bundle (file:line:column and why), or a component that does not fit the kernel's
   * world (the message names the import or export).
   */
  async load(path: string, options: { name?: string; engine?: EngineName } = {}): Promise<Agent> {
    const file = resolve(path);
    const ext = extname(file);
    if (ext === ".wasm" || options.engine === "component") {
      const { loadComponentAgent } = await import("../engines/component/agent.js");
      return loadComponentAgent(path, { ...options, cache: this.options.cache, loaded: this.components });
    }
    const { loadModuleAgent } = await import("../engines/quickjs/agent.js");
    return loadModuleAgent(path, { ...options, cache: this.options.cache });
  }

  /**
   * Starts an agent on a task; returns its process at once.
   * @example const proc = kernel.spawn(agent, "task"); proc.signal("SIGSTOP"); const result = await proc.wait();
   */
  spawn(agent: Agent, task: string, options: SpawnOptions = {}): AgentProcess {
    if (this.closed) throw new KernelClosedError();
    if (typeof task !== "string") throw new UsageError("the task must be a string");
    validateLimits(options.limits, "spawn limits");
    const policy = options.policy ?? this.policy;
    const limits = this.limitsFor(options.limits, policy);
    const isolation = isolationFor(agent, options.isolation, this.placement.isolation);
    const host = this.hostFor(isolation);
    const pid = this.nextPid++;
    const runId = this.newRunId(options.runId);
    const spec = runSpec(agent, runId, pid, task, limits);
    const proc = new AgentProcess(
      pid,
      runId,
      spec,
      // (the log holds the code when withCode stores it: verify then reports it missing or changed)
      {
        codeHash: agent.codeHash,
        codeStored: sha256(agent.source) === agent.codeHash,
        policyName: policy.name,
        policyHash: policy.hash,
        isolation,
      },
      {
        host,
        admission: this.admission,
        log: this.withCode(agent),
        termGraceMs: this.options.termGraceMs ?? 5000,
        gateRun: (p, log) => this.gateRun(p, log, task, policy),
        onExit: (p) => this.processes.remove(p.pid),
      },
    );
    this.processes.add(pid, proc);
    return proc;
  }

  /**
   * Replays a recorded run: the same code (refused if its content hash differs) in a fresh
   * isolate, with the recorded task and limits, every host call answered from the log and
   * compared with the recorded one. Nothing is carried out; the replay's own events go to an
   * in-memory log. With a checkpoint it stops there, reporting the calls so far and the pending one.
   *
   * @example
   * const report = await kernel.replay({ runId: result.runId, checkpoint: "before-upload" });
   * report.status; // "identical" | "diverged" | "stopped"
   * @throws ReplayError for an unknown run, a checkpoint not in it, or changed or missing agent code.
   */
  async replay(options: ReplayOptions): Promise<ReplayResult> {
    if (this.closed) throw new KernelClosedError();
    const log = options.log ?? (await this.logPromise);
    const { run, stop } = await locateRun(log, options);
    const agent = await recordedAgent(log, run, options.agent);
    const { task, limits } = spawnedWith(run);
    const isolation = isolationFor(agent, undefined, this.placement.isolation);
    const host = this.hostFor(isolation);
    // Only to tell which statements the gate refused before deciding (those are not logged); read-only, nothing runs.
    const databases = Object.fromEntries(Object.entries(this.capabilities.databases).map(([name, db]) => [name, { file: db.file, readOnly: true }]));
    const analyzer = Object.keys(databases).length > 0 ? createRunSql({ databases, limits, pool: this.capabilities.sqlPool() }) : undefined;
    const replayer = new Replayer(run, { ...(stop ? { stop } : {}), ...(analyzer ? { analyzeSql: analyzer.analyze } : {}) });
    const pid = this.nextPid++;
    const spec = runSpec({ ...agent, component: options.agent?.component }, run.runId, run.spawn.pid, task, limits);
    const memory = openLog(false);
    const proc = new AgentProcess(pid, run.runId, spec, { codeHash: agent.codeHash, policyName: "replay", policyHash: "", isolation }, {
      host,
      admission: this.admission,
      log: memory,
      termGraceMs: this.options.termGraceMs ?? 5000,
      gateRun: (p, own) => replayGateRun(p, own, limits, task, this.policy),
      onExit: (p) => this.processes.remove(p.pid),
      handle: (gate, request) => replayer.handle(gate, request),
    });
    this.processes.add(pid, proc);
    try {
      return replayer.finish(await proc.wait());
    } finally {
      analyzer?.close();
      await (await memory).close();
    }
  }

  /** Runs an agent to the end: spawn, then wait. */
  execute(agent: Agent, task: string, options: SpawnOptions = {}): Promise<RunResult> {
    return this.spawn(agent, task, options).wait();
  }

  /**
   * Asks the verifier models a question about a text, typically an agent's final output (the
   * text is fenced as untrusted data), under the kernel's verification settings. Every vote is
   * logged, under `run` when given (a RunResult fits), else under a run of its own (pid 0,
   * agent "host"). Fails closed: a model that errs, times out or answers anything but a verdict
   * rejects.
   *
   * @example
   * const r = await kernel.verify(result.output!, { question: "Is this reply free of customer data?", run: result });
   * if (!r.allowed) console.log(r.reason, r.votes);   // "1 of 3 models approved (consensus 0.33, threshold 0.8)"
   * @throws UsageError when no models are configured; KernelClosedError after close().
   */
  async verify(text: string, options: { question: string; run?: { runId: string; pid: number; agent: string } }): Promise<VerificationResult> {
    if (this.closed) throw new KernelClosedError();
    const log = await this.logPromise;
    const owner = options?.run ? { runId: options.run.runId, pid: options.run.pid, agent: options.run.agent } : undefined;
    return verifyOutput(this.verification, text, { question: options?.question, log, owner, signal: this.verifying.signal });
  }

  /**
   * Serves agents as MCP tools, over stdio or Streamable HTTP on 127.0.0.1 with a bearer token:
   * each `tools/call` is one run under this kernel's policy, mounts and limits (delegates to
   * `serveMcp` in runtime/mcp/serve.ts).
   *
   * @example const server = await kernel.serveMcp({ agents: { summarize: agent }, http: { port: 0 } }); // server.url, server.token
   */
  async serveMcp(options: ServeMcpOptions): Promise<McpServeHandle> {
    const { serveMcp } = await import("../mcp/serve.js");
    return serveMcp(this, options);
  }

  /**
   * Serves the live dashboard for this kernel (see runtime/dashboard/): its processes with
   * signal buttons, runs, timelines, chain status, replay and the policy editor, updated live.
   * Access needs the token in the URL (printed by whoever starts it); the server listens on
   * 127.0.0.1 unless `allowRemote` allows another host. It is closed with the kernel.
   *
   * @example const board = await kernel.dashboard({ port: 0 }); console.error(board.url); await board.close();
   * @throws UsageError for a bad port, a port in use, or a host that is not loopback without `allowRemote`.
   */
  async dashboard(options: DashboardOptions = {}): Promise<DashboardHandle> {
    if (this.closed) throw new KernelClosedError();
    const { dashboardForKernel } = await import("../dashboard/index.js");
    const location = this.options.log === false ? "memory" : (this.options.log?.dir ?? ".agent-os/log");
    const board = await dashboardForKernel(this, { policy: this.options.policy, location, approvals: this.approvalBroker !== undefined }, options);
    if (this.closed) throw (await board.close(), new KernelClosedError());
    this.dashboards.add(board);
    return { url: board.url, token: board.token, close: () => (this.dashboards.delete(board), board.close()) };
  }

  /**
   * Lists every tool agents could be offered (the host's tools and each MCP server's, starting
   * the servers), with the hash a policy pins. What a run lists is filtered by its policy.
   *
   * @example for (const t of await kernel.listTools()) console.log(t.name, t.hash);
   * @throws UsageError naming each provider that cannot list (an MCP server that does not start
   * or does not answer `initialize`).
   */
  async listTools(): Promise<{ name: string; description: string; inputSchema: ToolInfo["inputSchema"]; hash: string }[]> {
    const listing = await this.capabilities.tools.list();
    if (listing.failed.size > 0) throw new UsageError([...listing.failed.values()].join("\n"));
    return [...listing.tools.values()].map((t) => ({ name: t.name, description: t.info.description, inputSchema: t.info.inputSchema, hash: t.hash }));
  }

  /** The calls held for a person (effect "ask"), oldest first; none without approvals. */
  approvals(): ApprovalRequest[] {
    return this.approvalBroker?.list() ?? [];
  }

  /**
   * Approves a held call: scope "once" (default), "run" (the same call again in this run is not
   * asked), or "always" (writes the allow rule `proposeAlways` shows into approvals.policyFile).
   * `by` (default "api") is logged. @example await kernel.approve(kernel.approvals()[0].id, { scope: "run", by: "ann" });
   * @throws UsageError for an id that is not pending, without approvals, or a policy file that does not load.
   */
  async approve(id: string, options: { scope?: ApprovalScope; by?: string } = {}): Promise<ApprovalAnswer> {
    return this.broker().approve(id, { ...(options.scope ? { scope: options.scope } : {}), ...(options.by !== undefined ? { by: options.by } : {}) });
  }

  /** Denies a held call; the agent gets PermissionDenied with the rule. @throws UsageError for an id that is not pending. */
  async deny(id: string, options: { by?: string; reason?: string } = {}): Promise<ApprovalAnswer> {
    return this.broker().deny(id, options);
  }

  /** What `approve(id, { scope: "always" })` would write: `{ file, diff, text }`, checked by the policy loader. */
  proposeAlways(id: string): AlwaysProposal {
    return this.broker().proposeAlways(id);
  }

  /** Calls `listener` for every new request and every answer (timeouts included); returns the unsubscribe. */
  onApproval(listener: (event: ApprovalEvent) => void): () => void {
    return this.approvalBroker?.onApproval(listener) ?? (() => undefined);
  }

  private broker(): ApprovalBroker {
    if (!this.approvalBroker) throw new UsageError("approvals are not enabled on this kernel (KernelOptions.approvals)");
    return this.approvalBroker;
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

  /** Kills every live process, stops the workers and closes the log. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.verifying.abort();
    await Promise.all([...this.dashboards].map((d) => d.close()));
    const live = [...this.processes.values()];
    for (const proc of live) proc.signal("SIGKILL", "kernel (closing)");
    await Promise.all(live.map((p) => p.wait()));
    this.approvalBroker?.close();
    await Promise.all([this.dedicated?.close(), this.shared?.close()]);
    await this.capabilities.close();
    const log = await this.logPromise.catch(() => undefined);
    await log?.close();
  }

  /** How many agents may run at once (maxConcurrent); more wait in the admission queue. */
  get capacity(): number {
    return this.placement.maxConcurrent;
  }

  /** Workers alive right now (for leak checks). */
  get workerCount(): number {
    return this.stats().workers;
  }

  /**
   * Agents running (admitted, stopped ones included) and queued, and the workers and engine
   * instances the run hosts hold, summed over both isolations.
   * @example const { running, queued } = kernel.stats();
   */
  stats(): { running: number; queued: number; workers: number; instances: number } {
    const hosts = [this.dedicated, this.shared].map((h) => h?.stats() ?? { workers: 0, instances: 0 });
    return {
      running: this.admission.running,
      queued: this.admission.queued,
      workers: hosts.reduce((n, h) => n + h.workers, 0),
      instances: hosts.reduce((n, h) => n + h.instances, 0),
    };
  }

  /** The host for runs of `isolation`; the shared one is made on first use. @throws UsageError when it cannot run here. */
  private hostFor(isolation: Isolation): RunHost {
    if (isolation === "shared") {
      this.shared ??= createSharedHost({ sdkSource: sdkSource!, pool: this.placement.pool, maxHeapBytes: this.maxHeapBytes });
      return this.shared;
    }
    if (!this.dedicated) throw new UsageError('pool: false runs agents in this thread: only isolation "shared" is possible');
    return this.dedicated;
  }

  /**
   * The log, once the agent's source is queued into it as a blob under its hash (once per code
   * hash), so that replay can find it. A component's hash is over its bytes, which the kernel
   * does not keep: replaying it needs the component again.
   */
  private withCode(agent: Agent): Promise<KernelLog> {
    return this.logPromise.then((log) => withCodeStored(log, agent, this.storedCode));
  }

  private limitsFor(spawnLimits: Partial<Limits> | undefined, policy = this.policy): Limits {
    return mergeLimits(policy.limits, this.options.limits, spawnLimits, this.maxHeapBytes);
  }

  /** The given run id (checked: not empty, printable, not a live run's), or a new one. */
  private newRunId(given: string | undefined): string {
    if (given === undefined) return randomUUID();
    if (typeof given !== "string" || !/^[A-Za-z0-9._:-]{1,128}$/.test(given)) throw new UsageError("spawn: runId must be 1 to 128 letters, digits, '.', '_', ':' or '-'");
    if ([...this.processes.values()].some((p) => p.runId === given)) throw new UsageError(`spawn: a live run already has the id ${given}`);
    return given;
  }

  private gateRun(proc: AgentProcess, log: KernelLog, task: string, policy = this.policy): GateRun {
    const capabilities = (run: GateRun, base: CapabilityBase) => createRunCapabilities(this.capabilities, run, base);
    const approver = this.approvalBroker?.approver;
    const shared = this.options.sharedRates;
    return newGateRun(proc, log, task, { policy: shared ? countedElsewhere(policy) : policy, verifier: this.verifier, ...(approver ? { approver } : {}), ...(shared ? { sharedRates: shared } : {}), capabilities, now: this.options.now ?? Date.now });
  }
}

/**
 * An agent as a process: a pid, a state, signals, limits, and an exit status.
 *
 * `queued -> running -> stopped -> running -> exited | killed | failed`, and
 * `running -> waiting -> running` while a call is held for a person (policy effect `ask`)
 *
 * A process waits in the kernel's admission queue (state `queued`, zero usage) until a running
 * slot is free, then its run host starts it. SIGKILL ends the run through its host at once
 * (a dedicated worker is terminated), so no guest code (and no built-in stuck in a long
 * operation) can delay it; a queued process killed never starts. SIGSTOP sets the control word
 * that the guest's interrupt handler reads between any two fuel slices and after every host
 * call; a queued process stopped starts paused. The deadline counts running time only: not
 * while stopped, queued or waiting. A waiting process stopped is `stopped` (the held call stays
 * held; SIGCONT makes it `waiting` again); SIGTERM and SIGKILL end the held call at once.
 */
import type { Finished, Reply, RunSpec } from "../engines/engine.js";
import type { GateRun } from "../gate.js";
import { handleCall } from "../gate.js";
import type { KernelLog } from "../episodic/index.js";
import type { ExitReason, ProcessState, RunResult, Signal, Usage } from "../types.js";
import type { Admission, AdmissionTicket } from "./admission.js";
import { Control } from "./control.js";
import type { HostedRun, Isolation, RunChannel, RunHost } from "./hosts.js";

/** A snapshot of one process, as `kernel.ps()` lists it. */
export interface ProcessInfo {
  pid: number;
  runId: string;
  agent: string;
  state: ProcessState;
  usage: Usage;
}

export interface ProcessDeps {
  /** Where the run takes place once admitted. */
  host: RunHost;
  /** The kernel's admission queue: the process takes a place in it at once. */
  admission: Admission;
  log: Promise<KernelLog>;
  termGraceMs: number;
  /** Builds the gate's view of this run once the log is open. */
  gateRun(process: AgentProcess, log: KernelLog): GateRun;
  onExit(process: AgentProcess): void;
  /** Answers host calls instead of the gate (replay answers them from the log). Default: handleCall. */
  handle?: (gate: GateRun, request: unknown) => Reply | Promise<Reply>;
}

type Ending = { status: RunResult["status"]; signal?: Signal; reason?: ExitReason; error?: string };

export class AgentProcess {
  private currentState: ProcessState;
  private readonly ticket: AdmissionTicket;
  /** A SIGSTOP that came while queued: the run starts paused. */
  private stopWhenStarted = false;
  /** Aborted when the process ends: a host still finding a place for the run gives up. */
  private readonly ended = new AbortController();
  private hosted: HostedRun | undefined;
  private channel: RunChannel | undefined;
  private gate: GateRun | undefined;
  private log: KernelLog | undefined;
  private ending: Ending | undefined;
  private readonly done: Promise<RunResult>;
  private resolveDone!: (result: RunResult) => void;
  private runningSince = performance.now();
  private runningMs = 0;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private termTimer: NodeJS.Timeout | undefined;
  private finalFuel = 0;
  private finalCalls = 0;
  private readonly pendingSignals: Promise<unknown>[] = [];
  /** The cancels of the calls held for a person (see hold). */
  private readonly held = new Set<(why: string) => void>();

  constructor(
    readonly pid: number,
    readonly runId: string,
    readonly spec: RunSpec,
    private readonly meta: { codeHash: string; codeStored?: boolean; policyName: string; policyHash: string; isolation?: Isolation },
    private readonly deps: ProcessDeps,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.ticket = deps.admission.enter();
    this.currentState = this.ticket.admitted ? "running" : "queued";
    void this.start().catch((error: unknown) => {
      this.finish({ status: "error", reason: "trap", error: `the kernel could not start the agent: ${message(error)}` });
    });
  }

  get agent(): string {
    return this.spec.agent;
  }

  /** Hex sha256 of the agent's code. */
  get codeHash(): string {
    return this.meta.codeHash;
  }

  get state(): ProcessState {
    return this.currentState;
  }

  /** Fuel, host calls, running time and model tokens so far. */
  get usage(): Usage {
    const live = this.channel && !this.ending;
    return {
      fuel: live ? this.channel!.fuel : this.finalFuel,
      hostCalls: live ? this.gate?.hostCalls ?? 0 : this.finalCalls,
      wallMs: Math.round(this.wallMs()),
      tokens: this.tokens(),
    };
  }

  private tokens(): Usage["tokens"] {
    const t = this.gate?.tokens;
    return { input: t?.input ?? 0, output: t?.output ?? 0 };
  }

  info(): ProcessInfo {
    return { pid: this.pid, runId: this.runId, agent: this.agent, state: this.state, usage: this.usage };
  }

  /** Resolves when the process has ended, with its result. */
  wait(): Promise<RunResult> {
    return this.done;
  }

  /**
   * Sends a signal. SIGKILL ends the agent at once; SIGSTOP pauses it (even in a tight loop);
   * SIGCONT resumes it; SIGTERM makes its next host call report `interrupted` and kills it
   * after the grace period; SIGXCPU kills it with reason `fuel`. A signal to an ended process
   * does nothing.
   */
  signal(signal: Signal, by = "kernel"): void {
    if (this.ending) return;
    this.record("signal", { signal, by });
    switch (signal) {
      case "SIGKILL":
        this.kill({ status: "killed", signal: "SIGKILL", reason: "signal" });
        break;
      case "SIGXCPU":
        this.kill({ status: "killed", signal: "SIGXCPU", reason: "fuel" });
        break;
      case "SIGSTOP":
        if (this.currentState === "queued") this.stopWhenStarted = true;
        if (this.currentState !== "running" && this.currentState !== "waiting") return;
        this.currentState = "stopped";
        this.channel?.setControl(Control.stop);
        this.pauseClock();
        break;
      case "SIGCONT":
        if (this.currentState === "queued") this.stopWhenStarted = false;
        if (this.currentState !== "stopped") return;
        this.currentState = this.held.size > 0 ? "waiting" : "running";
        this.channel?.setControl(Control.run);
        if (this.currentState === "running") this.resumeClock();
        break;
      case "SIGTERM":
        this.signalTerm();
        this.termTimer ??= setTimeout(() => this.signal("SIGKILL", "kernel (SIGTERM grace period over)"), this.deps.termGraceMs);
        break;
    }
  }

  private signalTerm(): void {
    if (this.gate) this.gate.terminating = true;
    this.endHeld("SIGTERM: the agent has been asked to finish");
    // (a tool call in flight is aborted at once: its handler's AbortSignal fires)
    this.gate?.capabilities?.interrupt?.();
    this.channel?.requestTerm();
  }

  /**
   * Marks the process `waiting` while a call is held for a person (its deadline does not run);
   * `cancel` is called when the process is asked to finish or ends meanwhile. Returns the
   * release, after which it is `running` again (unless stopped meanwhile).
   */
  hold(cancel: (why: string) => void): () => void {
    if (this.ending) {
      cancel("the process has ended");
      return () => undefined;
    }
    this.held.add(cancel);
    if (this.currentState === "running") {
      this.currentState = "waiting";
      this.pauseClock();
    }
    return () => {
      if (!this.held.delete(cancel) || this.held.size > 0 || this.currentState !== "waiting" || this.ending) return;
      this.currentState = "running";
      this.resumeClock();
    };
  }

  private endHeld(why: string): void {
    const cancels = [...this.held];
    this.held.clear();
    for (const cancel of cancels) cancel(why);
  }

  /** Records a checkpoint in the log; resolves to its sequence number. */
  async checkpoint(label: string): Promise<number> {
    const log = this.log ?? (await this.deps.log);
    const event = await log.append({ type: "checkpoint", runId: this.runId, pid: this.pid, agent: this.agent, data: { label } });
    return event.seq;
  }

  /** Resolves once the guest has acknowledged a SIGSTOP (or after timeoutMs). */
  async stopped(timeoutMs = 1000): Promise<boolean> {
    return this.channel ? this.channel.waitPaused(timeoutMs) : false;
  }

  private async start(): Promise<void> {
    const log = await this.deps.log;
    this.log = log;
    // Logged even when a kill came first, so that every signal and exit follows its spawn.
    await log.append(this.spawnEvent());
    if (this.ending || !(await this.ticket.granted) || this.ending) return;
    if (this.currentState === "queued") this.currentState = this.stopWhenStarted ? "stopped" : "running";
    const hosted = await this.deps.host.start(this.spec, this.ended.signal, { stopped: () => this.currentState === "stopped" });
    if (!hosted) return;
    if (this.ending) return hosted.kill();
    this.hosted = hosted;
    this.channel = hosted.channel;
    this.gate = this.deps.gateRun(this, log);
    if (this.currentState === "stopped") this.channel.setControl(Control.stop);
    else this.resumeClock();
    // A SIGTERM sent before the run started (its grace period is already counting) reaches it now.
    if (this.termTimer !== undefined) this.signalTerm();
    const gate = this.gate;
    const handle = this.deps.handle ?? handleCall;
    void this.channel.serve((request) => handle(gate, request));
    hosted.finished.then((f) => this.onFinished(f));
  }

  private spawnEvent() {
    return {
      type: "spawn" as const,
      runId: this.runId,
      pid: this.pid,
      agent: this.agent,
      data: {
        engine: this.spec.engine,
        kind: this.spec.kind,
        ...(this.meta.isolation ? { isolation: this.meta.isolation } : {}),
        codeHash: this.meta.codeHash,
        ...(this.meta.codeStored ? { codeStored: true } : {}),
        task: this.spec.task,
        policy: { name: this.meta.policyName, hash: this.meta.policyHash },
        limits: { ...this.spec.limits },
      },
    };
  }

  private onFinished(finished: Finished): void {
    // Killed from the kernel's side: the usage it recorded then stands (a terminated worker reports none).
    if (this.ending) return;
    this.finalFuel = finished.fuel;
    this.finalCalls = this.gate?.hostCalls ?? finished.hostCalls;
    const { outcome } = finished;
    if (outcome.status === "ok") return this.finish({ status: "ok" }, outcome.output);
    if (outcome.status === "error") return this.finish({ status: "error", error: outcome.error, reason: outcome.reason });
    if (outcome.reason === "fuel") {
      this.record("signal", { signal: "SIGXCPU", by: "kernel (fuel budget exhausted)" });
      return this.finish({ status: "killed", signal: "SIGXCPU", reason: "fuel", error: outcome.error });
    }
    const reason = outcome.reason === "signal" ? "signal" : outcome.reason;
    this.finish({ status: "killed", signal: "SIGKILL", reason, error: outcome.error });
  }

  /** Kills the agent for a reason of the kernel's (policy, deadline), recording who did it. */
  killFor(reason: ExitReason, by: string, error?: string): void {
    if (this.ending) return;
    this.record("signal", { signal: "SIGKILL", by });
    this.kill({ status: "killed", signal: "SIGKILL", reason, ...(error !== undefined ? { error } : {}) });
  }

  /**
   * Kills from the kernel's side: the host ends the run whatever the guest is doing (a dedicated
   * worker is terminated); a run still queued or being placed never starts.
   */
  private kill(ending: Ending): void {
    if (this.ending) return;
    if (this.channel) this.finalFuel = this.channel.fuel;
    this.finalCalls = this.gate?.hostCalls ?? 0;
    const hosted = this.hosted;
    this.hosted = undefined;
    this.finish(ending);
    hosted?.kill();
  }

  private finish(ending: Ending, output?: string): void {
    if (this.ending) return;
    this.ending = ending;
    this.pauseClock();
    this.endHeld(`the process ended (${ending.status}${ending.reason ? `, ${ending.reason}` : ""})`);
    clearTimeout(this.termTimer);
    this.channel?.close();
    this.ended.abort();
    // The next queued run may start now.
    this.ticket.leave();
    let released: Promise<unknown> = Promise.resolve();
    try {
      // The result waits for the run's handles to close (bounded: a SQL process that does not
      // close at once is killed), so that its database files are settled when the run is over.
      released = Promise.resolve(this.gate?.capabilities.close()).catch(() => undefined);
    } catch {
      // a handle that will not close is not the agent's result
    }
    this.currentState = ending.status === "ok" ? "exited" : ending.status === "killed" ? "killed" : "failed";
    const result: RunResult = {
      runId: this.runId,
      pid: this.pid,
      agent: this.agent,
      status: ending.status,
      ...(output !== undefined ? { output } : {}),
      ...(ending.error !== undefined ? { error: ending.error } : {}),
      ...(ending.signal ? { signal: ending.signal } : {}),
      ...(ending.reason ? { reason: ending.reason } : {}),
      usage: { fuel: this.finalFuel, hostCalls: this.finalCalls, wallMs: Math.round(this.runningMs), tokens: this.tokens() },
      denials: this.gate?.denials ?? [],
    };
    const exit = this.record("exit", {
      status: result.status,
      ...(result.reason ? { reason: result.reason } : {}),
      ...(result.signal ? { signal: result.signal } : {}),
      ...(result.error !== undefined ? { error: result.error } : {}),
      ...(output !== undefined ? { output } : {}),
      usage: { ...result.usage, tokens: { ...result.usage.tokens } },
    });
    void Promise.allSettled([...this.pendingSignals, exit, released]).then(() => {
      this.deps.onExit(this);
      this.resolveDone(result);
    });
  }

  private record(type: "signal" | "exit", data: Record<string, unknown>): Promise<unknown> {
    const append = this.deps.log.then((log) => log.append({ type, runId: this.runId, pid: this.pid, agent: this.agent, data }));
    const settled = append.catch(() => undefined);
    this.pendingSignals.push(settled);
    return settled;
  }

  private wallMs(): number {
    return this.deadlineTimer !== undefined ? this.runningMs + (performance.now() - this.runningSince) : this.runningMs;
  }

  private resumeClock(): void {
    if (this.ending || this.deadlineTimer !== undefined) return;
    this.runningSince = performance.now();
    const left = Math.max(0, this.spec.limits.wallTime - this.runningMs);
    this.deadlineTimer = setTimeout(
      () => this.killFor("deadline", "kernel (deadline)", `wall-time limit of ${this.spec.limits.wallTime} ms reached`),
      left,
    );
  }

  private pauseClock(): void {
    if (this.deadlineTimer === undefined) return;
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    this.runningMs += performance.now() - this.runningSince;
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The kernel's live processes. While there is one, the event loop is kept alive: a run may be
 * waiting on nothing else that holds it (an agent in the kernel's own thread waiting on an
 * unref'd SQL process, a worker that is unref'd).
 */
export class LiveProcesses extends Map<number, AgentProcess> {
  private keepAlive: NodeJS.Timeout | undefined;

  add(pid: number, proc: AgentProcess): void {
    this.set(pid, proc);
    this.keepAlive ??= setInterval(() => undefined, 1 << 30);
  }

  remove(pid: number): void {
    this.delete(pid);
    if (this.size === 0 && this.keepAlive !== undefined) {
      clearInterval(this.keepAlive);
      this.keepAlive = undefined;
    }
  }
}

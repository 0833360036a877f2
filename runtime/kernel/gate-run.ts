/**
 * The gate's view of one run: what it decides a host call with (the policy, the verifier, the
 * log), what it counts (host calls, tokens, denials), and the run's capabilities.
 */
import type { Approver, GateRun, SharedRates, Verifier } from "../gate.js";
import type { RunCapabilities } from "../capabilities/index.js";
import type { KernelLog } from "../episodic/index.js";
import type { Policy } from "../types.js";
import type { AgentProcess } from "./process.js";
import { monotonicNs } from "../portable/clock.js";

/** What every run's capabilities are made with. */
export interface CapabilityBase {
  startedNs: bigint;
  now: () => number;
  checkpoint: (label: string) => Promise<number>;
}

export interface GateRunDeps {
  policy: Policy;
  verifier: Verifier;
  /** Answers "ask" decisions; absent: "ask" denies at once (no approver). */
  approver?: Approver;
  /** Rate limits counted with other kernels too. */
  sharedRates?: SharedRates;
  /** Makes the run's capabilities (the host's: Node's mounts, databases and sockets, or an edge host's fetch). */
  capabilities: (run: GateRun, base: CapabilityBase) => RunCapabilities;
  /** The kernel's wall clock, in milliseconds. */
  now: () => number;
}

/** A new run's gate state, its capabilities made for it. */
export function newGateRun(proc: AgentProcess, log: KernelLog, task: string, deps: GateRunDeps): GateRun {
  const startedNs = monotonicNs();
  const run: GateRun = {
    runId: proc.runId,
    pid: proc.pid,
    agent: proc.agent,
    code: proc.codeHash,
    task,
    limits: proc.spec.limits,
    policy: deps.policy,
    log,
    verifier: deps.verifier,
    hostCalls: 0,
    tokens: { input: 0, output: 0 },
    denials: [],
    terminating: false,
    capabilities: undefined as unknown as RunCapabilities,
    ...(deps.approver ? { approver: deps.approver } : {}),
    ...(deps.sharedRates ? { sharedRates: deps.sharedRates } : {}),
    hold: (cancel) => proc.hold(cancel),
    stop: (reason) => proc.signal("SIGSTOP", `policy (${reason})`),
    kill: (reason) => proc.killFor("policy", "policy", reason),
  };
  run.capabilities = deps.capabilities(run, {
    startedNs,
    now: deps.now,
    checkpoint: (label) => proc.checkpoint(label),
  });
  return run;
}

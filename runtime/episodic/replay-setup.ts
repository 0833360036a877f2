/**
 * What a replay is set up with: the recorded run's agent code (checked against its recorded
 * hash, or read from the log), the task and limits it was spawned with, and the gate's view of
 * the replayed run (nothing is carried out).
 */
import { ReplayError } from "../errors.js";
import type { GateRun } from "../gate.js";
import { DEFAULT_LIMITS, type Limits, type Policy } from "../types.js";
import { sha256Hex } from "./encoding.js";
import type { KernelLog } from "./log.js";
import type { RecordedRun } from "./recording.js";

const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** The agent code a replay runs: what the spawn event recorded, with the source. */
export interface ReplayAgent {
  name: string;
  kind: "module" | "function";
  engine: "quickjs" | "component";
  source: string;
  codeHash: string;
}

/**
 * The agent of a recorded run. A given agent must have the recorded content hash (sha256 of
 * its source); without one, the source is read from the log, where the kernel stores each
 * agent's code as a blob under its hash when it spawns it.
 *
 * @example const agent = await recordedAgent(log, run); agent.codeHash === run.spawn.data.codeHash
 * @throws ReplayError when the given agent's code differs from the recorded one, or the log
 *   does not hold the code and none is given.
 */
export async function recordedAgent(log: KernelLog, run: RecordedRun, given?: { source: string; engine?: string; codeHash?: string }): Promise<ReplayAgent> {
  const d = run.spawn.data;
  const codeHash = str(d.codeHash);
  const kind = d.kind === "function" ? "function" : "module";
  const engine = d.engine === "component" ? "component" : "quickjs";
  let source: string;
  if (given !== undefined) {
    if (typeof given?.source !== "string") throw new ReplayError("replay: the agent has no source text");
    // A component's hash is over its bytes, which the kernel hashed when it loaded it.
    const hash = given.engine === "component" && typeof given.codeHash === "string" ? given.codeHash : sha256Hex(given.source);
    if (hash !== codeHash) {
      throw new ReplayError(
        `replay refused: the agent's code has changed since run ${run.runId} (its content hash is ${hash}; the run recorded ${codeHash || "none"})`,
      );
    }
    source = given.source;
  } else {
    const bytes = /^[0-9a-f]{64}$/.test(codeHash) ? await log.getBlob(codeHash) : undefined;
    if (!bytes) {
      throw new ReplayError(
        `replay: the log does not hold the code of run ${run.runId}'s agent ${run.spawn.agent} (content hash ${codeHash || "none"}); give the agent (--agent FILE)`,
      );
    }
    source = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  }
  return { name: run.spawn.agent, kind, engine, source, codeHash };
}

/**
 * The limits and task a run was spawned with (the kernel's defaults where the event is silent).
 *
 * @example spawnedWith(run).limits.fuel
 */
export function spawnedWith(run: RecordedRun): { task: string; limits: Limits } {
  const d = run.spawn.data;
  const recorded = (d.limits !== null && typeof d.limits === "object" ? d.limits : {}) as Partial<Limits>;
  const limits: Limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof Limits)[]) {
    if (typeof recorded[key] === "number") limits[key] = recorded[key];
  }
  return { task: str(d.task), limits };
}

/**
 * The gate's view of a replayed run: no capabilities (nothing is carried out), an in-memory
 * log of its own, and stop/kill decisions that do nothing (the recorded replies stand).
 *
 * @example replayGateRun(proc, memoryLog, limits, task, policy)
 */
export function replayGateRun(
  proc: { runId: string; pid: number; agent: string },
  log: KernelLog,
  limits: Limits,
  task: string,
  policy: Policy,
): GateRun {
  return {
    runId: proc.runId,
    pid: proc.pid,
    agent: proc.agent,
    task,
    limits,
    policy,
    log,
    hostCalls: 0,
    tokens: { input: 0, output: 0 },
    denials: [],
    terminating: false,
    capabilities: {
      checkpoint: () => Promise.reject(new Error("replay carries nothing out")),
      startedNs: 0n,
      now: () => 0,
      authorizeHop: async () => false,
      close: () => undefined,
    },
    stop: () => undefined,
    kill: () => undefined,
  };
}

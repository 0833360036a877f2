/** The pieces of a run the kernel puts together before spawning it: its spec and its limits. */
import type { RunSpec } from "../engines/engine.js";
import { UsageError } from "../errors.js";
import { sha256Hex } from "../portable/sha256.js";
import { DEFAULT_LIMITS, type Limits } from "../types.js";
import type { Agent } from "./kernel.js";
import type { KernelLog } from "../episodic/log.js";

/** What the worker needs to run an agent once. */
export function runSpec(agent: Agent, runId: string, pid: number, task: string, limits: Limits): RunSpec {
  return {
    engine: agent.engine,
    runId,
    pid,
    agent: agent.name,
    kind: agent.kind,
    source: agent.source,
    filename: agent.kind === "function" ? `${agent.name}.js` : `${agent.name}/agent.js`,
    task,
    limits,
    ...(agent.component ? { component: agent.component } : {}),
  };
}

/** Hex sha256 of a text (an agent's source). */
export function sha256(text: string): string {
  return sha256Hex(text);
}

/**
 * Checks limits given to the kernel or to one spawn: known names, positive finite numbers.
 * @throws UsageError naming the limit and where it was given.
 */
export function validateLimits(limits: Partial<Limits> | undefined, where: string): void {
  if (limits === undefined) return;
  if (typeof limits !== "object" || limits === null) throw new UsageError(`${where} must be an object`);
  for (const [key, value] of Object.entries(limits)) {
    if (!(key in DEFAULT_LIMITS)) {
      throw new UsageError(`${where}: unknown limit ${JSON.stringify(key)} (known: ${Object.keys(DEFAULT_LIMITS).join(", ")})`);
    }
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
      throw new UsageError(`${where}.${key} must be a positive number`);
    }
  }
}

/**
 * A run's limits: the defaults, the policy's, the kernel's, then the spawn's (which can only
 * tighten), with memory capped at what one engine instance may have.
 */
export function mergeLimits(policyLimits: Partial<Limits>, kernelLimits: Partial<Limits> | undefined, spawnLimits: Partial<Limits> | undefined, maxHeapBytes: number): Limits {
  const merged: Limits = { ...DEFAULT_LIMITS, ...policyLimits, ...kernelLimits };
  for (const [key, value] of Object.entries(spawnLimits ?? {}) as [keyof Limits, number][]) merged[key] = Math.min(merged[key], value);
  merged.memory = Math.min(merged.memory, maxHeapBytes);
  return merged;
}

/**
 * Puts an agent's source into the log as a blob under its hash, once per kernel (`stored`
 * remembers the hashes), so that replay can find the code; a component's hash is over its bytes,
 * which are not kept. Returns the log.
 */
export function withCodeStored(log: KernelLog, agent: Agent, stored: Set<string>): KernelLog {
  if (!stored.has(agent.codeHash) && sha256(agent.source) === agent.codeHash) {
    stored.add(agent.codeHash);
    log.putBlob(new TextEncoder().encode(agent.source)).catch(() => stored.delete(agent.codeHash));
  }
  return log;
}

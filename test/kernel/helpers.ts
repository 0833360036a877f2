import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { KernelSpace, type Agent, type AgentProcess, type KernelOptions } from "../../dist/runtime/index.js";

/** An agent module from source text (the same shape kernel.load() returns). */
export function moduleAgent(name: string, source: string): Agent {
  return { name, kind: "module", engine: "quickjs", source, codeHash: name };
}

/** A policy that allows what agents need to run at all, plus the given rules. */
export function policyWith(rules: Record<string, unknown>[] = []): Record<string, unknown> {
  return {
    version: 1,
    name: "test",
    default: "deny",
    rules: [{ id: "basics", action: ["log.write", "clock.now", "random.bytes", "process.*"], effect: "allow" }, ...rules],
  };
}

export function kernelFor(options: KernelOptions = {}): KernelSpace {
  return new KernelSpace({ policy: policyWith(), log: false, pool: { warm: 1 }, ...options });
}

export function tempDir(prefix = "agent-os-test-"): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The deadline does not run while an agent is stopped: stops `proc` once it is running (it has
 * made a host call, so its deadline clock counts) for longer than its whole deadline (3 s),
 * checks that nothing moved meanwhile, then moves the kernel's clock (`moveClock`: the agent
 * works until it sees the clock move) and resumes it. It must end "the clock moved", within its
 * deadline.
 */
export async function expectDeadlinePausedWhileStopped(proc: AgentProcess, moveClock: () => void): Promise<void> {
  for (let t0 = Date.now(); proc.usage.hostCalls === 0 && Date.now() - t0 < 20_000; ) await sleep(5);
  expect(proc.usage.hostCalls).toBeGreaterThan(0);
  proc.signal("SIGSTOP");
  expect(await proc.stopped(5000)).toBe(true);
  const frozen = proc.usage;
  // Stopped for longer than its whole deadline: only a deadline that counted stopped time could kill it.
  await sleep(4000);
  expect(proc.state).toBe("stopped");
  expect(proc.usage.hostCalls).toBe(frozen.hostCalls);
  expect(proc.usage.wallMs).toBe(frozen.wallMs);
  moveClock();
  proc.signal("SIGCONT");
  const result = await proc.wait();
  expect(result).toMatchObject({ status: "ok", output: "the clock moved" });
  expect(result.usage.wallMs).toBeLessThan(3000);
  expect(result.usage.hostCalls).toBeGreaterThan(frozen.hostCalls);
}

const kernels: KernelSpace[] = [];

/** A kernel with an in-memory log (unless `options` gives one), closed by {@link closeKernels}. */
export function kernel(options: KernelOptions): KernelSpace {
  const k = new KernelSpace({ log: false, ...options });
  kernels.push(k);
  return k;
}

/** Closes every kernel {@link kernel} made since the last call. */
export async function closeKernels(): Promise<void> {
  await Promise.all(kernels.splice(0).map((k) => k.close()));
}

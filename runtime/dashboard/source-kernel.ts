/**
 * The dashboard's data from a live kernel in this process: its processes (state and usage as
 * the kernel counts them), its signals, its log and its replay.
 */
import type { KernelLog } from "../episodic/log.js";
import type { ReplayResult } from "../episodic/replay.js";
import type { ProcessInfo } from "../kernel/process.js";
import type { Signal } from "../types.js";
import type { ApprovalsPort, DashboardSource, PolicySource } from "./types.js";

/** What the dashboard uses of a KernelSpace. */
export interface KernelView {
  ps(): ProcessInfo[];
  signal(pid: number, signal: Signal): void;
  readonly log: Promise<KernelLog>;
  replay(options: { runId: string }): Promise<ReplayResult>;
}

/** How often a live kernel's table is refreshed, in ms. */
const KERNEL_POLL_MS = 300;

/**
 * A source over a live kernel.
 *
 * @example const source = kernelSource(kernel, policySourceOf("strict"), ".agent-os/log", kernelApprovals(kernel));
 */
export function kernelSource(kernel: KernelView, policy: PolicySource, location: string, approvals?: ApprovalsPort): DashboardSource {
  return {
    ...(approvals ? { approvals } : {}),
    mode: "kernel",
    location,
    pollMs: KERNEL_POLL_MS,
    processes: () =>
      kernel.ps().map((p) => ({
        pid: p.pid,
        runId: p.runId,
        agent: p.agent,
        state: p.state,
        fuel: p.usage.fuel,
        tokens: { input: p.usage.tokens.input, output: p.usage.tokens.output },
        hostCalls: p.usage.hostCalls,
      })),
    signal: (pid, signal) => kernel.signal(pid, signal),
    withLog: async (fn) => fn(await kernel.log),
    replay: (runId) => kernel.replay({ runId }),
    policy: () => policy,
    close: async () => undefined,
  };
}

/**
 * The live dashboard: a page served from the package, over a live kernel in this process
 * (`kernel.dashboard()`) or a log directory (`agent-os dashboard --log DIR`).
 *
 * @example
 * const board = await kernel.dashboard({ port: 0 });
 * console.error(`dashboard: ${board.url}`); // http://127.0.0.1:41234/?token=...
 * await board.close();
 */
import type { Policy } from "../types.js";
import { startDashboard } from "./dashboard.js";
import { policySourceOf } from "./policy-source.js";
import { kernelApprovals, type KernelApprovals } from "./approvals-port.js";
import { kernelSource, type KernelView } from "./source-kernel.js";
import { logSource } from "./source-log.js";
import type { DashboardHandle, DashboardOptions } from "./types.js";

export { startDashboard, type DashboardInfo } from "./dashboard.js";
export { DEFAULT_PORT, checkListen } from "./server.js";
export { policySourceOf } from "./policy-source.js";
export { kernelSource, type KernelView } from "./source-kernel.js";
export { logSource } from "./source-log.js";
export type { DashboardHandle, DashboardOptions, DashboardSource, PolicySource, ProcessRow, RunSummary } from "./types.js";

/**
 * A dashboard attached to a live kernel: its processes (with signals), its log, its replay, its
 * held calls (when `approvals`: the kernel answers `ask`), and the policy it was given
 * (`policy`, as `KernelOptions.policy`) in the editor.
 *
 * @example const board = await dashboardForKernel(kernel, { policy: "./policy.yaml", location: ".agent-os/log", approvals: true }, { port: 0 });
 */
export function dashboardForKernel(
  kernel: KernelView & KernelApprovals & { readonly policy: Policy },
  from: { policy: string | Policy | Record<string, unknown> | undefined; location: string; approvals: boolean },
  options: DashboardOptions = {},
): Promise<DashboardHandle> {
  const approvals = from.approvals ? kernelApprovals(kernel) : undefined;
  return startDashboard(kernelSource(kernel, policySourceOf(from.policy, kernel.policy.name), from.location, approvals), options);
}

/**
 * A dashboard over a log directory that a kernel in another process may be writing.
 *
 * @example const board = await dashboardForLog(".agent-os/log", { policy: "./policy.yaml" }, { port: 7878 });
 */
export function dashboardForLog(dir: string, from: { policy?: string }, options: DashboardOptions = {}): Promise<DashboardHandle> {
  return startDashboard(logSource(dir, policySourceOf(from.policy)), options);
}

/**
 * The dashboard, put together: a source of data, the run index and live state fed from it, the
 * event stream, the API routes, the page.
 *
 * @example
 * const board = await startDashboard(kernelSource(kernel, policySourceOf("strict"), ".agent-os/log"), { port: 0 });
 * console.log(board.url); // http://127.0.0.1:41234/?token=...
 * await board.close();
 */
import { EFFECTS } from "../types.js";
import { approvalRoutes } from "./api-approvals.js";
import { chainRoutes } from "./api-chain.js";
import { policyRoutes } from "./api-policy.js";
import { processRoutes } from "./api-processes.js";
import { runRoutes } from "./api-runs.js";
import type { Route } from "./http.js";
import { LiveState } from "./live.js";
import { RunIndex } from "./run-index.js";
import { checkListen, listen } from "./server.js";
import { SseHub } from "./sse.js";
import { sendUiFile } from "./static.js";
import type { DashboardHandle, DashboardOptions, DashboardSource } from "./types.js";

/** What the page asks first: the mode, where the log is, and which views can act. */
export interface DashboardInfo {
  mode: DashboardSource["mode"];
  location: string;
  policy: string;
  /** Whether the signal buttons work (a live kernel in this process). */
  signals: boolean;
  /** Whether held `ask` calls can be answered here. */
  approvals: boolean;
  /** The last failure to read the log, if the last look failed. */
  problem: string | null;
  /** The effects a call can be decided with (the timeline's filter). */
  effects: readonly string[];
}

/**
 * Serves a dashboard over `source`. It reads the log once before it resolves (the page is
 * complete from the first request), then every `source.pollMs`. `close()` ends every live
 * stream, stops reading and closes the server and the source (never the kernel).
 *
 * @throws UsageError for a bad port or host, a host that is not loopback without `allowRemote`,
 * or a port in use.
 */
export async function startDashboard(source: DashboardSource, options: DashboardOptions = {}): Promise<DashboardHandle> {
  checkListen(options);
  const index = new RunIndex();
  const hub = new SseHub();
  const live = new LiveState(source, index, hub);
  const chain = chainRoutes(source, hub);
  const info = (): DashboardInfo => ({
    mode: source.mode,
    location: source.location,
    policy: source.policy().name,
    signals: source.mode === "kernel",
    approvals: source.approvals !== undefined,
    problem: live.problem ?? null,
    effects: EFFECTS,
  });
  const routes: Route[] = [
    { kind: "page", pattern: "/", handler: () => undefined },
    { kind: "read", pattern: "/ui/:file", handler: ({ res, params }) => sendUiFile(res, params.file) },
    { kind: "read", pattern: "/api/info", handler: info },
    {
      kind: "stream",
      pattern: "/api/stream",
      handler: ({ res }) =>
        hub.open(res, [
          ["info", info()],
          ["processes", live.processes()],
          ["verify", chain.state()],
          ["approvals", live.approvalsTable()],
        ]),
    },
    ...processRoutes(source, live),
    ...runRoutes(source, index, () => live.caughtUp()),
    ...chain.routes,
    ...policyRoutes(source),
    ...approvalRoutes(source, index, () => live.refresh()),
  ];
  const onClose = async () => {
    hub.close();
    await live.close();
    await source.close();
  };
  try {
    await live.start();
    return await listen(options, routes, onClose);
  } catch (error) {
    await onClose();
    throw error;
  }
}

/**
 * The dashboard's data from a log directory, as `agent-os log` and `verify` read it: opened for
 * each look and closed after it (a snapshot when a running kernel holds it; briefly otherwise,
 * so that a kernel can still start on it). Looks that overlap share one opening. Live
 * processes are the runs with no exit event yet; signals need the kernel's process; held calls
 * are answered through the approvals mailbox of the kernel that holds the log. Replay
 * runs in a kernel of the dashboard's own, with an in-memory log, as `agent-os replay` does.
 */
import { UsageError } from "../errors.js";
import type { KernelLog } from "../episodic/log.js";
import { openLogReader } from "../hosts/node/log/reader.js";
import { KernelSpace } from "../kernel/kernel.js";
import { mailboxApprovals } from "./approvals-port.js";
import type { DashboardSource, PolicySource } from "./types.js";

/** How often a log another process writes is read again, in ms. */
const LOG_POLL_MS = 1000;

/**
 * A source over a log directory.
 *
 * @example const source = logSource(".agent-os/log", policySourceOf(undefined));
 */
export function logSource(dir: string, policy: PolicySource): DashboardSource {
  let open: { log: Promise<KernelLog>; users: number } | undefined;
  let replayKernel: KernelSpace | undefined;
  const withLog = async <T>(fn: (log: KernelLog) => Promise<T>): Promise<T> => {
    const current = (open ??= { log: openLogReader(dir), users: 0 });
    current.users++;
    try {
      return await fn(await current.log);
    } finally {
      if (--current.users === 0) {
        if (open === current) open = undefined;
        await current.log.then((log) => log.close(), () => undefined);
      }
    }
  };
  return {
    mode: "log",
    location: dir,
    approvals: mailboxApprovals(dir),
    pollMs: LOG_POLL_MS,
    processes: () => undefined,
    signal: () => {
      throw new UsageError("signals need the kernel's process: this dashboard reads a log directory");
    },
    withLog,
    replay: (runId) =>
      withLog((log) => {
        replayKernel ??= new KernelSpace({ log: false, pool: { warm: 1 } });
        return replayKernel.replay({ runId, log });
      }),
    policy: () => policy,
    close: async () => {
      await replayKernel?.close();
      replayKernel = undefined;
    },
  };
}

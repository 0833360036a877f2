/**
 * `agent-os log --nats URL [filters] [--json]`: every cluster node's events merged by time,
 * each line prefixed with the node's name (each JSON line with a "node" field). A node whose
 * log cannot be read is named on stderr, the others are printed, and the exit code is 1.
 */
import { readClusterTimeline } from "../cluster/history.js";
import { formatEvent } from "../episodic/format.js";
import type { EventQuery } from "../types.js";
import { openClusterFrom } from "./cluster-flags.js";
import { escapeText, safeJson } from "./escape.js";
import { EXIT, type CliIo } from "./io.js";
import { parseNodeLogs } from "./verify-cluster.js";

/**
 * Prints the cluster's merged timeline once, oldest first (`query.limit`: the first N events).
 *
 * @example await printClusterLog({ nats: "nats://127.0.0.1:4222" }, { runId }, false, io)
 * @throws UsageError for bad flags; ClusterError when the cluster cannot be reached.
 */
export async function printClusterLog(flags: Record<string, unknown>, query: EventQuery, json: boolean, io: CliIo, signal?: AbortSignal): Promise<number> {
  const nodeLogs = parseNodeLogs((flags["node-log"] as string[] | undefined) ?? [], "log");
  const stop = AbortSignal.any([signal, io.outputClosed].filter((s): s is AbortSignal => s !== undefined));
  const conn = await openClusterFrom(flags, "log");
  let unreadable = 0;
  try {
    const { limit, order: _order, fromSeq: _from, toSeq: _to, ...filter } = query;
    const onUnreadable = (node: string, error: Error) => {
      unreadable++;
      io.stderr(escapeText(`agent-os log: node ${node}: its log cannot be read: ${error.message}`) + "\n");
    };
    let printed = 0;
    for await (const e of readClusterTimeline(conn, { nodeLogs, filter, onUnreadable })) {
      if (stop.aborted || (limit !== undefined && printed >= limit)) break;
      io.stdout((json ? safeJson(e) : escapeText(`${e.node}  ${formatEvent(e)}`)) + "\n");
      printed++;
    }
    return unreadable > 0 ? EXIT.failure : EXIT.ok;
  } finally {
    await conn.close();
  }
}

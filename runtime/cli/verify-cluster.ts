/**
 * `agent-os verify --cluster --nats URL [--node-log NAME=DIR ...] [--json]`: every node's log
 * against its hash chain and its signed anchors (see cluster/history.ts). One line per node;
 * exit 0 when every node verifies, 1 when one does not (or the cluster cannot be read).
 */
import { UsageError } from "../errors.js";
import { verifyCluster, type NodeVerifyReport } from "../cluster/history.js";
import { openClusterFrom } from "./cluster-flags.js";
import { escapeText, safeJson } from "./escape.js";
import { EXIT, type CliIo } from "./io.js";

/**
 * Parses `--node-log NAME=DIR` flags into a map (a name given twice is an error).
 *
 * @example parseNodeLogs(["n1=/srv/n1/log"]) // { n1: "/srv/n1/log" }
 * @throws UsageError for a value without "=", or a name given twice.
 */
export function parseNodeLogs(values: string[], command = "verify"): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const value of values) {
    const eq = value.indexOf("=");
    if (eq <= 0 || eq === value.length - 1) throw new UsageError(`${command}: --node-log ${escapeText(JSON.stringify(value))}: expected NAME=DIR`);
    const name = value.slice(0, eq);
    if (Object.hasOwn(out, name)) throw new UsageError(`${command}: --node-log gives node ${escapeText(name)} twice`);
    out[name] = value.slice(eq + 1);
  }
  return out;
}

/**
 * The `verify --cluster` command, from verify's parsed flags. Errors are thrown (verify reports them).
 *
 * @example await verifyClusterCommand({ cluster: true, nats: "nats://127.0.0.1:4222" }, io) // 0 when every node verifies
 * @throws UsageError for --log with --cluster, a missing --nats or a bad --node-log; ClusterError when the cluster cannot be reached.
 */
export async function verifyClusterCommand(flags: Record<string, unknown>, io: CliIo): Promise<number> {
  if (flags.log !== undefined) throw new UsageError("verify: --cluster verifies the nodes' logs; give --node-log NAME=DIR instead of --log");
  const nodeLogs = parseNodeLogs((flags["node-log"] as string[] | undefined) ?? []);
  const conn = await openClusterFrom(flags, "verify --cluster");
  try {
    const report = await verifyCluster(conn, { nodeLogs });
    if (flags.json) io.stdout(safeJson(report) + "\n");
    else {
      const width = Math.max(0, ...report.nodes.map((n) => n.node.length));
      for (const n of report.nodes) io.stdout(escapeText(`${n.node.padEnd(width)}  ${nodeLine(n)}`) + "\n");
      const bad = report.nodes.filter((n) => !n.ok).length;
      if (report.nodes.length === 0) io.stdout("no nodes: the cluster has no node records and no anchors\n");
      else io.stdout(bad === 0 ? `ok: ${report.nodes.length} node(s) verified\n` : `NOT VERIFIED: ${bad} of ${report.nodes.length} node(s)\n`);
    }
    return report.ok ? EXIT.ok : EXIT.failure;
  } finally {
    await conn.close();
  }
}

/** "ok: 12 events, 3 anchors (by path)", "TAMPERED at event 7: ...", or "NOT VERIFIED: ...". */
function nodeLine(n: NodeVerifyReport): string {
  const via = n.via === "path" ? "by path" : n.via === "node" ? "through the node" : "unread";
  if (n.ok) return `ok: ${n.events} events, ${n.anchors} anchors (${via})${n.anchors === 0 ? " (no anchors: only its chain was checked)" : ""}`;
  if (n.firstBad !== undefined) return `TAMPERED at event ${n.firstBad}: ${n.problem ?? ""} (${via})`;
  return `NOT VERIFIED: ${n.problem ?? ""}`;
}

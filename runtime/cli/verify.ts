/**
 * `agent-os verify [--log DIR] [--json]`: recompute the log's hash chain; with `--cluster
 * --nats URL`, every node's log against its chain and its signed anchors (verify-cluster.ts).
 * Exit 0 when it verifies, 1 when tampered (or unreadable), 2 for a usage error or a missing log.
 */
import { UsageError } from "../errors.js";
import { logExists, openLogReader } from "../hosts/node/log/reader.js";
import { formatFlags, parseArgs, type FlagSpec } from "./args.js";
import { NATS_FLAGS } from "./cluster-flags.js";
import { verifyClusterCommand } from "./verify-cluster.js";
import { escapeText, safeJson } from "./escape.js";
import { reportFailure } from "./failure.js";
import { EXIT, type CliIo, type Subcommand } from "./io.js";

const FLAGS: Record<string, FlagSpec> = {
  log: { type: "string", value: "DIR", help: "the log directory (default .agent-os/log)" },
  json: { type: "boolean", help: "print the report as JSON" },
  cluster: { type: "boolean", help: "verify every node of the cluster at --nats against its signed anchors" },
  "node-log": { type: "list", value: "NAME=DIR", help: "with --cluster: node NAME's log is at DIR (repeatable)" },
  ...NATS_FLAGS,
  help: { type: "boolean", short: "h", help: "show this help" },
};

export const VERIFY_HELP = `Usage: agent-os verify [--log DIR] [--json]
       agent-os verify --cluster --nats URL [--token T] [--prefix P] [--node-log NAME=DIR ...] [--json]

Recomputes the hash chain of the episodic log and reports "ok" with the number of events and
the head hash, or the first event that does not match (changed, missing or out of place).

With --cluster, verifies every node of the cluster (a node record or anchors in the cluster's
anchor stream): its log's chain, read by path when its directory is on this machine, else
through the node; every anchor's signature against the node's public key; and every anchored
head against the log, which catches a log rewritten and re-chained after the fact, or cut
short. One line per node: "ok: N events, M anchors", or "TAMPERED at event X: why".

Options:
${formatFlags(FLAGS)}

Exit status: 0 verified, 1 tampered or unreadable, 2 usage error or no log.
`;

/**
 * The `verify` subcommand.
 *
 * @example await verifyCommand(["--log", ".agent-os/log"], processIo()) // 0 when the chain is intact
 */
export const verifyCommand: Subcommand = async (argv: string[], io: CliIo): Promise<number> => {
  try {
    const { flags, positionals } = parseArgs(argv, FLAGS, "verify");
    if (flags.help) {
      io.stdout(VERIFY_HELP);
      return EXIT.ok;
    }
    if (positionals.length > 0) throw new UsageError(`verify: unexpected argument ${escapeText(JSON.stringify(positionals[0]))} (see agent-os verify --help)`);
    if (flags.cluster) return await verifyClusterCommand(flags, io);
    const stray = ["node-log", ...Object.keys(NATS_FLAGS)].find((name) => flags[name] !== undefined);
    if (stray !== undefined) throw new UsageError(`verify: --${stray} goes with --cluster (see agent-os verify --help)`);
    const dir = (flags.log as string | undefined) ?? ".agent-os/log";
    if (!(await logExists(dir))) throw new UsageError(`verify: there is no log at ${dir}`);
    const log = await openLogReader(dir);
    try {
      const report = await log.verify();
      if (flags.json) io.stdout(safeJson(report) + "\n");
      else if (report.ok) io.stdout(`ok: ${report.count} events, head ${report.head}\n`);
      else io.stdout(escapeText(`TAMPERED at event ${report.firstBad}: ${report.problem} (${report.count} events verified before it)`) + "\n");
      return report.ok ? EXIT.ok : EXIT.failure;
    } finally {
      await log.close();
    }
  } catch (error) {
    return reportFailure(error, io);
  }
};

/**
 * `agent-os verify [--log DIR] [--json]`: recompute the log's hash chain.
 * Exit 0 when it verifies, 1 when tampered (or unreadable), 2 for a usage error or a missing log.
 */
import { UsageError } from "../errors.js";
import { logExists, openLogReader } from "../hosts/node/log/reader.js";
import { formatFlags, parseArgs, type FlagSpec } from "./args.js";
import { escapeText, safeJson } from "./escape.js";
import { reportFailure } from "./failure.js";
import { EXIT, type CliIo, type Subcommand } from "./io.js";

const FLAGS: Record<string, FlagSpec> = {
  log: { type: "string", value: "DIR", help: "the log directory (default .agent-os/log)" },
  json: { type: "boolean", help: "print the report as JSON" },
  help: { type: "boolean", short: "h", help: "show this help" },
};

export const VERIFY_HELP = `Usage: agent-os verify [--log DIR] [--json]

Recomputes the hash chain of the episodic log and reports "ok" with the number of events and
the head hash, or the first event that does not match (changed, missing or out of place).

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

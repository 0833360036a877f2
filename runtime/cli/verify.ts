/**
 * `agent-os verify [--log DIR] [--json]`: recompute the log's hash chain.
 * Exit 0 when it verifies, 1 when tampered, 2 for a usage error or a missing log.
 */
import { parseArgs } from "node:util";
import { LogError } from "../errors.js";
import { openLogReader } from "../episodic/reader.js";
import { EXIT, type CliIo, type Subcommand } from "./io.js";

export const VERIFY_HELP = `Usage: agent-os verify [--log DIR] [--json]

Recomputes the hash chain of the episodic log and reports "ok" with the number of events and
the head hash, or the first event that does not match (changed, missing or out of place).

Options:
  --log DIR   the log directory (default .agent-os/log)
  --json      print the report as JSON
  -h, --help  show this help

Exit status: 0 verified, 1 tampered, 2 usage error or no log.
`;

/**
 * The `verify` subcommand.
 *
 * @example await verifyCommand(["--log", ".agent-os/log"], processIo) // 0 when the chain is intact
 */
export const verifyCommand: Subcommand = async (argv: string[], io: CliIo): Promise<number> => {
  let values: { log?: string; json?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { log: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      allowPositionals: false,
    }));
  } catch (err) {
    io.stderr(`agent-os verify: ${(err as Error).message}\n\n${VERIFY_HELP}`);
    return EXIT.usage;
  }
  if (values.help) {
    io.stdout(VERIFY_HELP);
    return EXIT.ok;
  }
  const dir = values.log ?? ".agent-os/log";
  let log;
  try {
    log = await openLogReader(dir);
  } catch (err) {
    io.stderr(`agent-os verify: ${(err as Error).message}\n`);
    return err instanceof LogError && /there is no log/.test(err.message) ? EXIT.usage : EXIT.failure;
  }
  try {
    const report = await log.verify();
    if (values.json) io.stdout(JSON.stringify(report) + "\n");
    else if (report.ok) io.stdout(`ok: ${report.count} events, head ${report.head}\n`);
    else io.stdout(`TAMPERED at event ${report.firstBad}: ${report.problem} (${report.count} events verified before it)\n`);
    return report.ok ? EXIT.ok : EXIT.failure;
  } finally {
    await log.close();
  }
};

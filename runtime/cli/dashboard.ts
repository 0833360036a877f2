/**
 * `agent-os dashboard [--log DIR] [--port N] [--host H] [--allow-remote] [--policy NAME|FILE]`:
 * the live dashboard over a log directory, which a kernel in another process may be writing.
 * Prints the URL with its token on stderr and serves until SIGINT or SIGTERM.
 */
import { UsageError } from "../errors.js";
import { DEFAULT_PORT, checkListen, dashboardForLog, type DashboardHandle } from "../dashboard/index.js";
import { logExists } from "../hosts/node/log/reader.js";
import { formatFlags, parseArgs, type FlagSpec } from "./args.js";
import { escapeText } from "./escape.js";
import { reportFailure } from "./failure.js";
import { EXIT, type CliIo, type Subcommand } from "./io.js";
import { onProcessSignals } from "./run-supervise.js";

const FLAGS: Record<string, FlagSpec> = {
  log: { type: "string", value: "DIR", help: "the log directory (default .agent-os/log)" },
  port: { type: "string", value: "N", help: `the port (default ${DEFAULT_PORT}; 0: any free port)` },
  host: { type: "string", value: "HOST", help: "the address to listen on (default 127.0.0.1)" },
  "allow-remote": { type: "boolean", help: "allow a --host that is not loopback (the token is then all that guards it)" },
  policy: { type: "string", value: "NAME|FILE", help: "the policy the editor opens (a FILE is saved there; default strict, read only)" },
  help: { type: "boolean", short: "h", help: "show this help" },
};

export const DASHBOARD_HELP = `Usage: agent-os dashboard [--log DIR] [--port N] [--host HOST] [--allow-remote] [--policy NAME|FILE]

Serves the live dashboard over the episodic log: the runs with no exit event yet, every run and
its timeline (events, decisions, a chart of fuel, tokens and calls), the chain's status
(verify), replay, and the policy editor (problems as you type, explain, save).

The log is read as agent-os log reads it, so a kernel in another process may be writing it.
Signals need the kernel's own process: to stop and resume agents from the page, start the
dashboard inside the host program with kernel.dashboard().

Access: a random token, printed on stderr with the URL at start, is required on every request.
The page opened with ?token= sets a session cookie and drops the token from the address; changes
(POST only) need the token in the x-agent-os-token header, which only the page sends. The
server listens on 127.0.0.1; another --host is refused unless --allow-remote is given.

Options:
${formatFlags(FLAGS)}

Exit codes: 0 closed by SIGINT or SIGTERM, 2 usage error (no log, a bad port, a port in use, a
remote host without --allow-remote), 1 the server could not do its work.
`;

/** Options of {@link runDashboard}. Default: serves until SIGINT or SIGTERM. */
export interface DashboardRunOptions {
  /** Closes the dashboard (for tests and embedding). */
  signal?: AbortSignal;
}

/**
 * The `dashboard` subcommand with its stopping signal made explicit.
 *
 * @example await runDashboard(["--log", dir, "--port", "0"], io, { signal: AbortSignal.timeout(5000) })
 */
export async function runDashboard(argv: string[], io: CliIo, options: DashboardRunOptions = {}): Promise<number> {
  let board: DashboardHandle | undefined;
  try {
    const { flags, positionals } = parseArgs(argv, FLAGS, "dashboard");
    if (flags.help) {
      io.stdout(DASHBOARD_HELP);
      return EXIT.ok;
    }
    if (positionals.length > 0) throw new UsageError(`dashboard: unexpected argument ${escapeText(JSON.stringify(positionals[0]))} (see agent-os dashboard --help)`);
    const port = flags.port as string | undefined;
    if (port !== undefined && !/^\d{1,5}$/.test(port)) throw new UsageError(`dashboard: --port ${escapeText(port)}: expected a port from 0 to 65535`);
    const listen = { port: port === undefined ? DEFAULT_PORT : Number(port), host: (flags.host as string | undefined) ?? "127.0.0.1", allowRemote: Boolean(flags["allow-remote"]) };
    checkListen(listen);
    const dir = (flags.log as string | undefined) ?? ".agent-os/log";
    if (!(await logExists(dir))) throw new UsageError(`dashboard: there is no log at ${dir}`);
    if (options.signal?.aborted) return EXIT.ok;
    board = await dashboardForLog(dir, { policy: flags.policy as string | undefined }, listen);
    const address = board.url.slice(0, board.url.indexOf("?"));
    io.stderr(escapeText(`agent-os dashboard: serving the log at ${dir} at ${address}`) + "\n");
    io.stderr(`agent-os dashboard: open ${board.url}\n`);
    await waitFor(options.signal);
    io.stderr("agent-os dashboard: closed\n");
    return EXIT.ok;
  } catch (error) {
    return reportFailure(error, io, "agent-os");
  } finally {
    await board?.close();
  }
}

function waitFor(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return new Promise(() => undefined);
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}

/**
 * The `dashboard` subcommand: serves until SIGINT or SIGTERM.
 *
 * @example await dashboardCommand(["--log", ".agent-os/log"], processIo())
 */
export const dashboardCommand: Subcommand = async (argv, io) => {
  const stop = new AbortController();
  const release = onProcessSignals(() => stop.abort());
  try {
    return await runDashboard(argv, io, { signal: stop.signal });
  } finally {
    release();
  }
};

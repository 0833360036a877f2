/**
 * The agent-os command. Each subcommand lives in its own file; this one dispatches and turns
 * errors into an exit code by their type (failure.ts) with a message that names what and where.
 */
import { approvalsCommand, approveCommand, denyCommand } from "./approve.js";
import { buildCommand } from "./build.js";
import { dashboardCommand } from "./dashboard.js";
import { escapeText } from "./escape.js";
import { reportFailure } from "./failure.js";
import { inspectCommand } from "./inspect.js";
import { EXIT, processIo, type CliIo, type Subcommand } from "./io.js";
import { logCommand } from "./log.js";
import { mcpCommand } from "./mcp.js";
import { policyCommand } from "./policy.js";
import { runCommand } from "./run.js";
import { toolsCommand } from "./tools.js";
import { replayCommand } from "./replay.js";
import { verifyCommand } from "./verify.js";
import { nodeCommand, submitCommand } from "./cluster.js";
import { psCommand, signalCommand } from "./cluster-ps.js";

const COMMANDS: Record<string, { run: Subcommand; summary: string }> = {
  run: { run: runCommand, summary: "run an agent under a policy" },
  build: { run: buildCommand, summary: "build an agent into a WebAssembly component" },
  inspect: { run: inspectCommand, summary: "describe a component: world, imports, exports, size, hash" },
  policy: { run: policyCommand, summary: "check, explain, test, suggest and diff policies (policy --help)" },
  log: { run: logCommand, summary: "print the episodic log as a timeline or JSON lines" },
  verify: { run: verifyCommand, summary: "verify the episodic log's hash chain" },
  replay: { run: replayCommand, summary: "replay a recorded run from the log, or re-decide it under another policy" },
  mcp: { run: mcpCommand, summary: "serve agents as MCP tools (stdio, or HTTP on 127.0.0.1 with a token)" },
  tools: { run: toolsCommand, summary: "list the tools of MCP servers with the hashes a policy pins (tools --help)" },
  approvals: { run: approvalsCommand, summary: "list the calls a running kernel holds for a person (policy effect ask)" },
  approve: { run: approveCommand, summary: "approve a held call: once, for the run, or always (a rule in the policy)" },
  deny: { run: denyCommand, summary: "deny a held call" },
  dashboard: { run: dashboardCommand, summary: "serve the live dashboard over the log (127.0.0.1, with a token)" },
  node: { run: nodeCommand, summary: "run a cluster node: a kernel taking runs from a NATS JetStream queue" },
  submit: { run: submitCommand, summary: "queue a run in the cluster (--wait for its result)" },
  ps: { run: psCommand, summary: "list the cluster's live and queued processes, with their nodes" },
  signal: { run: signalCommand, summary: "send SIGSTOP, SIGCONT, SIGTERM or SIGKILL to a cluster run" },
};

export const HELP = `Usage: agent-os <command> [options]

Agent OS runs AI agents as processes in WebAssembly sandboxes: no ambient authority, every
host call decided by a declarative policy and recorded in a hash-chained episodic log.

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(11)}${c.summary}`)
  .join("\n")}

Run "agent-os <command> --help" for a command's options.
Exit codes: 0 ok, 1 failure (agent error, failed check, tampered log, anything that went
wrong), 2 usage or configuration error, 137 agent killed; agent-os run also 130 (Ctrl-C) and
143 (SIGTERM).
`;

/**
 * Runs the command with `argv` (without "node" and the script); returns the exit code. Never
 * throws: every error becomes a message and exit code 1 or 2 (failure.ts).
 *
 * @example process.exitCode = await main(["verify", "--log", ".agent-os/log"]);
 */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.stdout(HELP);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr(`agent-os: unknown command ${escapeText(JSON.stringify(name))}\n\n${HELP}`);
    return EXIT.usage;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    return reportFailure(error, io);
  }
}


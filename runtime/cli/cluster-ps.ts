/**
 * `agent-os ps --nats URL` (every live and queued process of the cluster, with its node),
 * `agent-os signal RUN_ID SIGNAL --nats URL` (to the node that hosts the run, or the queue),
 * and `agent-os policy push FILE --nats URL` (a checked policy version for new runs).
 */
import { UsageError } from "../errors.js";
import { connectCluster, type Cluster } from "../cluster/client.js";
import type { Signal } from "../types.js";
import { formatFlags, parseArgs, type FlagSpec } from "./args.js";
import { clusterOptionsFrom, NATS_FLAGS } from "./cluster-flags.js";
import { escapeText, safeJson } from "./escape.js";
import { EXIT, type CliIo, type Subcommand } from "./io.js";

const HELP_FLAG: FlagSpec = { type: "boolean", short: "h", help: "show this help" };
const JSON_FLAG: FlagSpec = { type: "boolean", help: "print JSON" };
const FLAGS: Record<string, FlagSpec> = { ...NATS_FLAGS, json: JSON_FLAG, help: HELP_FLAG };

export const PS_HELP = `Usage: agent-os ps --nats URL [--json]

Lists every live and queued process of the cluster: run id, node, pid, state, agent, fuel and
host calls, the policy version it runs under. Queued runs have no node yet. A node that does
not answer is named on stderr (exit 1).

Options:
${formatFlags(FLAGS)}
`;

export const SIGNAL_HELP = `Usage: agent-os signal RUN_ID SIGSTOP|SIGCONT|SIGTERM|SIGKILL --nats URL [--json]

Sends a signal to a run wherever it is: the node hosting it answers with the run's new state.
A queued run is acted on in the queue: SIGKILL and SIGTERM remove it (it never starts),
SIGSTOP makes it start stopped, SIGCONT undoes that.

Options:
${formatFlags(FLAGS)}

Exit codes: 0 signalled, 1 the node did not answer, 2 an unknown or ended run, a bad signal.
`;

/** Runs `body` with a connected cluster, closing it after. */
async function withCluster<T>(flags: Record<string, unknown>, command: string, body: (cluster: Cluster) => Promise<T>): Promise<T> {
  const { url, options } = clusterOptionsFrom(flags, command);
  const cluster = await connectCluster(url, options);
  try {
    return await body(cluster);
  } finally {
    await cluster.close();
  }
}

export const psCommand: Subcommand = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, FLAGS, "ps");
  if (flags.help) return help(io, PS_HELP);
  if (positionals.length > 0) throw new UsageError(`ps: unexpected argument ${escapeText(JSON.stringify(positionals[0]))} (see agent-os ps --help)`);
  const { processes, unreachable } = await withCluster(flags, "ps", (c) => c.ps());
  if (flags.json) io.stdout(safeJson({ processes, unreachable }, 2) + "\n");
  else {
    io.stdout(["RUN".padEnd(36), "NODE".padEnd(12), "PID".padStart(5), "STATE".padEnd(8), "FUEL".padStart(12), "CALLS".padStart(6), "POLICY".padEnd(12), "AGENT"].join(" ") + "\n");
    for (const p of processes) {
      const row = [p.runId.padEnd(36), (p.node ?? "-").padEnd(12), String(p.pid ?? "-").padStart(5), p.state.padEnd(8), String(p.usage?.fuel ?? "-").padStart(12), String(p.usage?.hostCalls ?? "-").padStart(6), (p.policy?.slice(0, 12) ?? "-").padEnd(12), p.agent];
      io.stdout(escapeText(row.join(" ")) + "\n");
    }
  }
  for (const node of unreachable) io.stderr(`agent-os ps: node ${node} did not answer\n`);
  return unreachable.length > 0 ? EXIT.failure : EXIT.ok;
};

export const signalCommand: Subcommand = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, FLAGS, "signal");
  if (flags.help) return help(io, SIGNAL_HELP);
  if (positionals.length !== 2) throw new UsageError("signal: expected RUN_ID and a signal (see agent-os signal --help)");
  const [runId, name] = positionals;
  const signal = (name.startsWith("SIG") ? name : `SIG${name}`).toUpperCase() as Signal;
  if (!["SIGSTOP", "SIGCONT", "SIGTERM", "SIGKILL"].includes(signal)) throw new UsageError(`signal: ${escapeText(name)}: expected SIGSTOP, SIGCONT, SIGTERM or SIGKILL`);
  const answer = await withCluster(flags, "signal", (c) => c.signal(runId, signal));
  io.stdout(flags.json ? safeJson(answer) + "\n" : `${answer.runId} ${answer.node ? `on ${answer.node}` : "(queued)"}: ${answer.state}\n`);
  return EXIT.ok;
};

const PUSH_FLAGS: Record<string, FlagSpec> = FLAGS;

export const PUSH_USAGE = `  agent-os policy push <file> --nats URL [--json]
      Check a policy (and what it extends) with the loader, and make it the cluster's active
      version: nodes start new runs under it without restarting; runs already going keep theirs.
${formatFlags(PUSH_FLAGS).replace(/^/gm, "    ")}`;

/** `agent-os policy push FILE --nats URL`. */
export async function policyPush(argv: string[], io: CliIo): Promise<number> {
  const { flags, positionals } = parseArgs(argv, PUSH_FLAGS, "policy push");
  if (flags.help) return help(io, `usage:\n${PUSH_USAGE}\n`);
  if (positionals.length !== 1) throw new UsageError("policy push: expected exactly one policy file");
  // (checked before connecting: a policy that does not load is refused without a cluster)
  const { policyVersion } = await import("../cluster/policies.js");
  policyVersion(positionals[0]);
  const ref = await withCluster(flags, "policy push", (c) => c.pushPolicy(positionals[0]));
  io.stdout(flags.json ? safeJson(ref) + "\n" : escapeText(`pushed ${ref.name} ${ref.hash} as revision ${ref.revision}`) + "\n");
  return EXIT.ok;
}

function help(io: CliIo, text: string): number {
  io.stdout(text);
  return EXIT.ok;
}

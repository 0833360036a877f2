/**
 * The cluster's commands: `agent-os node` (a kernel that takes runs from the cluster's queue)
 * and `agent-os submit` (queue a run, optionally wait for its result).
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { UsageError } from "../errors.js";
import { connectCluster } from "../cluster/client.js";
import { ClusterNode } from "../cluster/node.js";
import type { ClusterRunResult } from "../cluster/records.js";
import { parseDuration } from "../policy/units.js";
import { formatFlags, parseArgs, type FlagSpec } from "./args.js";
import { clusterOptionsFrom, NATS_FLAGS } from "./cluster-flags.js";
import { escapeLines, escapeText, safeJson } from "./escape.js";
import { EXIT, type Subcommand } from "./io.js";
import { KERNEL_FLAGS, kernelOptionsFrom } from "./kernel-flags.js";
import { limitsFrom } from "./run-options.js";
import { onProcessSignals } from "./run-supervise.js";

const HELP_FLAG: FlagSpec = { type: "boolean", short: "h", help: "show this help" };

/** A node's kernel flags: run's, but a node's log is durable (anchored) and nobody is there to approve. */
const NOT_ON_NODES = new Set(["no-log", "approvals", "approvals-policy", "approval-timeout"]);
const NODE_KERNEL_FLAGS = Object.fromEntries(Object.entries(KERNEL_FLAGS).filter(([name]) => !NOT_ON_NODES.has(name)));

const NODE_FLAGS: Record<string, FlagSpec> = {
  ...NATS_FLAGS,
  name: { type: "string", value: "NAME", help: "this node's name: letters, digits, - and _ (default: the host's name); one live node per name" },
  capacity: { type: "string", value: "N", help: "runs at once (default: four per core, each agent in a worker thread of its own)" },
  "lost-after": { type: "string", value: "DURATION", help: "a node whose heartbeat is older than this is lost (default 10s)" },
  ...NODE_KERNEL_FLAGS,
  help: HELP_FLAG,
};

export const NODE_HELP = `Usage: agent-os node --nats URL [--name NAME] [kernel options]

Runs a kernel that takes runs from the cluster's work queue, as many at once as it has room
for, and runs each under the cluster's active policy version (agent-os policy push), or the
node's --policy until one is pushed. Its log is its own, hash-chained, anchored into the
cluster every 2 s and at every run's end, signed with the node's key (<log>.node-key.pem).
Ctrl-C or SIGTERM: stops taking runs, kills the runs still going (reported killed) and leaves.

Options:
${formatFlags(NODE_FLAGS)}

Secrets, models, verification and MCP servers ("below" above): as "agent-os run --help" describes.
Components fetched from the cluster are written to <log>.code/ to be loaded (checked by hash).

Example (three nodes on one machine):
  export AGENT_OS_NATS_TOKEN=...
  agent-os node --nats nats://127.0.0.1:4222 --name n1 --log n1/log --policy standard
  agent-os node --nats nats://127.0.0.1:4222 --name n2 --log n2/log --policy standard
  agent-os node --nats nats://127.0.0.1:4222 --name n3 --log n3/log --policy standard
`;

/** `agent-os node`: runs until SIGINT or SIGTERM. */
export const nodeCommand: Subcommand = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, NODE_FLAGS, "node");
  if (flags.help) {
    io.stdout(NODE_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`node: unexpected argument ${escapeText(JSON.stringify(positionals[0]))} (see agent-os node --help)`);
  const { url, options } = clusterOptionsFrom(flags, "node");
  const capacity = flags.capacity === undefined ? undefined : positiveInteger(flags.capacity as string, "capacity");
  // A node runs one short run after another: it keeps workers warm for as many as it takes at
  // once (up to 8), or each run would start a worker of its own.
  const kernel = { ...kernelOptionsFrom(flags, "node"), pool: { warm: Math.min(capacity ?? 4 * availableParallelism(), 8) } };
  const lostAfter = flags["lost-after"] === undefined ? undefined : duration(flags["lost-after"] as string, "lost-after");
  const say = (line: string) => io.stderr(escapeText(`agent-os node: ${line}`) + "\n");
  const node = await ClusterNode.start({
    url,
    connect: options,
    ...(flags.name !== undefined ? { name: flags.name as string } : {}),
    kernel,
    ...(capacity !== undefined ? { capacity } : {}),
    ...(lostAfter !== undefined ? { lostAfterMs: lostAfter } : {}),
    say,
  });
  await new Promise<void>((resolve) => {
    const release = onProcessSignals((signal) => {
      say(`${signal}: leaving the cluster`);
      release();
      resolve();
    });
  });
  await node.close();
  return EXIT.ok;
};

const SUBMIT_FLAGS: Record<string, FlagSpec> = {
  ...NATS_FLAGS,
  task: { type: "string", value: "TEXT", help: "the task given to the agent's run(task) (default: empty)" },
  wait: { type: "boolean", help: "wait for the run to end and print its output (or its result with --json)" },
  json: { type: "boolean", help: "print JSON: { runId } at once, or the result with --wait" },
  retry: { type: "string", value: "never|idempotent", help: "idempotent: run it again elsewhere if its node is lost (default never: it fails, node-lost)" },
  engine: { type: "string", value: "quickjs|component", help: "the engine for a source file (default quickjs; a .wasm file is a component)" },
  fuel: KERNEL_FLAGS.fuel,
  memory: KERNEL_FLAGS.memory,
  timeout: KERNEL_FLAGS.timeout,
  help: HELP_FLAG,
};

export const SUBMIT_HELP = `Usage: agent-os submit <agent.js|agent.ts|agent.wasm> --nats URL [--task TEXT] [--wait] [--json]

Queues a run of the agent in the cluster and prints its run id. The agent's code is stored
once in the cluster under its sha256; the node that runs it fetches it and refuses bytes that
do not match. With --wait, waits for the run to end and prints its output as agent-os run does.

Options:
${formatFlags(SUBMIT_FLAGS)}

Exit codes: 0 queued (with --wait: the agent returned), 1 the agent failed or its node was lost
(reason node-lost), 2 usage or configuration error (a wrong token), 137 the agent was killed.
`;

/** `agent-os submit`. */
export const submitCommand: Subcommand = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, SUBMIT_FLAGS, "submit");
  if (flags.help) {
    io.stdout(SUBMIT_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError("submit: expected exactly one agent file (see agent-os submit --help)");
  const [file] = positionals;
  if (!existsSync(file)) throw new UsageError(`submit: ${file}: no such file`);
  const retry = flags.retry as string | undefined;
  if (retry !== undefined && retry !== "never" && retry !== "idempotent") throw new UsageError(`submit: --retry ${retry}: expected never or idempotent`);
  const engine = flags.engine as string | undefined;
  if (engine !== undefined && engine !== "quickjs" && engine !== "component") throw new UsageError(`submit: --engine ${engine}: expected quickjs or component`);
  const limits = limitsFrom(flags);
  const { url, options } = clusterOptionsFrom(flags, "submit");
  const cluster = await connectCluster(url, options);
  try {
    const { runId } = await cluster.submit(file, (flags.task as string | undefined) ?? "", {
      ...(Object.keys(limits).length > 0 ? { limits } : {}),
      ...(retry ? { retry: retry as "never" | "idempotent" } : {}),
      ...(engine ? { engine: engine as "quickjs" | "component" } : {}),
    });
    if (!flags.wait) {
      io.stdout(flags.json ? safeJson({ runId }) + "\n" : `${runId}\n`);
      return EXIT.ok;
    }
    io.stderr(`agent-os submit: queued ${runId}\n`);
    const result = await cluster.wait(runId);
    return report(result, Boolean(flags.json), io);
  } finally {
    await cluster.close();
  }
};

function report(result: ClusterRunResult, json: boolean, io: Parameters<Subcommand>[1]): number {
  if (json) io.stdout(safeJson(result, 2) + "\n");
  else if (result.status === "ok") io.stdout(escapeLines(result.output ?? "") + (result.output?.endsWith("\n") ? "" : "\n"));
  if (result.status !== "ok" && !json) {
    const how = result.status === "killed" ? `killed by ${result.signal ?? "SIGKILL"} (${result.reason ?? "signal"})` : `${result.status}${result.reason ? ` (${result.reason})` : ""}`;
    io.stderr(escapeText(`agent-os: ${result.agent} (run ${result.runId}${result.node ? ` on ${result.node}` : ""}) ${how}${result.error ? `: ${result.error}` : ""}`) + "\n");
  }
  return result.status === "ok" ? EXIT.ok : result.status === "killed" ? EXIT.killed : EXIT.failure;
}

function positiveInteger(text: string, flag: string): number {
  if (!/^[1-9]\d{0,5}$/.test(text)) throw new UsageError(`node: --${flag} ${text}: expected a whole number from 1`);
  return Number(text);
}

function duration(text: string, flag: string): number {
  const parsed = parseDuration(text);
  if (!parsed.ok) throw new UsageError(`node: --${flag} ${text}: expected ${parsed.expected}`);
  return parsed.value;
}

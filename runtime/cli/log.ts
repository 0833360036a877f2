/**
 * `agent-os log [filters] [--json] [--follow]`: the episodic log as a readable timeline or
 * JSON lines; with `--nats URL`, every cluster node's log merged by time (log-cluster.ts). Exit 0, 1 when the log cannot be read, 2 for a usage error or a missing log.
 * Every line of the timeline is escaped (agent text never reaches the terminal raw); --json
 * prints the stored events exactly.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { UsageError } from "../errors.js";
import { logExists, openLogReader } from "../hosts/node/log/reader.js";
import { EFFECTS, type Effect, type EventQuery, type EventType, type LoggedEvent } from "../types.js";
import { formatFlags, parseArgs, type FlagSpec } from "./args.js";
import { escapeText, safeJson } from "./escape.js";
import { reportFailure } from "./failure.js";
import { EXIT, type CliIo, type Subcommand } from "./io.js";
import { formatEvent } from "../episodic/format.js";
import { NATS_FLAGS } from "./cluster-flags.js";
import { printClusterLog } from "./log-cluster.js";

const TYPES = ["spawn", "call", "result", "signal", "vote", "approval-request", "approval", "checkpoint", "exit"];
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

const FLAGS: Record<string, FlagSpec> = {
  log: { type: "string", value: "DIR", help: "the log directory (default .agent-os/log)" },
  run: { type: "string", value: "ID", help: "only events of this run" },
  agent: { type: "string", value: "NAME", help: "only events of this agent" },
  action: { type: "string", value: "GLOB", help: "only call and result events whose action matches, e.g. 'fs.*'" },
  effect: { type: "string", value: "EFFECT", help: `only call events with this effect (${EFFECTS.join(", ")})` },
  type: { type: "string", value: "TYPE", help: `only events of this type (${TYPES.join(", ")})` },
  since: { type: "string", value: "TIME", help: "only events at or after TIME: an ISO time, or a duration ago like 10m, 2h, 1d" },
  until: { type: "string", value: "TIME", help: "only events at or before TIME (same forms)" },
  limit: { type: "string", value: "N", help: "at most N events (with --follow: the last N, then new ones)" },
  newest: { type: "boolean", help: "newest first" },
  json: { type: "boolean", help: "one JSON object per line (the stored event, as hashed)" },
  follow: { type: "boolean", help: "keep printing new events until interrupted (Ctrl-C)" },
  ...NATS_FLAGS,
  "node-log": { type: "list", value: "NAME=DIR", help: "with --nats: node NAME's log is at DIR (repeatable)" },
  help: { type: "boolean", short: "h", help: "show this help" },
};

export const LOG_HELP = `Usage: agent-os log [options]

Prints the episodic log as a timeline (time, seq, pid, agent, event, action, resource, effect,
rule; verification votes indented just above the call they decided: model, verdict,
confidence, latency, reason) or as JSON lines. What agents wrote (paths, URLs, labels) is
printed with control characters, line breaks and bidi controls escaped (\\n, \\x1b, \\u202e);
--json prints it exactly (as JSON escapes).

With --nats URL, prints the events of every node of that cluster merged by time, each line
(and each JSON object, as "node") with the node's name. A node's log is read by path when its
directory is on this machine, else through the node. --follow, --newest and --log do not go
with --nats; --limit takes the first N of the merged timeline.

Options:
${formatFlags(FLAGS)}

Exit codes: 0 printed (also when the reader of the output went away, as with | head), 1 the
log cannot be read (with --nats: a node's log could not be read; the others are printed),
2 usage error or no log.
`;

/** Options for {@link runLog}. Defaults: no signal (stops only at the end, or never with --follow); `pollMs` 500. */
export interface LogRunOptions {
  /** Ends --follow. */
  signal?: AbortSignal;
  pollMs?: number;
  /** The current time, for relative --since/--until (default Date.now). */
  now?: () => number;
}

/**
 * Parses a time for --since/--until: an ISO date-time, or a duration ago ("10m", "90s", "1d").
 *
 * @example parseTime("10m", () => 600_000) === 0
 * @throws Error naming the accepted forms.
 */
export function parseTime(text: string, now: () => number = Date.now): number {
  const rel = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (rel) return now() - Number(rel[1]) * UNITS[rel[2]];
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new Error(`not a time: ${JSON.stringify(text)} (use an ISO time or a duration like 10m, 2h, 1d)`);
  return t;
}

interface Parsed {
  dir: string;
  /** The flags, when --nats asks for the cluster's merged timeline. */
  cluster?: Record<string, unknown>;
  query: EventQuery;
  json: boolean;
  follow: boolean;
}

function parse(argv: string[], now: () => number): Parsed | "help" {
  const { flags, positionals } = parseArgs(argv, FLAGS, "log");
  if (flags.help) return "help";
  const values = flags as Record<string, string | undefined>;
  if (positionals.length > 0) throw new UsageError(`log: unexpected argument ${escapeText(JSON.stringify(positionals[0]))} (see agent-os log --help)`);
  if (values.effect !== undefined && !(EFFECTS as readonly string[]).includes(values.effect)) {
    throw new UsageError(`log: unknown effect ${JSON.stringify(values.effect)}; expected one of ${EFFECTS.join(", ")}`);
  }
  if (values.type !== undefined && !TYPES.includes(values.type)) {
    throw new UsageError(`log: unknown event type ${JSON.stringify(values.type)}; expected one of ${TYPES.join(", ")}`);
  }
  const limit = values.limit === undefined ? undefined : /^\d+$/.test(values.limit) ? Number(values.limit) : NaN;
  if (limit !== undefined && !Number.isSafeInteger(limit)) throw new UsageError(`log: --limit needs a whole number, not ${JSON.stringify(values.limit)}`);
  if (flags.follow && flags.newest) throw new UsageError("log: --follow prints oldest first; it cannot be combined with --newest");
  const time = (flag: "since" | "until") => {
    const text = values[flag];
    if (text === undefined) return undefined;
    try {
      return parseTime(text, now);
    } catch (error) {
      throw new UsageError(`log: --${flag}: ${(error as Error).message}`);
    }
  };
  const query: EventQuery = {
    runId: values.run,
    agent: values.agent,
    action: values.action,
    effect: values.effect as Effect | undefined,
    type: values.type as EventType | undefined,
    since: time("since"),
    until: time("until"),
    limit,
    order: flags.newest ? "newest" : "oldest",
  };
  const cluster = clusterFlags(flags);
  return { dir: values.log ?? ".agent-os/log", query, json: Boolean(flags.json), follow: Boolean(flags.follow), ...(cluster ? { cluster } : {}) };
}

/** The flags when --nats is given (checking what does not go with it); undefined otherwise. */
function clusterFlags(flags: Record<string, unknown>): Record<string, unknown> | undefined {
  if (flags.nats === undefined) {
    const stray = ["node-log", ...Object.keys(NATS_FLAGS)].find((name) => flags[name] !== undefined);
    if (stray !== undefined) throw new UsageError(`log: --${stray} goes with --nats (see agent-os log --help)`);
    return undefined;
  }
  const clash = ["log", "follow", "newest"].find((name) => flags[name] !== undefined);
  if (clash !== undefined) throw new UsageError(`log: --${clash} does not go with --nats (the cluster's timeline is read once, oldest first)`);
  return flags;
}

/**
 * The `log` subcommand with its stopping signal and polling interval made explicit (for tests
 * and embedding); {@link logCommand} stops --follow on SIGINT.
 *
 * @example await runLog(["--effect", "deny", "--follow"], processIo, { signal: AbortSignal.timeout(5000) })
 */
export async function runLog(argv: string[], io: CliIo, options: LogRunOptions = {}): Promise<number> {
  try {
    const parsed = parse(argv, options.now ?? Date.now);
    if (parsed === "help") {
      io.stdout(LOG_HELP);
      return EXIT.ok;
    }
    if (parsed.cluster) return await printClusterLog(parsed.cluster, parsed.query, parsed.json, io, options.signal);
    if (!(await logExists(parsed.dir))) throw new UsageError(`log: there is no log at ${parsed.dir}`);
    const stop = AbortSignal.any([options.signal, io.outputClosed].filter((s): s is AbortSignal => s !== undefined));
    const print = (e: LoggedEvent) => {
      if (!stop.aborted) io.stdout((parsed.json ? safeJson(e) : escapeText(formatEvent(e))) + "\n");
    };
    let last = await printOnce(parsed, print, stop);
    while (parsed.follow && !stop.aborted) {
      await sleep(options.pollMs ?? 500, undefined, { signal: stop }).catch(() => undefined);
      if (stop.aborted) break;
      last = await printOnce({ ...parsed, query: { ...parsed.query, fromSeq: last + 1, limit: undefined, order: "oldest" } }, print, stop);
    }
    return EXIT.ok;
  } catch (error) {
    return reportFailure(error, io, "agent-os");
  }
}

/** Prints the matching events once (until `stop`); returns the log's head sequence number at that moment. */
async function printOnce(p: Parsed, print: (e: LoggedEvent) => void, stop: AbortSignal): Promise<number> {
  const log = await openLogReader(p.dir);
  try {
    if (p.follow && p.query.limit !== undefined) {
      // --follow --limit N: the last N, oldest first, like tail -f.
      const lastN: LoggedEvent[] = [];
      for await (const e of log.query({ ...p.query, order: "newest" })) lastN.push(e);
      lastN.reverse().forEach(print);
    } else {
      for await (const e of log.query(p.query)) {
        if (stop.aborted) break; // the reader went away (| head): stop reading too
        print(e);
      }
    }
    return log.head().seq;
  } finally {
    await log.close();
  }
}

/**
 * The `log` subcommand; --follow runs until SIGINT.
 *
 * @example await logCommand(["--run", "r1", "--json"], processIo)
 */
export const logCommand: Subcommand = async (argv: string[], io: CliIo): Promise<number> => {
  const stop = new AbortController();
  const onInt = () => stop.abort();
  process.once("SIGINT", onInt);
  try {
    return await runLog(argv, io, { signal: stop.signal });
  } finally {
    process.off("SIGINT", onInt);
  }
};

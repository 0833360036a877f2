/**
 * `agent-os log [filters] [--json] [--follow]`: the episodic log as a readable timeline or
 * JSON lines. Exit 0, or 2 for a usage error or a missing log.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { LogError } from "../errors.js";
import { openLogReader } from "../episodic/reader.js";
import { EFFECTS, type Effect, type EventQuery, type EventType, type LoggedEvent } from "../types.js";
import { EXIT, type CliIo, type Subcommand } from "./io.js";
import { formatEvent } from "../episodic/format.js";

export const LOG_HELP = `Usage: agent-os log [options]

Prints the episodic log as a timeline (time, seq, pid, agent, event, action, resource, effect,
rule; verification votes indented just above the call they decided: model, verdict,
confidence, latency, reason) or as JSON lines.

Options:
  --log DIR        the log directory (default .agent-os/log)
  --run ID         only events of this run
  --agent NAME     only events of this agent
  --action GLOB    only call and result events whose action matches, e.g. 'fs.*'
  --effect EFFECT  only call events with this effect (${EFFECTS.join(", ")})
  --type TYPE      only events of this type (spawn, call, result, signal, vote, checkpoint, exit)
  --since TIME     only events at or after TIME: an ISO time, or a duration ago like 10m, 2h, 1d
  --until TIME     only events at or before TIME (same forms)
  --limit N        at most N events (with --follow: the last N, then new ones)
  --newest         newest first
  --json           one JSON object per line (the stored event, as hashed)
  --follow         keep printing new events until interrupted (Ctrl-C)
  -h, --help       show this help
`;

const TYPES = ["spawn", "call", "result", "signal", "vote", "checkpoint", "exit"];
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

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
  query: EventQuery;
  json: boolean;
  follow: boolean;
}

function parse(argv: string[], now: () => number): Parsed | "help" {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      log: { type: "string" },
      run: { type: "string" },
      agent: { type: "string" },
      action: { type: "string" },
      effect: { type: "string" },
      type: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
      limit: { type: "string" },
      newest: { type: "boolean" },
      json: { type: "boolean" },
      follow: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  if (values.effect !== undefined && !(EFFECTS as readonly string[]).includes(values.effect)) {
    throw new Error(`unknown effect ${JSON.stringify(values.effect)}; expected one of ${EFFECTS.join(", ")}`);
  }
  if (values.type !== undefined && !TYPES.includes(values.type)) {
    throw new Error(`unknown event type ${JSON.stringify(values.type)}; expected one of ${TYPES.join(", ")}`);
  }
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) throw new Error(`--limit needs a whole number, not ${JSON.stringify(values.limit)}`);
  if (values.follow && values.newest) throw new Error("--follow prints oldest first; it cannot be combined with --newest");
  const query: EventQuery = {
    runId: values.run,
    agent: values.agent,
    action: values.action,
    effect: values.effect as Effect | undefined,
    type: values.type as EventType | undefined,
    since: values.since === undefined ? undefined : parseTime(values.since, now),
    until: values.until === undefined ? undefined : parseTime(values.until, now),
    limit,
    order: values.newest ? "newest" : "oldest",
  };
  return { dir: values.log ?? ".agent-os/log", query, json: Boolean(values.json), follow: Boolean(values.follow) };
}

/**
 * The `log` subcommand with its stopping signal and polling interval made explicit (for tests
 * and embedding); {@link logCommand} stops --follow on SIGINT.
 *
 * @example await runLog(["--effect", "deny", "--follow"], processIo, { signal: AbortSignal.timeout(5000) })
 */
export async function runLog(argv: string[], io: CliIo, options: LogRunOptions = {}): Promise<number> {
  let parsed: Parsed | "help";
  try {
    parsed = parse(argv, options.now ?? Date.now);
  } catch (err) {
    io.stderr(`agent-os log: ${(err as Error).message}\n\n${LOG_HELP}`);
    return EXIT.usage;
  }
  if (parsed === "help") {
    io.stdout(LOG_HELP);
    return EXIT.ok;
  }
  const print = (e: LoggedEvent) => io.stdout((parsed.json ? JSON.stringify(e) : formatEvent(e)) + "\n");
  try {
    let last = await printOnce(parsed, print);
    while (parsed.follow && !options.signal?.aborted) {
      await sleep(options.pollMs ?? 500, undefined, { signal: options.signal }).catch(() => undefined);
      if (options.signal?.aborted) break;
      last = await printOnce({ ...parsed, query: { ...parsed.query, fromSeq: last + 1, limit: undefined, order: "oldest" } }, print);
    }
    return EXIT.ok;
  } catch (err) {
    io.stderr(`agent-os log: ${(err as Error).message}\n`);
    return err instanceof LogError && /there is no log/.test(err.message) ? EXIT.usage : EXIT.failure;
  }
}

/** Prints the matching events once; returns the log's head sequence number at that moment. */
async function printOnce(p: Parsed, print: (e: LoggedEvent) => void): Promise<number> {
  const log = await openLogReader(p.dir);
  try {
    if (p.follow && p.query.limit !== undefined) {
      // --follow --limit N: the last N, oldest first, like tail -f.
      const lastN: LoggedEvent[] = [];
      for await (const e of log.query({ ...p.query, order: "newest" })) lastN.push(e);
      lastN.reverse().forEach(print);
    } else {
      for await (const e of log.query(p.query)) print(e);
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

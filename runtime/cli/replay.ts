/**
 * `agent-os replay <runId> [--checkpoint SEQ|LABEL|TIME] [--agent FILE] [--log DIR] [--json]`:
 * re-runs a recorded run with every host call answered from the log, and prints `identical` or
 * the first divergence. `--policy FILE` instead decides every recorded call again under another
 * policy (the agent does not run) and prints the decisions that would change.
 *
 * Exit codes: 0 identical (or stopped at the checkpoint without a divergence; counterfactual: no
 * decision changes), 1 diverged (counterfactual: some decisions change), 2 usage or configuration
 * errors (unknown run, changed agent code, no log, a policy that does not load).
 */
import { existsSync } from "node:fs";
import { createSql } from "../hosts/node/sql/sql.js";
import { redecideRun, type CounterfactualReport } from "../episodic/counterfactual.js";
import { encodeValue } from "../episodic/encoding.js";
import { logExists, openLogReader } from "../hosts/node/log/reader.js";
import type { CallSummary, EndSummary, ReplayResult } from "../episodic/replay.js";
import { UsageError } from "../errors.js";
import { KernelSpace } from "../kernel/kernel.js";
import { DEFAULT_LIMITS, type SqlFacts } from "../types.js";
import { formatFlags, parseArgs, type FlagSpec } from "./args.js";
import { escapeText, safeJson } from "./escape.js";
import { EXIT, type Subcommand } from "./io.js";
import { databasesFrom } from "./run-options.js";

const FLAGS: Record<string, FlagSpec> = {
  checkpoint: { type: "string", value: "SEQ|LABEL|TIME", help: "stop there: an event sequence number, a checkpoint label, or an ISO time" },
  agent: { type: "string", value: "FILE", help: "the agent module (default: its code as the log stored it); refused if its content hash differs" },
  policy: { type: "string", value: "NAME|FILE", help: "counterfactual: decide every recorded call again under this policy (the agent does not run)" },
  db: { type: "list", value: "NAME=FILE", help: "a database the run used, opened read-only to analyze its statements (repeatable)" },
  log: { type: "string", value: "DIR", help: "episodic log directory (default: .agent-os/log)" },
  json: { type: "boolean", help: "print the report as JSON" },
  help: { type: "boolean", short: "h", help: "show this help" },
};

export const REPLAY_HELP = `Usage: agent-os replay <runId> [options]
       agent-os replay --checkpoint <ISO time> [options]
       agent-os replay <runId> --policy <NAME|FILE> [options]

Replays a recorded run: the same agent code (refused if its content hash differs from the one
recorded at spawn) runs in a fresh isolate with the recorded task and limits, and every host
call it makes is compared with the recorded one and answered from the log: the recorded value
or error, the recorded denial, the recorded clock readings and random bytes. Nothing is carried
out. Prints "identical", or the first divergence (the event, the recorded call, the agent's call).

With --checkpoint the replay stops there and prints the calls replayed so far and the call the
agent was about to make. A time alone (without a run id) finds the run that was going on then.

With --policy nothing runs: every call the run made is decided again under that policy, and the
calls whose effect would change are printed (sequence number, action, resource, recorded
effect and rule -> new effect and rule).

Options:
${formatFlags(FLAGS)}

Databases (--db) are only read, to learn what a statement does. Calls record the SQL facts
their policy decided on, so the counterfactual needs --db only for logs written before they did;
replay uses it to analyze a statement the agent sends where the log recorded another.

What the agent wrote (paths, URLs, labels, its output) is printed with control characters,
line breaks and bidi controls escaped (\\n, \\x1b, \\u202e); --json prints it exactly.

Exit codes: 0 identical (or stopped at the checkpoint; with --policy: no decision changes),
1 diverged (with --policy: some decisions change), 2 usage or configuration error (no log, an
unknown run, changed agent code, a policy that does not load).
`;

/**
 * The `replay` subcommand.
 *
 * @example await replayCommand(["0b6c...", "--log", ".agent-os/log"], processIo) // 0 when identical
 */
export const replayCommand: Subcommand = async (argv, io) => replay(argv, io);

const replay: Subcommand = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, FLAGS, "replay");
  if (flags.help) {
    io.stdout(REPLAY_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 1) throw new UsageError("replay: expected one run id (see agent-os replay --help)");
  const runId = positionals[0];
  const checkpoint = flags.checkpoint as string | undefined;
  const policy = flags.policy as string | undefined;
  if (runId === undefined && checkpoint === undefined) throw new UsageError("replay: give a run id, or --checkpoint with an ISO time (see agent-os replay --help)");
  if (policy !== undefined && (checkpoint !== undefined || flags.agent !== undefined)) {
    throw new UsageError("replay: --policy re-decides the recorded calls without running the agent; it takes neither --checkpoint nor --agent");
  }
  if (policy !== undefined && runId === undefined) throw new UsageError("replay: --policy needs a run id");
  const agentFile = flags.agent as string | undefined;
  if (agentFile !== undefined && !existsSync(agentFile)) throw new UsageError(`replay: --agent ${agentFile}: no such file`);
  const databases = readOnlyDatabases(flags.db as string[] | undefined, "replay");

  const dir = (flags.log as string | undefined) ?? ".agent-os/log";
  if (!(await logExists(dir))) throw new UsageError(`replay: there is no log at ${dir}`);
  const log = await openLogReader(dir);
  try {
    if (policy !== undefined) {
      const analyzer = sqlAnalyzer(databases);
      try {
        const report = await redecideRun(log, runId!, policy, analyzer ? { analyzeSql: analyzer.analyze } : {});
        io.stdout(flags.json ? safeJson(report, 2) + "\n" : formatCounterfactual(report));
        return report.changes.length > 0 ? EXIT.failure : EXIT.ok;
      } finally {
        analyzer?.close();
      }
    }
    const kernel = new KernelSpace({ log: false, databases, pool: { warm: 1 } });
    let report: ReplayResult;
    try {
      const agent = agentFile === undefined ? undefined : await kernel.load(agentFile);
      report = await kernel.replay({ ...(runId !== undefined ? { runId } : {}), ...(checkpoint !== undefined ? { checkpoint } : {}), ...(agent ? { agent } : {}), log });
    } finally {
      await kernel.close();
    }
    io.stdout(flags.json ? safeJson(report, 2) + "\n" : formatReplay(report));
    return report.status === "diverged" ? EXIT.failure : EXIT.ok;
  } finally {
    await log.close();
  }
};

/**
 * `--db NAME=FILE` flags as read-only databases (the file must exist), parsed as `run` parses
 * them: a name given twice or one like `__proto__` is refused.
 *
 * @example readOnlyDatabases(["main=./app.db"], "replay") // { main: { file: "/abs/app.db", readOnly: true } }
 * @throws UsageError naming a malformed flag or a missing file.
 */
export function readOnlyDatabases(flags: string[] | undefined, command: string): Record<string, { file: string; readOnly: true }> {
  const out: Record<string, { file: string; readOnly: true }> = Object.create(null) as Record<string, { file: string; readOnly: true }>;
  for (const [name, db] of Object.entries(databasesFrom(flags, command))) {
    if (!existsSync(db.file)) throw new UsageError(`${command}: --db ${name}: ${db.file} does not exist`);
    out[name] = { file: db.file, readOnly: true };
  }
  return out;
}

/**
 * A SQL analyzer over read-only databases (nothing is executed); undefined without databases.
 * Close it when done.
 *
 * @example const analyzer = sqlAnalyzer({ main: { file: "/abs/app.db", readOnly: true } }); analyzer?.analyze("main", "SELECT 1")
 */
export function sqlAnalyzer(databases: Record<string, { file: string; readOnly: boolean }>): { analyze: (db: string, statement: string) => SqlFacts; close(): void } | undefined {
  if (Object.keys(databases).length === 0) return undefined;
  const sql = createSql({ databases, quota: { limits: { ...DEFAULT_LIMITS }, fsBytesWritten: 0, fsFilesCreated: 0 } });
  return { analyze: sql.analyze, close: sql.close };
}

const show = (v: unknown): string => JSON.stringify(encodeValue(v));

function formatCall(c: CallSummary | EndSummary | null): string {
  if (c === null) return "(nothing)";
  if ("op" in c) return `${c.op}${c.method ? ` ${c.method}` : ""} ${c.resource || '""'}  args ${show(c.args)}`;
  return `run ended ${c.status}${c.reason ? ` (${c.reason})` : ""}${c.output !== undefined ? `, output ${JSON.stringify(c.output)}` : ""}`;
}

/**
 * The text report of a replay.
 *
 * @example formatReplay(report) // "identical: run 0b6c... (agent hello), 1 call replayed, ended ok\n..."
 */
export function formatReplay(r: ReplayResult): string {
  const lines: string[] = [];
  const n = `${r.events.length} call${r.events.length === 1 ? "" : "s"} replayed`;
  if (r.status === "identical") lines.push(`identical: run ${r.runId} (agent ${r.agent}), ${n}, ended ${r.replayed?.status ?? "?"}`);
  else if (r.status === "stopped") {
    const cp = r.checkpoint!;
    const at = cp.by === "label" ? `checkpoint ${JSON.stringify(cp.label)} (event #${cp.seq})` : cp.by === "time" ? `${new Date(cp.time!).toISOString()} (event #${cp.seq})` : `event #${cp.seq}`;
    lines.push(`stopped at ${at}: run ${r.runId} (agent ${r.agent}), ${n}`);
  } else lines.push(`DIVERGED at event #${r.divergence!.seq}: run ${r.runId} (agent ${r.agent}), ${n} identically before it`);
  for (const e of r.events) {
    lines.push(`  #${e.seq}  ${e.action} ${e.resource}  ${e.effect}${e.rule ? ` (${e.rule})` : ""}  -> ${e.outcome}`);
  }
  if (r.divergence) {
    lines.push(`${r.divergence.reason}:`, `  expected (recorded): ${formatCall(r.divergence.expected)}`, `  actual (replayed):   ${formatCall(r.divergence.actual)}`);
  }
  if (r.pending) {
    lines.push(`pending: #${r.pending.seq}  ${formatCall(r.pending.expected)}`);
    if (!r.pending.matches) lines.push(`  but the replayed agent asked for: ${formatCall(r.pending.actual)}`);
  }
  if (r.output !== undefined) lines.push(`output: ${r.output}`);
  // Each entry is one line; whatever the agent put in it (a newline, an ESC) is escaped.
  return lines.map(escapeText).join("\n") + "\n";
}

/**
 * The text report of a counterfactual replay.
 *
 * @example formatCounterfactual(report) // "run 0b6c... under strict: 2 of 9 decisions would change\n  #4 ..."
 */
export function formatCounterfactual(r: CounterfactualReport): string {
  const lines = [
    `run ${r.runId} (agent ${r.agent}), recorded under ${r.recordedPolicy.name || "?"}, decided again under ${r.policy.name}: ` +
      `${r.changes.length} of ${r.calls} decision${r.calls === 1 ? "" : "s"} would change`,
  ];
  const rule = (x: string | null) => x ?? "(default)";
  for (const c of r.changes) {
    lines.push(
      `  #${c.seq}  ${c.action}${c.method ? ` ${c.method}` : ""} ${c.resource}  ${c.before.effect} by ${rule(c.before.rule)} -> ${c.after.effect} by ${rule(c.after.rule)}` +
        (c.withoutSqlFacts ? "  (recorded without SQL facts: give --db)" : ""),
    );
  }
  const blind = r.withoutSqlFacts.length;
  if (blind > 0) lines.push(`${blind} SQL decision${blind === 1 ? " was" : "s were"} made without the statement's facts (recorded before the kernel kept them), changed or not: give --db to decide ${blind === 1 ? "it" : "them"} on the statement`);
  return lines.map(escapeText).join("\n") + "\n";
}

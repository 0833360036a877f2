/**
 * `agent-os policy diff OLD NEW --log DIR [--since 7d] [--run ID ...] [--json]`: backtests a
 * policy change on the log. Every recorded call of the selected runs is decided under OLD and
 * under NEW; the calls whose effect changes are printed, grouped by the rule of NEW that decides
 * them. Exit 0 when nothing changes, 1 when something does, 2 for usage or configuration errors
 * (bad flags, no log, an unknown run, a policy that does not load). Meant for CI.
 */
import { logExists, openLogReader } from "../hosts/node/log/reader.js";
import { PolicyError, UsageError } from "../errors.js";
import { resolvePolicy } from "../hosts/node/policy/resolve.js";
import { backtestPolicy, type BacktestChange, type BacktestReport } from "../policy/backtest.js";
import { formatFlags, parseArgs, type FlagSpec } from "./args.js";
import { escapeLines, escapeText, safeJson } from "./escape.js";
import { EXIT, type CliIo } from "./io.js";
import { parseTime } from "./log.js";
import { readOnlyDatabases, sqlAnalyzer } from "./replay.js";

export const DIFF_FLAGS: Record<string, FlagSpec> = {
  log: { type: "string", value: "DIR", help: "the log directory (default .agent-os/log); read while a kernel may hold it" },
  since: { type: "string", value: "TIME", help: "only runs spawned at or after TIME: a duration ago like 30m, 12h, 7d, or an ISO time" },
  run: { type: "list", value: "ID", help: "only this run (repeatable)" },
  agent: { type: "string", value: "NAME", help: "only runs of this agent" },
  db: { type: "list", value: "NAME=FILE", help: "analyze statements recorded without SQL facts against this database, read-only (repeatable)" },
  json: { type: "boolean", help: "print the report as JSON" },
  help: { type: "boolean", short: "h", help: "show this help" },
};

/** The lines of `agent-os policy --help` about diff. */
export const DIFF_USAGE = `  agent-os policy diff <old> <new> [options]
      Backtest a policy change: decide every recorded call of the selected runs under <old>
      and under <new>, print the calls whose effect changes, grouped by the rule of <new>
      that decides them; exit 1 if any changes (for CI), 0 if none.
${formatFlags(DIFF_FLAGS).replace(/^/gm, "    ")}
`;

const DIFF_HELP = `Usage: agent-os policy diff <old> <new> [--log DIR] [--since 7d] [--run ID ...] [--json]

Backtests a policy change on the episodic log: every recorded call of the selected runs (all
runs by default) is decided under <old> and under <new> (each a file or a built-in name), in
order and at its recorded time (rate limits count within each run), through counterfactual
replay: no agent runs and nothing is carried out. The calls whose effect changes are printed
(run, agent, sequence number, action, resource, old effect and rule -> new effect), grouped by
the rule of <new> that decides them ("(default)" when its default does).

Options:
${formatFlags(DIFF_FLAGS)}

Exit codes: 0 no call changes effect, 1 some do, 2 usage or configuration error (bad flags,
no log, an unknown run, a policy that does not load: its problems with file:line:column).
`;

/**
 * The `policy diff` subcommand: `argv` is what follows "diff".
 *
 * @example await policyDiff(["prod.yaml", "next.yaml", "--log", ".agent-os/log", "--since", "7d"], io) // 1 when some call changes
 */
export async function policyDiff(argv: string[], io: CliIo, now: () => number = Date.now): Promise<number> {
  const { flags, positionals } = parseArgs(argv, DIFF_FLAGS, "policy diff");
  if (flags.help) {
    io.stdout(DIFF_HELP);
    return EXIT.ok;
  }
  const values = flags as { log?: string; since?: string; run?: string[]; agent?: string; db?: string[]; json?: boolean };
  if (positionals.length !== 2) throw new UsageError(`policy diff: give two policies, the old and the new (see agent-os policy diff --help)`);
  const [oldSpec, newSpec] = positionals;
  let since: number | undefined;
  if (values.since !== undefined) {
    try {
      since = parseTime(values.since, now);
    } catch (error) {
      throw new UsageError(`policy diff: --since: ${(error as Error).message}`);
    }
  }
  // Each policy is checked before the log is opened, and its problems are named with it.
  for (const spec of [oldSpec, newSpec]) if (!loads(spec, io)) return EXIT.usage;
  const databases = readOnlyDatabases(values.db, "policy diff");
  const dir = values.log ?? ".agent-os/log";
  if (!(await logExists(dir))) throw new UsageError(`policy diff: there is no log at ${dir}`);
  const analyzer = sqlAnalyzer(databases);
  let report: BacktestReport;
  try {
    const log = await openLogReader(dir);
    try {
      report = await backtestPolicy(log, {
        policy: newSpec,
        baseline: oldSpec,
        ...(values.run ? { runIds: values.run } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(values.agent !== undefined ? { agent: values.agent } : {}),
        ...(analyzer ? { analyzeSql: analyzer.analyze } : {}),
      });
    } finally {
      await log.close();
    }
  } finally {
    analyzer?.close();
  }
  io.stdout(values.json ? safeJson(report, 2) + "\n" : formatDiff(report, oldSpec, newSpec));
  return report.changed.length > 0 ? EXIT.failure : EXIT.ok;
}

function loads(spec: string, io: CliIo): boolean {
  try {
    resolvePolicy(spec);
    return true;
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    const n = e.problems.length;
    const problems = e.message.split("\n").map((l) => `  ${l}`).join("\n");
    io.stderr(escapeLines(`agent-os policy diff: ${spec}: the policy does not load (${n} problem${n === 1 ? "" : "s"}):\n${problems}`) + "\n");
    return false;
  }
}

/**
 * The text report: a summary line, then one block per rule of the new policy.
 *
 * @example formatDiff(report, "prod.yaml", "next.yaml")
 *          // "prod.yaml -> next.yaml: 2 of 40 calls in 3 runs change effect\n\nrule no-api (deny): 2 calls\n  run 0b6c… agent fetcher #12  http.fetch GET http://… allow by api -> deny\n"
 */
export function formatDiff(r: BacktestReport, oldSpec: string, newSpec: string): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const head = `${oldSpec} (${r.baseline?.name ?? "?"}) -> ${newSpec} (${r.policy.name}): `;
  const lines = [
    head + (r.changed.length === 0 ? `no call changes effect (${plural(r.calls, "call")} in ${plural(r.runs, "run")})` : `${r.changed.length} of ${plural(r.calls, "call")} in ${plural(r.runs, "run")} change effect`),
  ];
  for (const group of r.byRule) {
    lines.push("", `${group.rule === null ? "(default)" : `rule ${group.rule}`} (${group.effect}): ${plural(group.calls.length, "call")}`);
    for (const c of group.calls) lines.push(`  ${formatChange(c)}`);
  }
  const blind = r.withoutSqlFacts.length;
  if (blind > 0) {
    lines.push("", `${plural(blind, "SQL decision")} made without the statement's facts (recorded before the kernel kept them), changed or not: give --db to decide them on the statement`);
  }
  // Each entry is one line; whatever an agent put in a resource is escaped.
  return lines.map(escapeText).join("\n") + "\n";
}

function formatChange(c: BacktestChange): string {
  const rule = (x: string | null) => x ?? "(default)";
  return (
    `run ${c.runId} agent ${c.agent} #${c.seq}  ${c.action}${c.method ? ` ${c.method}` : ""} ${c.resource}  ` +
    `${c.before.effect} by ${rule(c.before.rule)} -> ${c.after.effect}` +
    (c.withoutSqlFacts ? "  (recorded without SQL facts: give --db)" : "")
  );
}

/**
 * `agent-os policy check|explain|test`: tools for operators writing policies.
 *
 *   agent-os policy check <policy>...
 *   agent-os policy explain <policy> --action fs.write --resource /prod/x [--method GET] [--sql "..."]
 *   agent-os policy explain <policy> --action tool.call --resource github/create_issue --args '{"repo":"x/y"}' [--hash sha256:...]
 *   agent-os policy test <policy> <cases.yaml>
 *   agent-os policy suggest <runId>... [--log DIR] [-o FILE] [--db NAME=FILE]
 *   agent-os policy diff <old> <new> [--log DIR] [--since 7d] [--run ID]... [--json]   (policy-diff.ts)
 *
 * A <policy> is a file or a built-in name. Exit codes: 0 ok, 1 a test case failed,
 * 2 a policy or cases file that does not load, or bad arguments.
 */
import { writeFileSync } from "node:fs";
import { PolicyError, UsageError } from "../errors.js";
import { formatExplanation, readCases, resolvePolicy, runCases, type CaseResult, type LoadedPolicy } from "../policy/index.js";
import { explainRequest } from "../policy/editor.js";
import type { JsonValue } from "../episodic/encoding.js";
import { observeRuns } from "../episodic/observed.js";
import { openLogReader } from "../hosts/node/log/reader.js";
import { suggestPolicy } from "../policy/least-privilege.js";
import { formatFlags, parseArgs, type FlagSpec } from "./args.js";
import { escapeLines, escapeQuoted, escapeText, safeJson } from "./escape.js";
import { reportFailure } from "./failure.js";
import { EXIT, type CliIo, type Subcommand } from "./io.js";
import { readOnlyDatabases, sqlAnalyzer } from "./replay.js";
import { DIFF_USAGE, policyDiff } from "./policy-diff.js";
import { policyPush, PUSH_USAGE } from "./cluster-ps.js";

const HELP_FLAG: FlagSpec = { type: "boolean", short: "h", help: "show this help" };

const EXPLAIN_FLAGS: Record<string, FlagSpec> = {
  action: { type: "string", value: "ACTION", help: "the action to decide, e.g. fs.write (required)" },
  resource: { type: "string", value: "RESOURCE", help: "the path, URL or database name" },
  method: { type: "string", value: "METHOD", help: "the HTTP method, for http.fetch" },
  sql: { type: "string", value: "STATEMENT", help: "the SQL statement, for sql.query" },
  operations: { type: "string", value: "OPS", help: "the statement's operations, comma-separated (instead of guessing them)" },
  tables: { type: "string", value: "TABLES", help: "the tables it reads, comma-separated" },
  agent: { type: "string", value: "NAME", help: "the agent's name" },
  args: { type: "string", value: "JSON", help: "the tool's arguments as JSON, for tool.call (args rules)" },
  hash: { type: "string", value: "SHA256", help: "the tool's current hash, for tool.call (pin rules)" },
  json: { type: "boolean", help: "print the explanation as JSON" },
  help: HELP_FLAG,
};

const SUGGEST_FLAGS: Record<string, FlagSpec> = {
  log: { type: "string", value: "DIR", help: "the log directory (default .agent-os/log)" },
  output: { type: "string", short: "o", value: "FILE", help: "write the policy there instead of printing it" },
  db: { type: "list", value: "NAME=FILE", help: "analyze statements recorded without SQL facts against this database, read-only (repeatable)" },
  name: { type: "string", value: "NAME", help: "the policy's name (default suggested-<agents>)" },
  collapse: { type: "string", value: "N", help: "more than N files in one directory become dir/* (default 3)" },
  "any-policy": { type: "boolean", help: "use runs recorded under policies other than audit too" },
  help: HELP_FLAG,
};

const PLAIN_FLAGS: Record<string, FlagSpec> = { help: HELP_FLAG };

const USAGE = `usage:
  agent-os policy check <policy>...
      Load each policy (a file or a built-in name), print every problem; exit 2 on any.
  agent-os policy explain <policy> --action <action> --resource <resource> [options]
      Decide one request and show the deciding rule and every rule that matched.
${formatFlags(EXPLAIN_FLAGS).replace(/^/gm, "    ")}
  agent-os policy test <policy> <cases.yaml>
      Run a table of requests with expected effects; exit 1 if any case fails.
  agent-os policy suggest <runId>... [options]
      Write the least-privilege policy that allows exactly the calls the runs made (recorded
      under the audit profile; --any-policy takes runs recorded under others too), for review.
      More than N files (default 3) in one directory become dir/*; URL hosts stay exact; SQL
      rules by database, operations and tables, from the facts recorded with each call (--db
      main=app.db analyzes statements recorded without them).
${formatFlags(SUGGEST_FLAGS).replace(/^/gm, "    ")}
${DIFF_USAGE}
${PUSH_USAGE}
built-in policies: strict, standard, readonly, permissive, audit (and base, for extends)
exit codes: 0 ok, 1 a test case failed, or diff found calls that change (or the command could
not do its work), 2 a policy or cases file that does not load, or bad arguments
`;

/** Entry point: `argv` is what follows the word "policy". */
export const policyCommand: Subcommand = async (argv, io) => {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    io.stdout(USAGE);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  try {
    if (sub === "check") return check(rest, io);
    if (sub === "explain") return explain(rest, io);
    if (sub === "test") return test(rest, io);
    if (sub === "suggest") return await suggest(rest, io);
    if (sub === "diff") return await policyDiff(rest, io);
    if (sub === "push") return await policyPush(rest, io);
    io.stderr(`agent-os policy: unknown subcommand ${escapeText(JSON.stringify(sub))}\n${USAGE}`);
    return EXIT.usage;
  } catch (e) {
    return reportFailure(e, io, `agent-os policy ${sub}`);
  }
};

/** Parses a subcommand's flags; --help prints the usage. */
function flagsOf(argv: string[], spec: Record<string, FlagSpec>, sub: string, io: CliIo): ReturnType<typeof parseArgs> | undefined {
  const parsed = parseArgs(argv, spec, `policy ${sub}`);
  if (!parsed.flags.help) return parsed;
  io.stdout(USAGE);
  return undefined;
}

function loadOrReport(spec: string, io: CliIo): LoadedPolicy | undefined {
  try {
    return resolvePolicy(spec);
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    io.stderr(escapeLines(`${spec}: the policy does not load (${e.problems.length} problem${e.problems.length === 1 ? "" : "s"}):\n${indent(e.message)}`) + "\n");
    return undefined;
  }
}

function indent(text: string): string {
  return text.split("\n").map((l) => `  ${l}`).join("\n");
}

function check(argv: string[], io: CliIo): number {
  const parsed = flagsOf(argv, PLAIN_FLAGS, "check", io);
  if (!parsed) return EXIT.ok;
  const files = parsed.positionals;
  if (files.length === 0) {
    io.stderr(`agent-os policy check: name at least one policy file\n${USAGE}`);
    return EXIT.usage;
  }
  let failed = 0;
  for (const file of files) {
    const policy = loadOrReport(file, io);
    if (!policy) failed++;
    else {
      io.stdout(escapeText(`ok ${file}: ${policy.name}, ${policy.rules.length} rules, default ${policy.defaultEffect}`) + "\n");
    }
  }
  return failed ? EXIT.usage : EXIT.ok;
}

function explain(argv: string[], io: CliIo): number {
  const parsed = flagsOf(argv, EXPLAIN_FLAGS, "explain", io);
  if (!parsed) return EXIT.ok;
  const values = parsed.flags as Record<string, string | undefined>;
  const { positionals } = parsed;
  if (positionals.length !== 1 || values.action === undefined) {
    io.stderr(`agent-os policy explain: give one policy and --action (and usually --resource)\n${USAGE}`);
    return EXIT.usage;
  }
  const policy = loadOrReport(positionals[0], io);
  if (!policy) return EXIT.usage;
  const split = (s: string | undefined) => (s === undefined ? undefined : s.split(",").map((x) => x.trim()).filter(Boolean));
  let args: JsonValue | undefined;
  if (values.args !== undefined) {
    try {
      args = JSON.parse(values.args) as JsonValue;
    } catch {
      throw new UsageError(`--args: expected the tool's arguments as JSON, got ${JSON.stringify(values.args)}`);
    }
  }
  const { guessedOperations, ...explanation } = explainRequest(policy, {
    action: values.action,
    resource: values.resource ?? "",
    ...(values.method !== undefined ? { method: values.method } : {}),
    ...(values.sql !== undefined ? { sql: values.sql, operations: split(values.operations), reads: split(values.tables) } : {}),
    ...(values.agent !== undefined ? { agent: values.agent } : {}),
    ...(args !== undefined ? { args } : {}),
    ...(values.hash !== undefined ? { toolHash: values.hash } : {}),
  });
  if (parsed.flags.json) io.stdout(safeJson(explanation, 2) + "\n");
  else {
    // Operator text (the policy's reasons, the request given here): line breaks kept, controls escaped.
    io.stdout(escapeLines(formatExplanation(explanation)));
    if (guessedOperations) {
      io.stdout(`\nnote: operations [${escapeText(explanation.request.sql?.operations.join(", ") ?? "")}] were guessed from the statement's first words; the kernel gets them from SQLite's own compiler. Give --operations to be exact.\n`);
    }
  }
  return EXIT.ok;
}

function test(args: string[], io: CliIo): number {
  const parsed = flagsOf(args, PLAIN_FLAGS, "test", io);
  if (!parsed) return EXIT.ok;
  const argv = parsed.positionals;
  if (argv.length !== 2) {
    io.stderr(`agent-os policy test: give a policy and a cases file\n${USAGE}`);
    return EXIT.usage;
  }
  const policy = loadOrReport(argv[0], io);
  if (!policy) return EXIT.usage;
  let results: CaseResult[];
  try {
    results = runCases(policy, readCases(argv[1]));
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    io.stderr(escapeLines(`${argv[1]}: the cases file is not valid:\n${indent(e.message)}`) + "\n");
    return EXIT.usage;
  }
  io.stdout(escapeLines(formatResults(results)));
  const failed = results.filter((r) => !r.passed).length;
  io.stdout(`\n${results.length - failed} passed, ${failed} failed\n`);
  return failed ? EXIT.failure : EXIT.ok;
}

async function suggest(argv: string[], io: CliIo): Promise<number> {
  const parsed = flagsOf(argv, SUGGEST_FLAGS, "suggest", io);
  if (!parsed) return EXIT.ok;
  const { positionals } = parsed;
  const values = parsed.flags as { log?: string; output?: string; db?: string[]; name?: string; collapse?: string; "any-policy"?: boolean };
  if (positionals.length === 0) {
    io.stderr(`agent-os policy suggest: name at least one run id (agent-os log --type spawn lists them)\n${USAGE}`);
    return EXIT.usage;
  }
  const collapse = values.collapse === undefined ? 3 : /^\d+$/.test(values.collapse) ? Number(values.collapse) : NaN;
  if (!Number.isSafeInteger(collapse)) {
    io.stderr(`agent-os policy suggest: --collapse ${values.collapse}: expected a whole number of files\n`);
    return EXIT.usage;
  }
  const analyzer = sqlAnalyzer(readOnlyDatabases(values.db, "policy suggest"));
  const log = await openLogReader(values.log ?? ".agent-os/log");
  let observed: Awaited<ReturnType<typeof observeRuns>>;
  try {
    observed = await observeRuns(log, positionals, analyzer ? { analyzeSql: analyzer.analyze } : {});
  } finally {
    await log.close();
    analyzer?.close();
  }
  // A run under another policy stopped at its first denial: it does not show all the agent does.
  const notAudit = observed.runs.filter((r) => r.policy !== "audit");
  if (notAudit.length > 0 && !values["any-policy"]) {
    const list = notAudit.map((r) => `${r.runId} (policy ${r.policy || "unknown"})`).join(", ");
    io.stderr(escapeText(`agent-os policy suggest: ${list} ${notAudit.length === 1 ? "was" : "were"} not recorded under the audit profile; record with --policy audit, or pass --any-policy to use ${notAudit.length === 1 ? "it" : "them"} anyway`) + "\n");
    return EXIT.usage;
  }
  const agents = [...new Set(observed.runs.map((r) => r.agent))];
  // Comment lines: a line break in a name from the log would end the comment and write YAML.
  const header = [
    `Suggested by agent-os policy suggest from ${observed.runs.length} recorded run${observed.runs.length === 1 ? "" : "s"}:`,
    ...observed.runs.map((r) => `  ${r.runId}  agent ${r.agent}, ${new Date(r.time).toISOString()}, policy ${r.policy}, ${r.calls} calls` + (r.refused ? ` (${r.refused} refused, not included)` : "")),
    "It allows exactly what these runs did and denies everything else. Review it before use.",
    "",
  ].map(escapeText);
  const { yaml, rules } = suggestPolicy(observed.calls, {
    name: values.name ?? `suggested-${agents.join("-")}`,
    description: `Least privilege for ${agents.join(", ")}, from ${observed.runs.length} recorded run${observed.runs.length === 1 ? "" : "s"}`,
    collapseAbove: collapse,
    header,
  });
  // Agent text is in JSON-quoted scalars: escaped there, the policy means exactly the same.
  if (values.output === undefined) io.stdout(escapeQuoted(yaml));
  else {
    try {
      writeFileSync(values.output, escapeQuoted(yaml));
    } catch (error) {
      throw new UsageError(`-o ${values.output}: cannot write it (${(error as NodeJS.ErrnoException).code ?? "error"})`, { cause: error });
    }
    io.stderr(escapeText(`wrote ${values.output}: ${rules} rules from ${observed.calls.length} calls of ${observed.runs.length} run${observed.runs.length === 1 ? "" : "s"}`) + "\n");
  }
  return EXIT.ok;
}

function formatResults(results: CaseResult[]): string {
  const header = ["", "case", "expected", "got"];
  const rows = results.map((r) => [
    r.passed ? "ok" : "FAIL",
    r.case.name,
    r.case.expect + (r.case.rule === undefined ? "" : ` by ${r.case.rule ?? "(default)"}`),
    `${r.effect} by ${r.rule ?? "(default)"}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

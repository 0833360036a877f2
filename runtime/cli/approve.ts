/**
 * `agent-os approvals`, `agent-os approve <id>` and `agent-os deny <id>`: a person answers the
 * calls a running kernel holds (policy effect `ask`), through the mailbox beside its log (see
 * runtime/approvals/mailbox.ts). The kernel applies the answer and logs it with who answered.
 *
 * Exit codes: 0 applied (or listed), 1 no such pending request, the kernel refused the answer or
 * did not take it, 2 usage errors (bad flags, an id that is not one).
 */
import { userInfo } from "node:os";
import { approvalRule, proposalHash, proposeRule } from "../approvals/always.js";
import { APPROVAL_ID, answerApproval, readPendingApprovals, type MailboxOutcome, type PendingApproval } from "../approvals/mailbox.js";
import type { AlwaysProposal, ApprovalScope, MailboxAnswer } from "../approvals/types.js";
import { UsageError } from "../errors.js";
import type { KernelSpace } from "../kernel/kernel.js";
import { parseDuration } from "../policy/units.js";
import type { Request } from "../types.js";
import { formatFlags, parseArgs, type FlagSpec } from "./args.js";
import { escapeLines, escapeText, safeJson } from "./escape.js";
import { EXIT, type CliIo, type Subcommand } from "./io.js";
import { limitFlag } from "./run-options.js";

const LOG = { type: "string", value: "DIR", help: "the log directory of the running kernel (default .agent-os/log)" } as const;
const HELP_FLAG = { type: "boolean", short: "h", help: "show this help" } as const;
const BY = { type: "string", value: "NAME", help: "who answers, as the log records it (default cli:<your user name>)" } as const;
const WAIT = { type: "string", value: "DURATION", help: "how long to wait for the kernel to apply the answer (default 10s)" } as const;

const LIST_FLAGS: Record<string, FlagSpec> = { log: LOG, json: { type: "boolean", help: "print the requests as JSON" }, help: HELP_FLAG };
const APPROVE_FLAGS: Record<string, FlagSpec> = {
  scope: { type: "string", value: "once|run|always", help: "once (default); run: the same call again in this run too; always: an allow rule in the kernel's --approvals-policy file" },
  "dry-run": { type: "boolean", help: "with --scope always: print the diff of the policy file and write nothing" },
  by: BY,
  log: LOG,
  wait: WAIT,
  help: HELP_FLAG,
};
const DENY_FLAGS: Record<string, FlagSpec> = { reason: { type: "string", value: "TEXT", help: "told to the agent with the rule's reason" }, by: BY, log: LOG, wait: WAIT, help: HELP_FLAG };

const EXITS = "Exit status: 0 done, 1 no such pending request or the kernel refused the answer, 2 usage error.";

export const APPROVALS_HELP = `Usage: agent-os approvals [--log DIR] [--json]

Lists the calls that the kernel running on this log holds for a person (policy effect ask),
oldest first: id, agent, action, resource, rule, and when the request expires (then denied).

Options:
${formatFlags(LIST_FLAGS)}
`;

export const APPROVE_HELP = `Usage: agent-os approve <id> [--scope once|run|always] [--by NAME] [--log DIR]

Approves a held call of the kernel running on this log (agent-os approvals lists them). The
kernel logs the answer (who, when, scope) and the call goes on. --scope always first prints the
unified diff of the allow rule it adds to the kernel's --approvals-policy file (checked by the
policy loader); the kernel writes exactly that, or refuses if the file changed meanwhile.

Options:
${formatFlags(APPROVE_FLAGS)}

${EXITS}
`;

export const DENY_HELP = `Usage: agent-os deny <id> [--reason TEXT] [--by NAME] [--log DIR]

Denies a held call of the kernel running on this log: the agent gets PermissionDenied with the
rule (and --reason). The kernel logs the answer with who and when.

Options:
${formatFlags(DENY_FLAGS)}

${EXITS}
`;

/** `agent-os approvals`: the pending requests. */
export const approvalsCommand: Subcommand = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, LIST_FLAGS, "approvals");
  if (flags.help) return help(io, APPROVALS_HELP);
  if (positionals.length > 0) throw new UsageError(`approvals: unexpected argument ${escapeText(JSON.stringify(positionals[0]))} (see agent-os approvals --help)`);
  const pending = readPendingApprovals(logDir(flags)).map(({ always: _always, ...request }) => request);
  if (flags.json) io.stdout(safeJson(pending, 2) + "\n");
  else if (pending.length === 0) io.stdout("no pending approval requests\n");
  else for (const r of pending) io.stdout(escapeText(`${r.id}  pid ${r.pid}  ${r.agent}  ${r.action}  ${r.resource}${r.method ? `  ${r.method}` : ""}  rule ${r.rule ?? "(default)"}  expires ${r.expiresAt}`) + "\n");
  return EXIT.ok;
};

/** `agent-os approve <id>`. */
export const approveCommand: Subcommand = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, APPROVE_FLAGS, "approve");
  if (flags.help) return help(io, APPROVE_HELP);
  const id = idOf(positionals, "approve");
  const scope = (flags.scope as string | undefined) ?? "once";
  if (!["once", "run", "always"].includes(scope)) throw new UsageError(`approve: --scope ${escapeText(scope)}: expected once, run or always`);
  if (flags["dry-run"] && scope !== "always") throw new UsageError("approve: --dry-run goes with --scope always");
  const dir = logDir(flags);
  const pending = pendingOf(dir, id, io);
  if (!pending) return EXIT.failure;
  const answer: Omit<MailboxAnswer, "id"> = { answer: "approve", scope: scope as ApprovalScope, by: byOf(flags) };
  if (scope === "always") {
    const proposal = alwaysProposal(pending);
    io.stdout(escapeLines(proposal.diff));
    if (flags["dry-run"]) return EXIT.ok;
    answer.proposal = proposalHash(proposal);
  }
  return reported(await answerApproval(dir, id, answer, { waitMs: waitOf(flags, "approve") }), io);
};

/** `agent-os deny <id>`. */
export const denyCommand: Subcommand = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, DENY_FLAGS, "deny");
  if (flags.help) return help(io, DENY_HELP);
  const id = idOf(positionals, "deny");
  const dir = logDir(flags);
  if (!pendingOf(dir, id, io)) return EXIT.failure;
  const reason = flags.reason as string | undefined;
  const answer: Omit<MailboxAnswer, "id"> = { answer: "deny", by: byOf(flags), ...(reason !== undefined ? { reason } : {}) };
  return reported(await answerApproval(dir, id, answer, { waitMs: waitOf(flags, "deny") }), io);
};

/**
 * Tells the operator of `agent-os run` about every call held for a person, and how to answer it.
 *
 * @example announceApprovals(kernel, io, ".agent-os/log")
 */
export function announceApprovals(kernel: KernelSpace, io: CliIo, log: string): () => void {
  const dir = /^[\w./-]+$/.test(log) ? log : JSON.stringify(log);
  return kernel.onApproval((event) => {
    if (event.type !== "requested") return;
    const r = event.request;
    io.stderr(
      escapeText(`agent-os: ${r.agent} (pid ${r.pid}) waits for approval ${r.id}: ${r.action} ${r.resource}${r.method ? ` ${r.method}` : ""} (rule ${r.rule ?? "(default)"}), until ${r.expiresAt}`) +
        `\n  agent-os approve ${r.id} [--scope run${r.scopes.includes("always") ? "|always" : ""}] --log ${dir}    or    agent-os deny ${r.id} --log ${dir}\n`,
    );
  });
}

/** The proposal for a pending request, made as the kernel will make it (the same file, rule and loader). */
function alwaysProposal(pending: PendingApproval): AlwaysProposal {
  if (!pending.always) throw new UsageError(`approve: the kernel was started without a policy file for approvals (agent-os run --approvals-policy FILE): only --scope once or run`);
  const request: Request = { action: pending.action, resource: pending.resource, agent: pending.agent, pid: pending.pid, ...(pending.method ? { method: pending.method } : {}) };
  if (pending.sql) request.sql = { statement: "", canonical: "", ...pending.sql };
  return proposeRule(pending.always.file, approvalRule(pending.id, request, pending.always.approves));
}

function reported(outcome: MailboxOutcome, io: CliIo): number {
  if (!outcome.ok) {
    io.stderr(escapeText(`agent-os: the kernel refused the answer: ${outcome.error}`) + "\n");
    return EXIT.failure;
  }
  const a = outcome.answer;
  const where = a.rule ? `; rule ${a.rule.id} written to ${a.rule.file}` : "";
  io.stdout(escapeText(`${a.id}: ${a.outcome}${a.scope ? ` (${a.scope})` : ""} by ${a.by} at ${a.at}${where}`) + "\n");
  return EXIT.ok;
}

function pendingOf(dir: string, id: string, io: CliIo): PendingApproval | undefined {
  const pending = readPendingApprovals(dir).find((r) => r.id === id);
  if (!pending) io.stderr(escapeText(`agent-os: there is no pending approval request ${id} on the log ${dir} (answered, timed out, or its kernel is not running)`) + "\n");
  return pending;
}

function idOf(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new UsageError(`${command}: expected exactly one request id (see agent-os ${command} --help)`);
  const [id] = positionals;
  if (!APPROVAL_ID.test(id)) throw new UsageError(`${command}: ${escapeText(JSON.stringify(id))} is not an approval request id (12 hex digits, as agent-os approvals lists them)`);
  return id;
}

function logDir(flags: Record<string, unknown>): string {
  return (flags.log as string | undefined) ?? ".agent-os/log";
}

function byOf(flags: Record<string, unknown>): string {
  const by = flags.by as string | undefined;
  if (by === undefined) return `cli:${osUser()}`;
  if (by.length === 0 || by.length > 100 || /[\p{Cc}\p{Cf}]/u.test(by)) throw new UsageError("--by: expected a name of 1 to 100 printable characters");
  return by;
}

function osUser(): string {
  try {
    return userInfo().username || "unknown";
  } catch {
    return process.env.USER ?? "unknown";
  }
}

function waitOf(flags: Record<string, unknown>, command: string): number {
  try {
    return limitFlag(flags.wait, parseDuration, "wait") ?? 10_000;
  } catch (error) {
    throw new UsageError(`${command}: ${error instanceof Error ? error.message.replace(/^run: /, "") : String(error)}`);
  }
}

function help(io: CliIo, text: string): number {
  io.stdout(text);
  return EXIT.ok;
}

/**
 * Approvals of scope "always" (and "run", which grants the same for one run): the allow rule
 * for a held call, written into the operator's policy file after the project's loader accepted
 * the file's new text. The rule allows the call's action on its exact resource (for http its
 * method, for SQL its operations and tables), and `approves` the ask rules that held it, so that
 * they take no part where it matches (an allow rule alone would lose to the stronger ask).
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, extname, resolve } from "node:path";
import { isSeq, parseDocument } from "yaml";
import { escapeQuoted } from "../cli/escape.js";
import { UsageError } from "../errors.js";
import { loadPolicy } from "../policy/load.js";
import { literalGlob } from "../policy/glob.js";
import type { LoadedPolicy } from "../policy/loaded.js";
import type { Request } from "../types.js";
import { unifiedDiff } from "./diff.js";
import type { AlwaysProposal } from "./types.js";

/** The allow rule that approves a held call, as a plain policy rule. */
export type ApprovalRule = Record<string, unknown> & { id: string };

/**
 * The allow rule for `request`, approving the ask rules `approves`.
 *
 * @example approvalRule("3f2a9c0b1d2e", { action: "fs.write", resource: "/ws/a", agent: "w", pid: 1 }, ["ask-writes"])
 * @throws UsageError for a SQL call recorded without its statement's facts (only "once" is possible then).
 */
export function approvalRule(id: string, request: Request, approves: readonly string[]): ApprovalRule {
  const rule: ApprovalRule = { id: `approved-${id}`, action: request.action };
  if (request.resource !== "") rule[request.action === "sql.query" ? "database" : "resource"] = literalGlob(request.resource);
  if (request.method) rule.methods = [request.method];
  if (request.action === "sql.query") {
    if (!request.sql) throw new UsageError(`approval ${id}: the statement's facts are unknown, so only scope "once" can approve it`);
    rule.operations = [...new Set(request.sql.operations)].sort();
    rule.tables = [...new Set([...request.sql.reads, ...request.sql.writes])].sort().map(literalGlob);
  }
  rule.effect = "allow";
  if (approves.length > 0) rule.approves = [...approves];
  // (who approved is in the log's approval event: the rule is the same whoever answers)
  rule.reason = `approved always (approval request ${id})`;
  return rule;
}

/**
 * The rule compiled alone: what a grant of scope "run" (and "always", in this kernel) lets
 * through without asking again. Checked to allow the request it was made for.
 */
export function grantPolicy(rule: ApprovalRule, request: Request): LoadedPolicy {
  const policy = loadPolicy({ version: 1, name: rule.id, default: "deny", rules: [rule] });
  if (policy.decide(request, { count: false }).effect !== "allow") {
    throw new UsageError(`approval: the rule ${rule.id} does not allow the call it was made for (${request.action} ${request.resource})`);
  }
  return policy;
}

/**
 * What approving `rule` always would write into `file`: its new text (checked by the project's
 * policy loader) and the unified diff. Nothing is written.
 *
 * @example const { diff } = proposeRule("./approvals.yaml", rule); process.stdout.write(diff);
 * @throws UsageError when the file is not YAML or its `rules` is not a list; PolicyError when the new text does not load.
 */
export function proposeRule(file: string, rule: ApprovalRule): AlwaysProposal {
  const path = resolve(file);
  if (![".yaml", ".yml"].includes(extname(path).toLowerCase())) throw new UsageError(`approvals: the policy file ${file} must be a YAML file (.yaml or .yml)`);
  const before = existsSync(path) ? readFileSync(path, "utf8") : "";
  const text = withRule(before, rule, file);
  // The loader's own check, with its messages (file, line, column, field): nothing is written otherwise.
  loadPolicy(text, { file, baseDir: dirname(path) });
  return { file: path, ruleId: rule.id, diff: unifiedDiff(before, text, file), text };
}

/** Writes a proposal: a temporary file beside the policy file, renamed over it. */
export function writeProposal(proposal: AlwaysProposal): void {
  const temp = `${proposal.file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(temp, proposal.text, { mode: 0o644 });
  renameSync(temp, proposal.file);
}

/** The sha256 of a proposal's text: what `agent-os approve --scope always` says it was shown. */
export function proposalHash(proposal: AlwaysProposal): string {
  return createHash("sha256").update(proposal.text).digest("hex");
}

/** The policy text with `rule` added to its `rules` (text inserted, so that comments and layout stay). */
function withRule(before: string, rule: ApprovalRule, file: string): string {
  if (before.trim() === "") return `version: 1\nrules:\n${blockItem(rule, "  ")}`;
  const doc = parseDocument(before);
  if (doc.errors.length > 0) throw new UsageError(`approvals: ${file} is not valid YAML: ${doc.errors[0].message}`);
  const rules = doc.get("rules", true);
  if (rules === undefined) return `${before}${before.endsWith("\n") ? "" : "\n"}rules:\n${blockItem(rule, "  ")}`;
  if (!isSeq(rules) || !rules.range) throw new UsageError(`approvals: the rules of ${file} are not a list`);
  const [start, end] = rules.range;
  if (rules.flow) {
    const close = before.lastIndexOf("]", end);
    const sep = rules.items.length > 0 ? ", " : "";
    return `${before.slice(0, close)}${sep}${escapeQuoted(JSON.stringify(rule))}${before.slice(close)}`;
  }
  const indent = " ".repeat(start - (before.lastIndexOf("\n", start - 1) + 1));
  const head = before.slice(0, end);
  return `${head}${head.endsWith("\n") ? "" : "\n"}${blockItem(rule, indent)}${before.slice(end)}`;
}

/** One rule as a block sequence item: each value as JSON (bidi and other format characters escaped), which YAML reads as it is. */
function blockItem(rule: ApprovalRule, indent: string): string {
  return Object.entries(rule)
    .map(([key, value], i) => `${indent}${i === 0 ? "- " : "  "}${key}: ${escapeQuoted(JSON.stringify(value))}\n`)
    .join("");
}

/** The types of human approvals: a held call's request, its answer, and what listeners are told. */
import type { Action } from "../types.js";
import type { JsonValue } from "../episodic/encoding.js";

/**
 * How far an approval reaches: this call only; the same call again in this run (the call's
 * action on its resource, for http its method, for SQL its operations and tables); or always, an
 * allow rule written into the operator's policy file (and the same for the rest of this kernel).
 */
export type ApprovalScope = "once" | "run" | "always";

/** How a held call ended: a person approved or denied it, nobody answered in time, or the run ended. */
export type ApprovalOutcome = "approved" | "denied" | "timeout" | "cancelled";

/** One call held for a person (what `kernel.approvals()` lists and the mailbox holds). */
export interface ApprovalRequest {
  /** 12 random hex digits. */
  id: string;
  runId: string;
  pid: number;
  agent: string;
  /** The host call, e.g. "fs.write-text". */
  op: string;
  action: Action;
  /** The canonical resource, as the policy decided on it. */
  resource: string;
  method?: string;
  /** For sql.query: what SQLite's compiler says the statement does. */
  sql?: { operations: string[]; reads: string[]; writes: string[] };
  /** The call's arguments as the log records a refused call's (long strings and bytes by size and sha256). */
  args: JsonValue;
  /** The ask rule that holds the call (null: the policy's default is ask). */
  rule: string | null;
  /** The rule's reason. */
  reason: string;
  /** ISO times. */
  requestedAt: string;
  expiresAt: string;
  /** The scopes this kernel can grant ("always" only with a policy file for approvals). */
  scopes: ApprovalScope[];
}

/** How a request was answered (logged as an `approval` event). */
export interface ApprovalAnswer {
  id: string;
  outcome: ApprovalOutcome;
  /** For an approval. */
  scope?: ApprovalScope;
  /** Who answered: the `by` given (default "api", the CLI's "cli:<user>"), or "kernel" for a timeout or a cancel. */
  by: string;
  /** ISO time. */
  at: string;
  /** The person's reason for a denial, or why the kernel ended the request. */
  reason?: string;
  /** For scope "always": the rule written and where. */
  rule?: { file: string; id: string };
}

/** What `onApproval` listeners are told: a new request, or its answer (a timeout and a cancel included). */
export type ApprovalEvent = { type: "requested"; request: ApprovalRequest } | { type: "answered"; request: ApprovalRequest; answer: ApprovalAnswer };

/** What an approval of scope "always" would write: the file, the unified diff, and the file's new text. */
export interface AlwaysProposal {
  file: string;
  /** The id of the allow rule it adds. */
  ruleId: string;
  diff: string;
  text: string;
}

/**
 * `KernelOptions.approvals`: a person can answer `ask` decisions (API, dashboard, and with a
 * durable log `agent-os approve|deny` through the mailbox beside it). Defaults: `timeout` 5
 * minutes (a rule's `ask.timeout` wins); no `policyFile`, so scope "always" is refused.
 */
export interface ApprovalsOptions {
  /** The YAML policy file an approval of scope "always" adds its allow rule to (created if missing). */
  policyFile?: string;
  /** How long a person has to answer: milliseconds or a duration such as "5m" (at most 24h). */
  timeout?: number | string;
}

/** What `agent-os approve|deny` writes into the mailbox for the kernel to apply. */
export interface MailboxAnswer {
  id: string;
  answer: "approve" | "deny";
  scope?: ApprovalScope;
  by: string;
  reason?: string;
  /** For scope always: the sha256 of the proposed policy text the approver was shown. */
  proposal?: string;
}

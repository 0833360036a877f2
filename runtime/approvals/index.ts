/**
 * Human approvals: the policy effect `ask` holds a call until a person answers through the
 * kernel's API (`kernel.approvals()`, `approve`, `deny`, `proposeAlways`, `onApproval`), a
 * dashboard built on it, or `agent-os approve|deny` through the mailbox beside the log.
 */
export { ApprovalBroker, type BrokerOptions } from "./broker.js";
export { APPROVAL_ID, Mailbox, answerApproval, approvalsDir, readPendingApprovals, type MailboxOutcome, type PendingApproval } from "./mailbox.js";
export { DEFAULT_ASK_TIMEOUT_MS, resolveApprovals, type ResolvedApprovals } from "./options.js";
export { approvalRule, proposalHash, proposeRule, type ApprovalRule } from "./always.js";
export { unifiedDiff } from "./diff.js";
export type { AlwaysProposal, ApprovalAnswer, ApprovalEvent, ApprovalOutcome, ApprovalRequest, ApprovalScope, ApprovalsOptions, MailboxAnswer } from "./types.js";

/**
 * Answering held `ask` calls from the page: through a live kernel's API, or (log mode) through
 * the approvals mailbox beside the log, as `agent-os approve|deny` does. An approval of scope
 * "always" is confirmed with the hash of the diff the person was shown: if the policy file
 * changed since, the answer is refused and the page shows the new diff.
 */
import { answerApproval, approvalRule, proposalHash, proposeRule, readPendingApprovals, type AlwaysProposal, type ApprovalAnswer, type ApprovalRequest, type ApprovalScope } from "../approvals/index.js";
import { UsageError } from "../errors.js";
import type { Request } from "../types.js";
import { HttpError } from "./http.js";
import type { ApprovalsPort, ShownProposal } from "./types.js";

/** Who the log says answered. */
const BY = "dashboard";

/** What the dashboard uses of a kernel with approvals. */
export interface KernelApprovals {
  approvals(): ApprovalRequest[];
  approve(id: string, options: { scope?: ApprovalScope; by?: string }): Promise<ApprovalAnswer>;
  deny(id: string, options: { by?: string; reason?: string }): Promise<ApprovalAnswer>;
  proposeAlways(id: string): AlwaysProposal;
}

const shown = (proposal: AlwaysProposal): ShownProposal => ({ ...proposal, hash: proposalHash(proposal) });

/**
 * Approvals through a live kernel.
 *
 * @example const port = kernelApprovals(kernel); await port.approve(port.list()[0].id, "once");
 */
export function kernelApprovals(kernel: KernelApprovals): ApprovalsPort {
  return {
    list: () => kernel.approvals(),
    approve: async (id, scope, proposal) => {
      if (scope === "always") {
        const now = shown(kernel.proposeAlways(id));
        if (now.hash !== proposal) throw new HttpError(409, `the policy file ${now.file} changed since its diff was shown: look at the new diff and confirm again`);
      }
      return kernel.approve(id, { scope, by: BY });
    },
    deny: (id, reason) => kernel.deny(id, { by: BY, ...(reason ? { reason } : {}) }),
    proposeAlways: (id) => shown(kernel.proposeAlways(id)),
  };
}

/**
 * Approvals through the mailbox of the kernel that holds the log at `dir` (none pending when no
 * kernel with approvals runs on it).
 *
 * @example const port = mailboxApprovals(".agent-os/log"); port.list();
 */
export function mailboxApprovals(dir: string): ApprovalsPort {
  const answer = async (id: string, given: Parameters<typeof answerApproval>[2]) => {
    const outcome = await answerApproval(dir, id, given);
    if (!outcome.ok) throw new UsageError(outcome.error);
    return outcome.answer;
  };
  return {
    list: () => readPendingApprovals(dir),
    approve: (id, scope, proposal) => answer(id, { answer: "approve", scope, by: BY, ...(proposal ? { proposal } : {}) }),
    deny: (id, reason) => answer(id, { answer: "deny", by: BY, ...(reason ? { reason } : {}) }),
    proposeAlways: (id) => {
      const pending = readPendingApprovals(dir).find((r) => r.id === id);
      if (!pending) throw new HttpError(404, `there is no pending approval request ${id}`);
      if (!pending.always) throw new UsageError(`approval ${id}: scope "always" needs a policy file for approvals on the kernel (KernelOptions.approvals.policyFile)`);
      const request: Request = { action: pending.action, resource: pending.resource, agent: pending.agent, pid: pending.pid };
      if (pending.method) request.method = pending.method;
      if (pending.sql) request.sql = { statement: "", canonical: "", ...pending.sql };
      return shown(proposeRule(pending.always.file, approvalRule(id, request, pending.always.approves)));
    },
  };
}

/**
 * Approvals: the calls held for a person (effect `ask`), answered from the page (approve with
 * scope once, run or always, or deny), and the answers the log recorded.
 */
import type { ApprovalRequest, ApprovalScope } from "../approvals/index.js";
import { HttpError, stringField, type Route } from "./http.js";
import type { AnsweredApproval, RunIndex } from "./run-index.js";
import type { ApprovalsPort, DashboardSource } from "./types.js";

/** What the approvals view shows. */
export interface ApprovalsTable {
  enabled: boolean;
  pending: ApprovalRequest[];
  answered: readonly AnsweredApproval[];
}

const SCOPES: readonly ApprovalScope[] = ["once", "run", "always"];

/**
 * The approvals table of a source: pending from the kernel (or its mailbox), answered from the log.
 *
 * @example approvalsTable(source, index).pending.length
 */
export function approvalsTable(source: DashboardSource, index: RunIndex): ApprovalsTable {
  return { enabled: source.approvals !== undefined, pending: source.approvals?.list() ?? [], answered: index.answers() };
}

/**
 * The routes of the approvals view; `changed` is called after an answer (the live state looks again).
 *
 * @example routes.push(...approvalRoutes(source, index, () => live.refresh()))
 */
export function approvalRoutes(source: DashboardSource, index: RunIndex, changed: () => Promise<void>): Route[] {
  const port = (): ApprovalsPort => {
    if (!source.approvals) throw new HttpError(409, "approvals are not enabled on this kernel (KernelOptions.approvals): every ask is denied at once");
    return source.approvals;
  };
  const answered = async (work: Promise<unknown>) => {
    const answer = await work;
    await changed();
    return { answer };
  };
  return [
    { kind: "read", pattern: "/api/approvals", handler: () => approvalsTable(source, index) },
    { kind: "read", pattern: "/api/approvals/:id/always", handler: ({ params }) => port().proposeAlways(params.id) },
    {
      kind: "change",
      pattern: "/api/approvals/:id/approve",
      handler: ({ params, body }) => {
        const scope = (stringField(body, "scope", true) ?? "once") as ApprovalScope;
        if (!SCOPES.includes(scope)) throw new HttpError(400, `scope must be one of ${SCOPES.join(", ")}`);
        const proposal = stringField(body, "proposal", true);
        if (scope === "always" && !proposal) throw new HttpError(400, 'scope "always" needs "proposal": the hash of the diff that was shown (GET /api/approvals/:id/always)');
        return answered(port().approve(params.id, scope, proposal));
      },
    },
    { kind: "change", pattern: "/api/approvals/:id/deny", handler: ({ params, body }) => answered(port().deny(params.id, stringField(body, "reason", true))) },
  ];
}

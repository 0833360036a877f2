/**
 * The gate's part of the policy effect `ask`: the call is held until a person answers (the
 * kernel's approver, runtime/approvals), and the answer becomes the decision the call event
 * records: allow (approved) or deny (denied, timed out, cancelled, or nobody who could answer).
 * The gate never waits for anything but the approver's promise; the approver does the waiting.
 */
import { errorText } from "./decision.js";
import type { GateRun } from "./gate.js";
import type { OpName } from "./kernel/ops.js";
import type { Decision, Request } from "./types.js";

/**
 * Asked for a decision with effect "ask"; resolves to the final decision (allow or deny, with
 * `approval` saying how it was answered) once a person answered, the request timed out or the
 * run ended. `call` is the host call's op and its arguments (plain data).
 */
export type Approver = (request: Request, decision: Decision, run: GateRun, call: { op: OpName; args: readonly unknown[] }) => Promise<Decision>;

/** Why an `ask` is denied at once on a kernel nobody can answer on. */
export const NO_APPROVER = "approval required, and there is no approver: this kernel was not started with approvals (KernelOptions.approvals, agent-os run --approvals); denied (fail closed)";

/**
 * The decision for an `ask`: the approver's, or a deny when there is none, when the run is
 * already asked to finish, or when the approver fails.
 *
 * @example const final = await askApprover(run, request, decision, { op, args }); // effect "allow" | "deny"
 */
export async function askApprover(run: GateRun, request: Request, decision: Decision, call: { op: OpName; args: readonly unknown[] }): Promise<Decision> {
  if (!run.approver) return denied(decision, `${decision.reason}: ${NO_APPROVER}`);
  if (run.terminating) return denied(decision, "SIGTERM: the agent has been asked to finish");
  try {
    const answer = await run.approver(request, decision, run, call);
    return answer.effect === "allow" || answer.effect === "deny" ? answer : denied(decision, `the approver answered ${String(answer.effect)}; denied (fail closed)`);
  } catch (error) {
    return denied(decision, `approval failed: ${errorText(error)}; denied (fail closed)`);
  }
}

/** The decision for an `ask` on a redirect hop: a fetch in flight is not held for a person. */
export function askOnRedirect(decision: Decision): Decision {
  return denied(decision, `${decision.reason}: a redirect hop is not held for approval; denied`);
}

function denied(decision: Decision, reason: string): Decision {
  const { ask: _ask, ...rest } = decision;
  return { ...rest, effect: "deny", reason };
}

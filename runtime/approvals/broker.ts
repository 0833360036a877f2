/**
 * The approvals broker of a Node kernel: the gate's Approver for decisions with effect `ask`.
 * A held call becomes a request (logged as `approval-request`, listed by `approvals()`, written
 * to the mailbox beside a durable log), the process is `waiting`, and the call goes on once a
 * person answers (`approve` / `deny`, logged as `approval` with who and when), the request times
 * out, or the run ends (both deny). Nothing a guest can call reaches this object: only the host.
 */
import { randomBytes } from "node:crypto";
import { encodeValue } from "../episodic/encoding.js";
import { recordArgs } from "../episodic/args.js";
import { LogError, UsageError } from "../errors.js";
import type { Approver } from "../gate-ask.js";
import type { GateRun } from "../gate.js";
import type { OpName } from "../kernel/ops.js";
import type { LoadedPolicy } from "../policy/loaded.js";
import type { Decision, DecisionApproval, Policy, Request } from "../types.js";
import { approvalRule, grantPolicy, proposalHash, proposeRule, writeProposal } from "./always.js";
import { Mailbox, type PendingApproval } from "./mailbox.js";
import type { AlwaysProposal, ApprovalAnswer, ApprovalEvent, ApprovalRequest, ApprovalScope } from "./types.js";

/** What the broker is made with. */
export interface BrokerOptions {
  /** Milliseconds a person has when the rule gives no `ask.timeout`. */
  timeoutMs: number;
  /** The policy file scope "always" writes into (absent: scope always is refused). */
  policyFile?: string;
  /** The kernel's policy: which matched rules are ask rules (for `approves`). */
  policy: Policy;
  /** The kernel's wall clock, in milliseconds. */
  now: () => number;
}

interface Held {
  request: PendingApproval;
  run: GateRun;
  gateRequest: Request;
  decision: Decision;
  resolve: (decision: Decision) => void;
  timer?: ReturnType<typeof setTimeout>;
  release: () => void;
  settled: boolean;
  /** The proposal `proposeAlways` showed, which `approve(..., { scope: "always" })` must write. */
  shown?: AlwaysProposal;
}

type Settlement = Omit<ApprovalAnswer, "id" | "at">;

const SCOPES: readonly ApprovalScope[] = ["once", "run", "always"];
const POLL_MS = 100;

export class ApprovalBroker {
  /** The gate's approver (GateRun.approver). */
  readonly approver: Approver = (request, decision, run, call) => this.ask(request, decision, run, call);
  private readonly held = new Map<string, Held>();
  private readonly listeners = new Set<(event: ApprovalEvent) => void>();
  /** Grants of scope run, per run; of scope always, for every run of this kernel. */
  private readonly runGrants = new WeakMap<GateRun, { id: string; policy: LoadedPolicy }[]>();
  private readonly kernelGrants: { id: string; policy: LoadedPolicy }[] = [];
  private mailbox: Mailbox | undefined;
  private poller: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly options: BrokerOptions) {}

  /**
   * Answers through the mailbox of this log directory from now on (the kernel holds the log);
   * resolves to the log. @throws UsageError when the mailbox cannot be made (the log is closed).
   */
  async attachMailbox<L extends { close(): Promise<void> }>(logDir: string, log: L): Promise<L> {
    try {
      this.mailbox = Mailbox.open(logDir);
    } catch (error) {
      // (the log is closed, so that nothing is left holding it)
      await log.close().catch(() => undefined);
      throw new UsageError(`approvals: cannot make the mailbox beside the log ${logDir}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    return log;
  }

  /** The requests waiting for a person, oldest first. */
  list(): ApprovalRequest[] {
    return [...this.held.values()].map((h) => publicView(h.request));
  }

  /** Subscribes to new requests and their answers; returns the unsubscribe. */
  onApproval(listener: (event: ApprovalEvent) => void): () => void {
    if (typeof listener !== "function") throw new UsageError("onApproval() takes a function");
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /**
   * Approves a held call. Scope "always" first writes the allow rule into the policy file (the
   * proposal `proposeAlways` showed, if it did; refused if the file changed since).
   */
  async approve(id: string, options: { scope?: ApprovalScope; by?: string; proposal?: string } = {}): Promise<ApprovalAnswer> {
    const held = this.pending(id);
    const scope = options.scope ?? "once";
    if (!SCOPES.includes(scope)) throw new UsageError(`approve(): scope must be one of ${SCOPES.join(", ")}, got ${JSON.stringify(scope)}`);
    const by = answerer(options.by, "api");
    let grant: LoadedPolicy | undefined;
    let rule: ApprovalAnswer["rule"];
    if (scope !== "once") {
      const made = approvalRule(id, held.gateRequest, held.request.always?.approves ?? []);
      grant = grantPolicy(made, held.gateRequest);
      if (scope === "always") rule = this.writeAlways(held, options.proposal);
    }
    // (granted before the call goes on, so that the agent's next call already finds it)
    const keep = grant && (() => (scope === "always" ? this.kernelGrants : this.runGrantsOf(held.run)).push({ id, policy: grant }));
    return this.settle(held, { outcome: "approved", scope, by, ...(rule ? { rule } : {}) }, keep);
  }

  /** Denies a held call; the agent is told the rule's reason (and `reason`, when given). */
  async deny(id: string, options: { by?: string; reason?: string } = {}): Promise<ApprovalAnswer> {
    const held = this.pending(id);
    const reason = options.reason === undefined ? undefined : clip(String(options.reason), 500);
    return this.settle(held, { outcome: "denied", by: answerer(options.by, "api"), ...(reason ? { reason } : {}) });
  }

  /**
   * What approving `id` with scope "always" would write: the policy file, its unified diff and
   * new text, checked by the policy loader. Nothing is written.
   */
  proposeAlways(id: string): AlwaysProposal {
    const held = this.pending(id);
    held.shown = this.proposal(held);
    return { ...held.shown };
  }

  /** Denies every held call (the kernel is closing) and stops reading the mailbox. */
  close(): void {
    for (const held of [...this.held.values()]) void this.settle(held, { outcome: "cancelled", by: "kernel", reason: "the kernel is closing" }).catch(() => undefined);
    this.stopPolling();
    this.mailbox?.close();
  }

  private async ask(gateRequest: Request, decision: Decision, run: GateRun, call: { op: OpName; args: readonly unknown[] }): Promise<Decision> {
    const granted = this.granted(run, gateRequest);
    if (granted) return allowed(decision, granted, `approved for this ${granted.scope === "always" ? "kernel" : "run"}`);
    const request = this.newRequest(gateRequest, decision, run, call);
    try {
      await run.log.append({ type: "approval-request", runId: run.runId, pid: run.pid, agent: run.agent, data: { ...publicView(request) } });
    } catch {
      return denied(decision, undefined, "the approval request cannot be written to the episodic log; denied (fail closed)");
    }
    return new Promise<Decision>((resolve) => {
      const held: Held = { request, run, gateRequest, decision, resolve, release: () => undefined, settled: false };
      this.held.set(request.id, held);
      const ms = Date.parse(request.expiresAt) - Date.parse(request.requestedAt);
      held.timer = setTimeout(() => void this.settle(held, { outcome: "timeout", by: "kernel", reason: `no answer within ${ms} ms` }).catch(() => undefined), ms);
      held.release = run.hold?.((why) => void this.settle(held, { outcome: "cancelled", by: "kernel", reason: why }).catch(() => undefined)) ?? held.release;
      if (held.settled) return;
      this.mailbox?.writePending(request);
      this.startPolling();
      this.emit({ type: "requested", request: publicView(request) });
    });
  }

  private newRequest(gateRequest: Request, decision: Decision, run: GateRun, call: { op: OpName; args: readonly unknown[] }): PendingApproval {
    const now = this.options.now();
    const timeout = decision.ask?.timeout ?? this.options.timeoutMs;
    const approves = askRules(this.options.policy, decision);
    const sql = gateRequest.sql;
    return {
      id: randomBytes(6).toString("hex"),
      runId: run.runId,
      pid: run.pid,
      agent: run.agent,
      op: call.op,
      action: gateRequest.action,
      resource: gateRequest.resource,
      ...(gateRequest.method ? { method: gateRequest.method } : {}),
      ...(sql ? { sql: { operations: [...sql.operations], reads: [...sql.reads], writes: [...sql.writes] } } : {}),
      args: encodeValue(recordArgs(call.op, call.args, true)),
      rule: decision.rule,
      reason: decision.reason,
      requestedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + timeout).toISOString(),
      scopes: this.options.policyFile ? ["once", "run", "always"] : ["once", "run"],
      ...(this.options.policyFile ? { always: { file: this.options.policyFile, approves } } : {}),
    };
  }

  /** Ends a held call: logs the answer (durable before anything goes on), then releases the call (`granted` first, once logged). */
  private async settle(held: Held, settlement: Settlement, granted?: () => void): Promise<ApprovalAnswer> {
    const { id } = held.request;
    if (held.settled) throw new UsageError(`approval request ${id} has already been answered`);
    held.settled = true;
    this.held.delete(id);
    clearTimeout(held.timer);
    if (this.held.size === 0) this.stopPolling();
    const answer: ApprovalAnswer = { id, ...settlement, at: new Date(this.options.now()).toISOString() };
    const { run } = held;
    let logged = true;
    try {
      await run.log.append({ type: "approval", runId: run.runId, pid: run.pid, agent: run.agent, data: { ...answer } });
    } catch {
      logged = false;
    }
    this.mailbox?.removePending(id);
    held.release();
    if (logged && answer.outcome === "approved") granted?.();
    held.resolve(finalDecision(held.decision, answer, logged));
    this.emit({ type: "answered", request: publicView(held.request), answer: { ...answer } });
    if (!logged) throw new LogError(`approval ${id}: the answer cannot be written to the episodic log; the call was denied`);
    return answer;
  }

  private writeAlways(held: Held, proposal: string | undefined): ApprovalAnswer["rule"] {
    const fresh = this.proposal(held);
    const shown = proposal ?? (held.shown ? proposalHash(held.shown) : undefined);
    if (shown !== undefined && shown !== proposalHash(fresh)) {
      throw new UsageError(`approve(): ${fresh.file} changed since the proposal was shown; propose again`);
    }
    writeProposal(fresh);
    return { file: fresh.file, id: fresh.ruleId };
  }

  private proposal(held: Held): AlwaysProposal {
    const always = held.request.always;
    if (!always) throw new UsageError(`approval ${held.request.id}: scope "always" needs a policy file for approvals (KernelOptions.approvals.policyFile, agent-os run --approvals-policy FILE)`);
    const rule = approvalRule(held.request.id, held.gateRequest, always.approves);
    grantPolicy(rule, held.gateRequest); // (the rule must let the call through, or it is not written)
    return proposeRule(always.file, rule);
  }

  private granted(run: GateRun, request: Request): DecisionApproval | undefined {
    const lets = (g: { policy: LoadedPolicy }) => g.policy.decide(request, { count: false }).effect === "allow";
    const forKernel = this.kernelGrants.find(lets);
    if (forKernel) return { id: forKernel.id, outcome: "approved", scope: "always", reused: true };
    const forRun = this.runGrants.get(run)?.find(lets);
    return forRun ? { id: forRun.id, outcome: "approved", scope: "run", reused: true } : undefined;
  }

  private runGrantsOf(run: GateRun): { id: string; policy: LoadedPolicy }[] {
    let grants = this.runGrants.get(run);
    if (!grants) this.runGrants.set(run, (grants = []));
    return grants;
  }

  private pending(id: string): Held {
    const held = typeof id === "string" ? this.held.get(id) : undefined;
    if (!held) throw new UsageError(`there is no pending approval request ${JSON.stringify(id)} (answered, timed out, or never made)`);
    return held;
  }

  private emit(event: ApprovalEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // a listener that throws is the host's bug, not a reason to stop the others
      }
    }
  }

  private startPolling(): void {
    if (!this.mailbox || this.poller !== undefined) return;
    this.poller = setInterval(() => this.applyMailbox(), POLL_MS);
    this.poller.unref?.();
  }

  private stopPolling(): void {
    clearInterval(this.poller);
    this.poller = undefined;
  }

  /** Applies the answers the CLI wrote, and tells it what came of each. */
  private applyMailbox(): void {
    const mailbox = this.mailbox;
    if (!mailbox) return;
    for (const answer of mailbox.takeAnswers()) {
      const outcome = (result: Promise<ApprovalAnswer>) =>
        result.then(
          (applied) => mailbox.writeOutcome({ id: answer.id, ok: true, answer: applied }),
          (error: unknown) => mailbox.writeOutcome({ id: answer.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
        );
      if ("error" in answer) void outcome(Promise.reject(new UsageError(answer.error)));
      else if (answer.answer === "approve") void outcome(this.approve(answer.id, { scope: answer.scope, by: answer.by, proposal: answer.proposal }));
      else void outcome(this.deny(answer.id, { by: answer.by, reason: answer.reason }));
    }
  }
}

/** The request as the API shows it (without the mailbox's `always`). */
function publicView(request: PendingApproval): ApprovalRequest {
  const { always: _always, ...view } = request;
  return structuredClone(view);
}

/** The ask rules among those that matched (all of them answer to an approval of scope always). */
function askRules(policy: Policy, decision: Decision): string[] {
  const rules = (policy as Partial<LoadedPolicy>).rules;
  if (!Array.isArray(rules)) return decision.rule === null ? [] : [decision.rule];
  const asks = new Set(rules.filter((r) => r.effect === "ask").map((r) => r.id));
  return decision.matched.filter((id) => asks.has(id));
}

/** Who answered: a short printable name. */
function answerer(by: unknown, fallback: string): string {
  if (by === undefined) return fallback;
  if (typeof by !== "string" || by.length === 0 || by.length > 100 || /[\p{Cc}\p{Cf}]/u.test(by)) {
    throw new UsageError("approvals: `by` must be a name of 1 to 100 printable characters");
  }
  return by;
}

/** The decision the call event records once a request is answered (denied when the answer could not be logged). */
function finalDecision(decision: Decision, answer: ApprovalAnswer, logged: boolean): Decision {
  const approval: DecisionApproval = { id: answer.id, outcome: answer.outcome, ...(answer.scope ? { scope: answer.scope } : {}), by: answer.by };
  if (!logged) return denied(decision, approval, "the answer cannot be written to the episodic log; denied (fail closed)");
  if (answer.outcome === "approved") return allowed(decision, approval, `approved (${answer.scope})`);
  return denied(decision, approval, refusal(answer));
}

function refusal(answer: ApprovalAnswer): string {
  if (answer.outcome === "timeout") return `not approved in time (${answer.reason ?? "timeout"}); denied`;
  if (answer.outcome === "cancelled") return `not approved: ${answer.reason ?? "cancelled"}; denied`;
  return answer.reason ? `denied by a person: ${answer.reason}` : "denied by a person";
}

function allowed(decision: Decision, approval: DecisionApproval, note: string): Decision {
  const { ask: _ask, ...rest } = decision;
  return { ...rest, effect: "allow", reason: `${decision.reason}: ${note}`, approval };
}

function denied(decision: Decision, approval: DecisionApproval | undefined, note: string): Decision {
  const { ask: _ask, ...rest } = decision;
  return { ...rest, effect: "deny", reason: `${decision.reason}: ${note}`, ...(approval ? { approval } : {}) };
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

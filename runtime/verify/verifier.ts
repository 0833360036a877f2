/**
 * The gate's verifier: for a decision with effect "verify", ask the models, log every vote
 * (before the gate logs the call), and turn the consensus into "allow" or "deny" under the same
 * rule. Also `verifyOutput`, the same check for a host asking about an agent's output.
 */
import { randomUUID } from "node:crypto";
import { UsageError } from "../errors.js";
import type { GateRun, Verifier } from "../gate.js";
import type { Decision, EventLog, VerificationSettings } from "../types.js";
import { consult, type VerificationResult, type Vote } from "./consensus.js";
import { buildPrompt, questionKey, type Question } from "./prompt.js";
import { normalizeVerificationOptions, resolveSettings, type VerificationOptions } from "./settings.js";

/** Options of {@link createVerifier}. Default: no signal (requests end at their own deadline). */
export interface VerifierOptions {
  /** Cancels every request in flight (the kernel aborts it when it closes); a cancelled model rejects. */
  signal?: AbortSignal;
}

/** Who a vote event belongs to in the log. */
export interface VoteOwner {
  runId: string;
  pid: number;
  agent: string;
}

/**
 * Builds a gate Verifier from settings. A rule's own `verify:` overrides (in the decision) win
 * over these per key. Every vote is appended to the run's log as a "vote" event; a log that
 * cannot be written, or no models at all, denies.
 *
 * @example
 * const verifier = createVerifier({ models: [{ provider: "openai", model: "gpt-4o" }], threshold: 1, timeout: "10s" });
 * const kernel = new KernelSpace({ policy: "./policy.yaml", verifier });
 * @throws UsageError for settings that are not valid (naming the field).
 */
export function createVerifier(settings: VerificationOptions = {}, options: VerifierOptions = {}): Verifier {
  const base = normalizeVerificationOptions(settings);
  // One cache per run, dropped with the run's gate state.
  const caches = new WeakMap<GateRun, Map<string, Promise<Vote>>>();
  return async (request, decision, run, call) => {
    const resolved = resolveSettings(base, decision.verify);
    const question: Question = {
      kind: "call",
      task: run.task,
      agent: run.agent,
      action: request.action,
      resource: request.resource,
      ...(request.method ? { method: request.method } : {}),
      ...(request.sql ? { sql: request.sql } : {}),
      ...(call ? { op: call.op, args: call.args } : {}),
      rule: decision.rule,
      ruleReason: decision.reason,
    };
    let cache: Map<string, Promise<Vote>> | undefined;
    if (resolved.cache) {
      cache = caches.get(run) ?? new Map();
      caches.set(run, cache);
    }
    const result = await consult(resolved, buildPrompt(question), { cache, questionKey: questionKey(question), signal: options.signal });
    try {
      await logVotes(run.log, run, result.votes, { action: request.action, resource: request.resource, rule: decision.rule });
    } catch {
      return deny(decision, "verification failed: the votes cannot be written to the episodic log");
    }
    return result.allowed ? { ...decision, effect: "allow", reason: `${decision.reason}: verification passed, ${result.reason}` } : deny(decision, `${decision.reason}: verification failed, ${result.reason}`);
  };
}

/** Options of {@link verifyOutput}. */
export interface OutputCheck {
  /** What the models are asked about the text, e.g. "Does this reply leak customer data?". */
  question: string;
  /** Where the votes go; they are logged under `owner`. */
  log: Pick<EventLog, "append">;
  /** The run the output belongs to (a RunResult fits); default: a run of its own, pid 0, agent "host". */
  owner?: VoteOwner;
  signal?: AbortSignal;
}

/**
 * Asks the models a host's question about an agent's output (the text is fenced as untrusted
 * data), logs the votes, and returns the consensus.
 *
 * @example const r = await verifyOutput(settings, result.output, { question: "Is this safe to send to the customer?", log });
 * @throws UsageError when there are no models, or the text or question is not a string.
 */
export async function verifyOutput(settings: Partial<VerificationSettings>, text: string, check: OutputCheck): Promise<VerificationResult> {
  if (typeof text !== "string") throw new UsageError("verify(): the text to verify must be a string");
  if (typeof check?.question !== "string" || check.question.trim() === "") throw new UsageError("verify(): options.question must be a non-empty string");
  const resolved = resolveSettings(settings);
  if (resolved.models.length === 0) {
    throw new UsageError("verify(): no verifier models are configured (KernelOptions.verification.models or the policy's verification: block)");
  }
  const question: Question = { kind: "output", question: check.question, text };
  const result = await consult(resolved, buildPrompt(question), { signal: check.signal });
  const owner = check.owner ?? { runId: `verify-${randomUUID()}`, pid: 0, agent: "host" };
  await logVotes(check.log, owner, result.votes, { subject: "output", question: check.question.slice(0, 500) });
  return result;
}

/** Appends one "vote" event per vote, in order (consecutive appends share one batch). */
async function logVotes(log: Pick<EventLog, "append">, owner: VoteOwner, votes: Vote[], about: Record<string, unknown>): Promise<void> {
  await Promise.all(
    votes.map((vote) =>
      log.append({
        type: "vote",
        runId: owner.runId,
        pid: owner.pid,
        agent: owner.agent,
        data: { ...about, ...vote },
      }),
    ),
  );
}

function deny(decision: Decision, reason: string): Decision {
  return { ...decision, effect: "deny", reason };
}

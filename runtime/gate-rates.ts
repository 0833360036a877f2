/**
 * Rate limits shared with other kernels (a cluster): after the policy has let a call through
 * under its own counts, every matching rule with a rate takes one call from a count the kernels
 * share (a key-value store with compare-and-set). Over the shared count, the call is denied by
 * that rule. Any failure to reach the count denies too (fail closed).
 */
import type { Decision, Policy, Request } from "./types.js";
import type { Rate } from "./policy/units.js";

/** A rate-limit count shared with other kernels. */
export interface SharedRates {
  /**
   * Takes one call at `now` for every key (an agent's name, its code), under `rule` of the policy
   * with hash `policyHash`: resolves true when each stays within `rate`, and counts the call only
   * then; false when one is full. May reject (the call is then denied).
   */
  take(policyHash: string, rule: string, rate: Readonly<Rate>, keys: readonly string[], now: number): Promise<boolean>;
  /** Where the limit holds, for denial reasons (e.g. "across the cluster"). */
  readonly scope: string;
}

/** The rules of `decision` whose rate must also hold in the shared count. */
export function sharedRateRules(policy: Policy, decision: Decision): { rule: string; rate: Readonly<Rate> }[] {
  if (decision.effect !== "allow" && decision.effect !== "audit") return [];
  if (!policy.rateOf) return [];
  const rules: { rule: string; rate: Readonly<Rate> }[] = [];
  for (const id of decision.matched) {
    const rate = policy.rateOf(id);
    if (rate) rules.push({ rule: id, rate });
  }
  return rules;
}

/**
 * The decision once the shared counts have taken the call: `decision` itself, or a deny naming
 * the first rule over its shared rate (or why the count could not be reached).
 */
export async function takeSharedRates(shared: SharedRates, policy: Policy, request: Request, decision: Decision, rules: readonly { rule: string; rate: Readonly<Rate> }[], now: number): Promise<Decision> {
  const keys = [`agent:${request.agent ?? ""}`, ...(request.code ? [`code:${request.code}`] : [])];
  for (const { rule, rate } of rules) {
    let ok: boolean;
    try {
      ok = await shared.take(policy.hash, rule, rate, keys, now);
    } catch (error) {
      return { effect: "deny", rule: null, reason: `rate-limit: the shared count of rule ${rule} could not be reached (${error instanceof Error ? error.message : String(error)})`, matched: decision.matched };
    }
    if (!ok) {
      return { effect: "deny", rule, reason: `rate-limit: rule ${rule} allows ${rate.count}/${rate.unit} per agent and per code ${shared.scope}`, matched: decision.matched };
    }
  }
  return decision;
}

/**
 * The policy as a kernel with shared counts uses it: its own decisions, but rate limits only
 * checked against the local counts, never counted there (the shared count is the one that
 * holds; a call it refuses must not fill the local window). A policy that does not tell its
 * rules' rates (no `rateOf`, a host's own Policy) cannot be counted elsewhere: it keeps
 * counting itself.
 */
export function countedElsewhere(policy: Policy): Policy {
  if (!policy.rateOf) return policy;
  const view: Policy = {
    name: policy.name,
    hash: policy.hash,
    defaultEffect: policy.defaultEffect,
    limits: policy.limits,
    decide: (request) => policy.decide(request, { count: false }),
  };
  if (policy.verification) Object.assign(view, { verification: policy.verification });
  if (policy.secrets) Object.assign(view, { secrets: policy.secrets });
  if (policy.models) Object.assign(view, { models: policy.models });
  if (policy.couldAllow) view.couldAllow = policy.couldAllow.bind(policy);
  if (policy.rateOf) view.rateOf = policy.rateOf.bind(policy);
  return view;
}

/** Explanations: the decision, and for every rule on the request's action whether and why it matched. */
import type { Decision, Effect, Request } from "../types.js";
import type { CompiledPolicy } from "./compile.js";
import { matchRule } from "./match.js";
import type { RuleOrigin } from "./rule.js";

/** One rule's part in a decision. */
export interface RuleTrace {
  id: string;
  effect: Effect;
  matched: boolean;
  /** Each condition checked, in order, and its outcome. */
  why: string[];
  /** Where the rule was written. */
  origin: RuleOrigin;
}

export interface Explanation {
  request: Request;
  decision: Decision;
  /** The rules that matched, in policy order. */
  matched: RuleTrace[];
  /** Every rule on the request's action, in policy order: the ones a decision can depend on. */
  considered: RuleTrace[];
  /** How many rules the policy has in all. */
  totalRules: number;
}

/** Traces every rule on the request's action. */
export function traceRules(policy: CompiledPolicy, request: Request): RuleTrace[] {
  const rules = policy.byAction.get(request.action) ?? [];
  return rules.map((rule) => {
    const why = [`action ${request.action} is covered by ${rule.spec.action.join(", ")}`];
    const matched = matchRule(rule, request, why);
    return { id: rule.id, effect: rule.effect, matched, why, origin: rule.spec.origin };
  });
}

function where(origin: RuleOrigin): string {
  return [origin.file, origin.line, origin.column].filter((x) => x !== undefined).join(":");
}

/**
 * Plain text for people: the decision, the deciding rule, and each considered rule.
 *
 * @example formatExplanation(policy.explain(canonicalRequest("fs.write", "/prod/x")))
 */
export function formatExplanation(explanation: Explanation): string {
  const { decision, request, considered } = explanation;
  const lines = [
    `request:  ${request.action} ${JSON.stringify(request.resource)}${request.method ? ` ${request.method}` : ""}${request.sql ? ` sql ${JSON.stringify(request.sql.statement)}` : ""}`,
    `decision: ${decision.effect}`,
    `rule:     ${decision.rule ?? "(none: the default decided)"}`,
    `reason:   ${decision.reason}`,
    `matched:  ${decision.matched.length ? decision.matched.join(", ") : "(none)"}`,
    "",
    `rules considered (${considered.length} of ${explanation.totalRules} are on ${request.action}):`,
  ];
  for (const trace of considered) {
    lines.push(`  ${trace.matched ? "✓" : "✗"} ${trace.id} (${trace.effect}) at ${where(trace.origin)}`);
    for (const reason of trace.why) lines.push(`      ${reason}`);
  }
  return lines.join("\n") + "\n";
}

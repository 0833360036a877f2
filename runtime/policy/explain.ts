/** Explanations: the decision, and for every rule on the request's action whether and why it matched. */
import type { Decision, Effect, Request } from "../types.js";
import { DENY_RANK, type CompiledPolicy, type CompiledRule } from "./compile.js";
import { MATCHES, NO_MATCH, matchRule, type MatchLevel } from "./match.js";
import type { RuleOrigin } from "./rule.js";

/** One rule's part in a decision. */
export interface RuleTrace {
  id: string;
  effect: Effect;
  matched: boolean;
  /**
   * The rule matched only loosely (see match.ts): it cannot let the call through itself, and
   * took part only because another rule or the default lets the call through.
   */
  tightens?: true;
  /** Each condition checked, in order, and its outcome. */
  why: string[];
  /** Where the rule was written. */
  origin: RuleOrigin;
}

export interface Explanation {
  /** The request as decided: canonical (the action's canonical name, the canonical resource). */
  request: Request;
  /** The request as given, when it was not canonical. */
  given?: Request;
  decision: Decision;
  /** The rules that matched, in policy order. */
  matched: RuleTrace[];
  /** Every rule on the request's action, in policy order: the ones a decision can depend on. */
  considered: RuleTrace[];
  /** How many rules the policy has in all. */
  totalRules: number;
}

/**
 * Traces every rule on the (canonical) request's action with a full scan, the way decide's
 * index walk must agree with: loosely matching allowing rules take part only when the rules
 * that match (or the default) let the call through.
 */
export function traceRules(policy: CompiledPolicy, request: Request): RuleTrace[] {
  const rules = policy.byAction.get(request.action) ?? [];
  let baseRank: number | null = null;
  const levels = rules.map((rule) => {
    const why = [`action ${request.action} is covered by ${rule.spec.action.join(", ")}`];
    return { rule, why, level: matchRule(rule, request, why) as MatchLevel };
  });
  const approvedBy = approvals(levels);
  const traces = levels.map(({ rule, why, level }) => {
    const by = rule.effect === "ask" && level !== NO_MATCH ? approvedBy.get(rule.id) : undefined;
    if (by !== undefined) {
      why.push(`it is answered in advance by rule ${by} (approves: ${rule.id}): it takes no part`);
      level = NO_MATCH;
    }
    if (level === MATCHES) baseRank = Math.max(baseRank ?? 0, rule.rank);
    return { trace: { id: rule.id, effect: rule.effect, matched: level === MATCHES, why, origin: rule.spec.origin } as RuleTrace, level };
  });
  const letThrough = (baseRank ?? policy.defaultRank) < DENY_RANK;
  return traces.map(({ trace, level }) => {
    if (level === MATCHES || level === NO_MATCH) return trace;
    if (!letThrough) {
      trace.why.push("it matches only loosely, and the call is not let through: it takes no part");
      return trace;
    }
    trace.why.push("it matches only loosely: it cannot let the call through, but the call is let through, so its effect and rate apply");
    return { ...trace, matched: true, tightens: true };
  });
}

/** Ask rule id -> the first allow rule matching strictly that approves it. */
function approvals(levels: { rule: CompiledRule; level: MatchLevel }[]): Map<string, string> {
  const by = new Map<string, string>();
  for (const { rule, level } of levels) {
    if (rule.approves === null || level !== MATCHES) continue;
    for (const id of rule.approves) if (!by.has(id)) by.set(id, rule.id);
  }
  return by;
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
    `request:  ${request.action} ${JSON.stringify(request.resource)}${request.method ? ` ${request.method}` : ""}${request.sql ? ` sql ${JSON.stringify(request.sql.statement)}` : ""}${givenAs(explanation)}`,
    `decision: ${decision.effect}`,
    `rule:     ${decision.rule ?? "(none: the default decided)"}`,
    `reason:   ${decision.reason}`,
    `matched:  ${decision.matched.length ? decision.matched.join(", ") : "(none)"}`,
    "",
    `rules considered (${considered.length} of ${explanation.totalRules} are on ${request.action}):`,
  ];
  for (const trace of considered) {
    lines.push(`  ${trace.matched ? "✓" : "✗"} ${trace.id} (${trace.effect}${trace.tightens ? ", tightens" : ""}) at ${where(trace.origin)}`);
    for (const reason of trace.why) lines.push(`      ${reason}`);
  }
  return lines.join("\n") + "\n";
}

/** How the request was given, when it was not canonical. */
function givenAs({ request, given }: Explanation): string {
  if (given === undefined) return "";
  const parts: string[] = [];
  if (given.action !== request.action) parts.push(String(given.action));
  if (given.resource !== request.resource) parts.push(JSON.stringify(String(given.resource)));
  if (given.method !== request.method && given.method !== undefined) parts.push(String(given.method));
  return parts.length ? ` (given as ${parts.join(" ")})` : "";
}

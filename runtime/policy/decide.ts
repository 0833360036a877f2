/**
 * The decision: every rule that matches is considered, the strongest effect wins
 * (kill > stop > deny > ask > verify > audit > allow), ties go to the first rule in policy order,
 * and with no match the policy's default decides. Rule order never changes the effect. An ask
 * rule that an allow rule matching the call strictly `approves` takes no part.
 *
 * A rule that can let a call through (allow, audit, verify) does so only on a strict match
 * (match.ts). One that matches only loosely tightens: when the call is let through anyway (by
 * another rule or the default), its stronger effect and its rate apply. When the call is let
 * through, the rate of every rule that matched must hold, whatever effect won; only then are
 * they all counted (a denied call is never counted).
 */
import type { Decision, Request } from "../types.js";
import { canonicalizeRequest } from "./canonical-request.js";
import { DENY_RANK, type CompiledPolicy, type CompiledRule } from "./compile.js";
import { MATCHES, NO_MATCH, matchRule } from "./match.js";
import type { RateBook } from "./rate.js";
import { pinBreak } from "./tool-rules.js";

/** The decision when a request cannot be decided: fail closed. */
export function failClosed(why: string): Decision {
  return { effect: "deny", rule: null, reason: `${why}; denied (fail closed)`, matched: [] };
}

/**
 * Decides one request (canonicalized first). With `record` false (explain, `{ count: false }`)
 * rate limits are checked but not counted. May throw on a malformed request; the caller turns
 * that into a fail-closed deny.
 */
export function decideWith(policy: CompiledPolicy, rates: RateBook, given: Request, now: () => number, record: boolean): Decision {
  const request = canonicalizeRequest(given);
  if (typeof request === "string") return failClosed(`invalid request: ${request}`);
  if (request.action === "tool.call") {
    const broken = brokenPin(policy, request);
    if (broken !== null) return broken;
  }
  let found = matchingRules(policy, request);
  // An allow rule that approves an ask rule (an approval of scope always) answers it in advance.
  if (found !== null && policy.approving) {
    const answered = answeredAsks(found.matched, request);
    if (answered !== null) found = matchingRules(policy, request, answered);
  }
  if (found === null) return { effect: policy.defaultEffect, rule: null, reason: policy.defaultReason, matched: [] };
  const { decider, matched } = found;
  const effect = decider?.effect ?? policy.defaultEffect;
  const ids = matched.map(idOf);
  if ((decider?.rank ?? policy.defaultRank) < DENY_RANK && policy.rateSlots > 0) {
    const limited = checkRates(matched, rates, request, now, record);
    if (limited !== null) return { effect: "deny", rule: limited.rule.id, reason: rateReason(limited, request), matched: ids };
  }
  if (decider === null) return { effect, rule: null, reason: policy.defaultReason, matched: ids };
  const decision: Decision = { effect, rule: decider.id, reason: decider.reason, matched: ids };
  if (effect === "verify" && decider.spec.verify) {
    const { models, ...rest } = decider.spec.verify;
    decision.verify = models ? { ...rest, models: models.map((m) => ({ ...m })) } : { ...rest };
  }
  if (effect === "ask" && decider.spec.ask) decision.ask = { ...decider.spec.ask };
  return decision;
}

/**
 * The ask rules among `matched` that an allow rule matching the request strictly approves
 * (`approves:`), or null when there are none: those take no part in the decision.
 */
export function answeredAsks(matched: readonly CompiledRule[], request: Request): Set<CompiledRule> | null {
  let approved: Set<string> | null = null;
  for (const rule of matched) {
    if (rule.approves === null || matchRule(rule, request) !== MATCHES) continue;
    approved ??= new Set();
    for (const id of rule.approves) approved.add(id);
  }
  if (approved === null) return null;
  const answered = matched.filter((rule) => rule.effect === "ask" && approved.has(rule.id));
  return answered.length > 0 ? new Set(answered) : null;
}

/**
 * The rules that take part in the decision (policy order) and the one that decides (null for
 * the default), or null when none takes part.
 */
function matchingRules(policy: CompiledPolicy, request: Request, skip?: ReadonlySet<CompiledRule>): { decider: CompiledRule | null; matched: CompiledRule[] } | null {
  let best: CompiledRule | null = null;
  let matched: CompiledRule[] | null = null;
  let loose: CompiledRule[] | null = null;
  const resource = request.resource;
  let node = policy.index.get(request.action)!;
  let start = 0;
  for (;;) {
    const rules = node.rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i];
      if (skip !== undefined && skip.has(rule)) continue;
      const level = matchRule(rule, request);
      if (level === NO_MATCH) continue;
      if (level !== MATCHES) {
        if (loose === null) loose = [rule];
        else loose.push(rule);
        continue;
      }
      if (matched === null) matched = [rule];
      else matched.push(rule);
      if (best === null || stronger(rule, best)) best = rule;
    }
    const children = node.children;
    if (children === null || start > resource.length) break;
    const slash = resource.indexOf("/", start);
    const end = slash === -1 ? resource.length : slash;
    const child = children.get(resource.slice(start, end));
    if (child === undefined) break;
    node = child;
    start = end + 1;
  }
  const baseRank = best === null ? policy.defaultRank : best.rank;
  if (loose !== null && baseRank < DENY_RANK) {
    // The call is let through: rules that matched only loosely tighten it.
    let top = loose[0];
    for (const rule of loose) if (stronger(rule, top)) top = rule;
    if (top.rank > baseRank) best = top;
    matched = matched === null ? loose : matched.concat(loose);
  }
  if (matched === null) return null;
  if (matched.length > 1) matched.sort(byIndex);
  return { decider: best, matched };
}

/**
 * A tool.call of a tool whose hash is not the one a rule on it pins (whatever the rule's
 * effect): denied by that rule, naming both hashes.
 */
function brokenPin(policy: CompiledPolicy, request: Request): Decision | null {
  for (const rule of policy.byAction.get("tool.call") ?? []) {
    if (rule.pin === null || (rule.resource !== null && !rule.resource.test(request.resource))) continue;
    const reason = pinBreak(rule.id, rule.pin, request);
    if (reason !== undefined) return { effect: "deny", rule: rule.id, reason, matched: [rule.id] };
  }
  return null;
}

/**
 * Whether some rule could let a call of `action` on `resource` through, other conditions than
 * the resource aside (an allow, audit or verify rule), or the default would.
 */
export function couldAllowWith(policy: CompiledPolicy, action: Request["action"], resource: string): boolean {
  if (policy.defaultRank < DENY_RANK) return true;
  return (policy.byAction.get(action) ?? []).some((rule) => rule.allowing && (rule.resource === null || rule.resource.test(resource)));
}

function stronger(a: CompiledRule, b: CompiledRule): boolean {
  return a.rank > b.rank || (a.rank === b.rank && a.index < b.index);
}

interface Limited {
  rule: CompiledRule;
  /** The code's window was full, not the name's. */
  byCode: boolean;
}

/**
 * Every matching rule that has a rate must allow one more call, both for the agent's name and
 * for its code; only then are they all counted. Returns the first rule over its rate, or null.
 */
function checkRates(matched: CompiledRule[], rates: RateBook, request: Request, now: () => number, record: boolean): Limited | null {
  let time = NaN;
  const name = nameKey(request.agent);
  const code = codeKey(request.code);
  for (const rule of matched) {
    if (rule.rate === null) continue;
    if (Number.isNaN(time)) {
      time = now();
      if (typeof time !== "number" || !Number.isFinite(time)) throw new Error("the rate-limit clock did not return a finite number");
    }
    if (!rates.allows(rule.rateSlot, rule.rate, name, time)) return { rule, byCode: false };
    if (code !== null && !rates.allows(rule.rateSlot, rule.rate, code, time)) return { rule, byCode: true };
  }
  if (record && !Number.isNaN(time)) {
    for (const rule of matched) {
      if (rule.rate === null) continue;
      rates.record(rule.rateSlot, rule.rate, name, time);
      if (code !== null) rates.record(rule.rateSlot, rule.rate, code, time);
    }
  }
  return null;
}

/**
 * Counts a call that was let through at `time` (read back from the log) against every rate
 * rule that matches it, strictly or loosely (as it was counted when it was decided); whether
 * any did. A request that cannot be canonical counts nowhere.
 */
export function countPast(policy: CompiledPolicy, rates: RateBook, given: Request, time: number): boolean {
  const request = canonicalizeRequest(given);
  if (typeof request === "string") return false;
  const name = nameKey(request.agent);
  const code = codeKey(request.code);
  let counted = false;
  for (const rule of policy.rateRules) {
    if (!rule.spec.actions.includes(request.action) || matchRule(rule, request) === NO_MATCH) continue;
    rates.record(rule.rateSlot, rule.rate!, name, time);
    if (code !== null) rates.record(rule.rateSlot, rule.rate!, code, time);
    counted = true;
  }
  return counted;
}

/** The rate window key of an agent's name. */
export function nameKey(agent: unknown): string {
  return `name\0${String(agent)}`;
}

/** The rate window key of an agent's code hash, or null without one. */
export function codeKey(code: unknown): string | null {
  return typeof code === "string" && code !== "" ? `code\0${code}` : null;
}

function rateReason({ rule, byCode }: Limited, request: Request): string {
  const agent = JSON.stringify(String(request.agent));
  const head = `rate-limit: rule ${rule.id} allows ${rule.rate!.count}/${rule.rate!.unit} per agent and`;
  if (!byCode) return `${head} agent ${agent} has reached it`;
  return `${head} the code of agent ${agent} (sha256 ${String(request.code).slice(0, 12)}…) has reached it, under this name or another`;
}

function byIndex(a: CompiledRule, b: CompiledRule): number {
  return a.index - b.index;
}

function idOf(rule: CompiledRule): string {
  return rule.id;
}

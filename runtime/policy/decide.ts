/**
 * The decision: every rule that matches is considered, the strongest effect wins
 * (kill > stop > deny > verify > audit > allow), ties go to the first rule in policy order,
 * and with no match the policy's default decides. Rule order never changes the effect.
 */
import { ACTIONS, type Decision, type Request } from "../types.js";
import type { CompiledPolicy, CompiledRule } from "./compile.js";
import { matchRule } from "./match.js";
import type { RateBook } from "./rate.js";

const KNOWN_ACTIONS: ReadonlySet<string> = new Set(ACTIONS);

/** The decision when a request cannot be decided: fail closed. */
export function failClosed(why: string): Decision {
  return { effect: "deny", rule: null, reason: `${why}; denied (fail closed)`, matched: [] };
}

/**
 * Decides one request. With `record` false (explain) rate limits are checked but not counted.
 * May throw on a malformed request; the caller turns that into a fail-closed deny.
 */
export function decideWith(policy: CompiledPolicy, rates: RateBook, request: Request, now: () => number, record: boolean): Decision {
  if (typeof request !== "object" || request === null) return failClosed("invalid request: not an object");
  const root = policy.index.get(request.action);
  if (root === undefined || !KNOWN_ACTIONS.has(request.action)) return failClosed(`invalid request: unknown action ${JSON.stringify(request.action)}`);
  const resource = request.resource;
  if (typeof resource !== "string") return failClosed("invalid request: the resource is not a string");
  if (request.method !== undefined && typeof request.method !== "string") return failClosed("invalid request: the method is not a string");

  let best: CompiledRule | null = null;
  let matched: CompiledRule[] | null = null;
  let node = root;
  let start = 0;
  for (;;) {
    const rules = node.rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i];
      if (!matchRule(rule, request)) continue;
      if (matched === null) matched = [rule];
      else matched.push(rule);
      if (best === null || rule.rank > best.rank || (rule.rank === best.rank && rule.index < best.index)) best = rule;
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

  if (best === null || matched === null) {
    return { effect: policy.defaultEffect, rule: null, reason: policy.defaultReason, matched: [] };
  }
  if (matched.length > 1) matched.sort(byIndex);
  const ids = matched.map(idOf);
  if ((best.effect === "allow" || best.effect === "audit") && policy.rateSlots > 0) {
    const limited = checkRates(best, matched, rates, String(request.agent), now, record);
    if (limited !== null) {
      return {
        effect: "deny",
        rule: limited.id,
        reason: `rate-limit: rule ${limited.id} allows ${limited.rate!.count}/${limited.rate!.unit} per agent and agent ${JSON.stringify(String(request.agent))} has reached it`,
        matched: ids,
      };
    }
  }
  const decision: Decision = { effect: best.effect, rule: best.id, reason: best.reason, matched: ids };
  if (best.effect === "verify" && best.spec.verify) {
    const { models, ...rest } = best.spec.verify;
    decision.verify = models ? { ...rest, models: models.map((m) => ({ ...m })) } : { ...rest };
  }
  return decision;
}

/**
 * Every matching rule of the winning effect that has a rate must allow one more call; only
 * then are they all counted. Returns the first rule over its rate, or null.
 */
function checkRates(best: CompiledRule, matched: CompiledRule[], rates: RateBook, agent: string, now: () => number, record: boolean): CompiledRule | null {
  let time = NaN;
  for (const rule of matched) {
    if (rule.rate === null || rule.rank !== best.rank) continue;
    if (Number.isNaN(time)) {
      time = now();
      if (typeof time !== "number" || !Number.isFinite(time)) throw new Error("the rate-limit clock did not return a finite number");
    }
    if (!rates.allows(rule.rateSlot, rule.rate, agent, time)) return rule;
  }
  if (record && !Number.isNaN(time)) {
    for (const rule of matched) if (rule.rate !== null && rule.rank === best.rank) rates.record(rule.rateSlot, rule.rate, agent, time);
  }
  return null;
}

function byIndex(a: CompiledRule, b: CompiledRule): number {
  return a.index - b.index;
}

function idOf(rule: CompiledRule): string {
  return rule.id;
}

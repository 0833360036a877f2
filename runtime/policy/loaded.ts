/** LoadedPolicy: a compiled policy with its rate-limit state, deciding and explaining requests. */
import type { Action, Decision, DecideOptions, Effect, ModelAlias, Policy, PolicyLimits, Request, SecretSpec, VerificationSettings } from "../types.js";
import { compileMerged, type CompiledPolicy } from "./compile.js";
import type { KernelLog } from "../episodic/log.js";
import { canonicalizeRequest } from "./canonical-request.js";
import { countPast, couldAllowWith, decideWith, failClosed } from "./decide.js";
import { traceRules, type Explanation } from "./explain.js";
import type { MergedPolicy } from "./merge.js";
import { primeFromEvents, type PrimeReport, type RatePriming } from "./prime.js";
import { RateBook } from "./rate.js";
import type { Rate } from "./units.js";
import type { RuleSpec } from "./rule.js";

/** A rule as the policy holds it (read-only): its id, effect, conditions and where it was written. */
export type PolicyRule = RuleSpec;

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function message(e: unknown): string {
  try {
    return e instanceof Error ? e.message : String(e);
  } catch {
    return "unprintable error";
  }
}

/**
 * A loaded policy. Create one with loadPolicy or resolvePolicy. Each instance keeps its own
 * rate-limit counters; everything else is immutable.
 */
export class LoadedPolicy implements Policy, RatePriming {
  readonly name: string;
  readonly description?: string;
  readonly hash: string;
  readonly defaultEffect: Effect;
  readonly limits: PolicyLimits;
  readonly verification?: Partial<VerificationSettings>;
  readonly secrets?: readonly SecretSpec[];
  readonly models?: Readonly<Record<string, ModelAlias>>;
  /** The root file the policy was loaded from, or "<inline>". */
  readonly source: string;
  /** Every rule after `extends` is merged, parents first, with its id. */
  readonly rules: readonly PolicyRule[];
  readonly #compiled: CompiledPolicy;
  #rates: RateBook;
  readonly #now: () => number;

  constructor(merged: MergedPolicy, now: () => number) {
    this.name = merged.name;
    if (merged.description !== undefined) this.description = merged.description;
    this.hash = merged.hash;
    this.defaultEffect = merged.defaultEffect;
    this.limits = Object.freeze({ ...merged.limits });
    if (merged.verification) this.verification = deepFreeze(structuredClone(merged.verification));
    if (merged.secrets) this.secrets = deepFreeze(structuredClone(merged.secrets));
    if (merged.models) this.models = deepFreeze(structuredClone(merged.models));
    this.source = merged.source;
    this.rules = deepFreeze(merged.rules.map((r) => structuredClone(r)));
    this.#compiled = compileMerged({ ...merged, rules: this.rules as RuleSpec[] });
    this.#rates = new RateBook(this.#compiled.rateSlots);
    this.#now = now;
  }

  /** The rate of the rule with this id, or null (no such rule, or no rate). */
  rateOf(ruleId: string): Readonly<Rate> | null {
    return this.#compiled.rules.find((r) => r.id === ruleId)?.rate ?? null;
  }

  /**
   * Whether some allow, audit or verify rule on `action` has a resource glob matching `resource`
   * (its other conditions aside), or the default allows: what tools.list shows.
   *
   * @example policy.couldAllow("tool.call", "github/create_issue")
   */
  couldAllow(action: Action, resource: string): boolean {
    try {
      return couldAllowWith(this.#compiled, action, resource);
    } catch {
      return false;
    }
  }

  /**
   * Decides a request. Never throws: a malformed request or any internal failure is a deny
   * whose reason says so. The request is canonicalized first, as the gate would (an action's
   * alias, the fs path, the URL, the method's case); a resource that cannot be made canonical
   * is a fail-closed deny naming why.
   *
   * Rate limits count per agent name and per agent code (`request.code`); with
   * `{ count: false }`, they are checked but the call is not counted.
   *
   * @example policy.decide(canonicalRequest("fs.write", "/prod/x")) // { effect: "deny", rule: "no-prod-writes", ... }
   */
  decide(request: Request, options?: DecideOptions): Decision {
    try {
      return decideWith(this.#compiled, this.#rates, request, this.#now, options?.count !== false);
    } catch (e) {
      return failClosed(`policy engine failure: ${message(e)}`);
    }
  }

  /**
   * The decision `decide` would make (without counting it against rate limits), the rules that
   * matched and why, and every rule on the request's action.
   *
   * @example policy.explain(canonicalRequest("sql.query", "main", { sql })).matched.map((r) => r.id)
   */
  explain(given: Request): Explanation {
    let decision: Decision;
    let request = given;
    let considered: Explanation["considered"] = [];
    try {
      decision = decideWith(this.#compiled, this.#rates, given, this.#now, false);
      const canonical = canonicalizeRequest(given);
      if (typeof canonical !== "string") {
        request = canonical;
        considered = traceRules(this.#compiled, canonical);
      }
    } catch (e) {
      decision = failClosed(`policy engine failure: ${message(e)}`);
    }
    const explanation: Explanation = { request, decision, matched: considered.filter((t) => t.matched), considered, totalRules: this.rules.length };
    if (request !== given) explanation.given = given;
    return explanation;
  }

  /**
   * Resets the rate windows and counts into them the calls of the log's last window (the
   * longest of any rule's rate) that were let through: what the kernel does when it opens a
   * durable log (see primeRates in prime.ts), so that a restart does not reset rate limits.
   *
   * @example await policy.primeRates(log) // { events: 120, counted: 40, lookedUp: 2 }
   */
  async primeRates(log: Pick<KernelLog, "query">): Promise<PrimeReport> {
    // Counted into a fresh book, swapped in whole: a failure leaves the old counts.
    const compiled = this.#compiled;
    const rates = new RateBook(compiled.rateSlots);
    const primer = {
      longestWindowMs: compiled.longestWindowMs,
      countPastCall: (request: Request, time: number) => countPast(compiled, rates, request, time),
    };
    const report = await primeFromEvents(primer, log, this.#now());
    this.#rates = rates;
    return report;
  }

  /** Forgets every rate-limit count. */
  resetRates(): void {
    this.#rates.reset();
  }
}

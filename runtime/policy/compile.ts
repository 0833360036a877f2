/**
 * The compiled form of a policy: rules with precompiled matchers, indexed by canonical action
 * and then by the literal leading segments of their resource globs, so that a decision looks
 * only at the rules that could match its action and resource.
 */
import { ACTIONS, EFFECTS, type Action, type Effect } from "../types.js";
import { ACTION_ALIASES } from "./actions.js";
import { compileGlobs, type GlobMatcher } from "./glob.js";
import type { MergedPolicy } from "./merge.js";
import type { RuleSpec } from "./rule.js";
import type { Rate } from "./units.js";
import { compileArgs, type CompiledArg } from "./tool-rules.js";

/** One rule ready to decide. Internal: the public view is its `spec`. */
export interface CompiledRule {
  readonly spec: RuleSpec;
  readonly id: string;
  /** Position in the merged policy: ties between equally strong rules go to the first. */
  readonly index: number;
  readonly effect: Effect;
  /** Strength of the effect (EFFECTS order): the strongest matching rule decides. */
  readonly rank: number;
  /** `resource` or, for sql.query, `database`. */
  readonly resource: GlobMatcher | null;
  readonly methods: ReadonlySet<string> | null;
  readonly pattern: RegExp | null;
  readonly operations: ReadonlySet<string> | null;
  readonly tables: GlobMatcher | null;
  readonly needsSql: boolean;
  /** tool.call: constraints on the arguments. */
  readonly args: readonly CompiledArg[] | null;
  /** tool.call: the pinned tool hash. */
  readonly pin: string | null;
  /** An allow rule's `approves:`: the ask rules it answers in advance where it matches strictly. */
  readonly approves: ReadonlySet<string> | null;
  /**
   * A rule that can let a call through (allow, audit, verify): it lets a call through only when
   * every condition holds strictly (see match.ts). A denying rule (deny, stop, kill) matches
   * whenever a condition may hold, so that missing facts never widen access.
   */
  readonly allowing: boolean;
  readonly rate: Readonly<Rate> | null;
  /** Index into the policy's rate-limit state, or -1. */
  readonly rateSlot: number;
  readonly reason: string;
}

/** A node of the per-action index: rules whose globs share these leading segments. */
export interface IndexNode {
  readonly rules: CompiledRule[];
  children: Map<string, IndexNode> | null;
}

export interface CompiledPolicy {
  readonly rules: readonly CompiledRule[];
  /** Canonical actions and aliases to the root of their index (every action has one). */
  readonly index: ReadonlyMap<string, IndexNode>;
  /** Canonical actions to their rules in policy order (for explain). */
  readonly byAction: ReadonlyMap<Action, readonly CompiledRule[]>;
  readonly defaultEffect: Effect;
  readonly defaultRank: number;
  readonly defaultReason: string;
  readonly rateSlots: number;
  /** The rules with a `rate`, in policy order. */
  readonly rateRules: readonly CompiledRule[];
  /** The longest window of any rule's rate, in milliseconds (0 without rates). */
  readonly longestWindowMs: number;
  /** Whether some rule has `approves:` (decide looks for answered ask rules only then). */
  readonly approving: boolean;
}

/** The rank of `deny`: every weaker effect can let a call through. */
export const DENY_RANK = EFFECTS.indexOf("deny");

const VERBS: Readonly<Record<Effect, string>> = {
  allow: "allows",
  audit: "allows (audited)",
  verify: "asks verification for",
  ask: "asks a person about",
  deny: "denies",
  stop: "denies and stops the agent on",
  kill: "denies and kills the agent on",
};

/** The reason a rule gives when it has no `reason:`, e.g. "rule no-prod-writes denies fs.write on /prod/**". */
export function generatedReason(spec: RuleSpec): string {
  const on = spec.resource ?? spec.database;
  const actions = spec.action.map((a) => (Object.hasOwn(ACTION_ALIASES, a) ? ACTION_ALIASES[a] : a));
  const parts = [`rule ${spec.id} ${VERBS[spec.effect]} ${actions.join(", ")}`];
  if (on) parts.push(`on ${on.join(" or ")}`);
  if (spec.methods) parts.push(`with method ${spec.methods.join(" or ")}`);
  if (spec.pattern) parts.push(`matching /${spec.pattern}/`);
  if (spec.operations) parts.push(`for ${spec.operations.join(", ")}`);
  if (spec.tables) parts.push(`on tables ${spec.tables.join(", ")}`);
  if (spec.args) parts.push(`with arguments ${Object.keys(spec.args).join(", ")} constrained`);
  if (spec.pin) parts.push(`pinned to ${spec.pin}`);
  return parts.join(" ");
}

/**
 * Compiles a merged policy.
 *
 * @example compileMerged(mergePolicy("rules: []")).defaultReason === "no rule matched; default deny"
 */
export function compileMerged(policy: MergedPolicy): CompiledPolicy {
  let rateSlots = 0;
  const rules = policy.rules.map((spec, index): CompiledRule => {
    const globs = spec.resource ?? spec.database;
    return {
      spec,
      id: spec.id,
      index,
      effect: spec.effect,
      rank: EFFECTS.indexOf(spec.effect),
      resource: globs ? compileGlobs(globs) : null,
      methods: spec.methods ? new Set(spec.methods) : null,
      pattern: spec.pattern === undefined ? null : new RegExp(spec.pattern, "i"),
      operations: spec.operations ? new Set(spec.operations) : null,
      tables: spec.tables ? compileGlobs(spec.tables, { nocase: true }) : null,
      needsSql: spec.pattern !== undefined || spec.operations !== undefined || spec.tables !== undefined,
      args: spec.args ? compileArgs(spec.args) : null,
      pin: spec.pin ?? null,
      approves: spec.approves ? new Set(spec.approves) : null,
      allowing: EFFECTS.indexOf(spec.effect) < DENY_RANK,
      rate: spec.rate ?? null,
      rateSlot: spec.rate ? rateSlots++ : -1,
      reason: spec.reason ?? generatedReason(spec),
    };
  });
  const byAction = new Map<Action, CompiledRule[]>();
  const index = new Map<string, IndexNode>();
  for (const action of ACTIONS) {
    const mine = rules.filter((r) => r.spec.actions.includes(action));
    byAction.set(action, mine);
    index.set(action, buildIndex(mine));
  }
  for (const [alias, action] of Object.entries(ACTION_ALIASES)) index.set(alias, index.get(action)!);
  const rateRules = rules.filter((r) => r.rate !== null);
  return {
    rules,
    index,
    byAction,
    defaultEffect: policy.defaultEffect,
    defaultRank: EFFECTS.indexOf(policy.defaultEffect),
    defaultReason: `no rule matched; default ${policy.defaultEffect}`,
    rateSlots,
    rateRules,
    longestWindowMs: Math.max(0, ...rateRules.map((r) => r.rate!.windowMs)),
    approving: rules.some((r) => r.approves !== null),
  };
}

function buildIndex(rules: CompiledRule[]): IndexNode {
  const root: IndexNode = { rules: [], children: null };
  for (const rule of rules) {
    let node = root;
    for (const segment of rule.resource?.key ?? []) {
      node.children ??= new Map();
      let child = node.children.get(segment);
      if (!child) node.children.set(segment, (child = { rules: [], children: null }));
      node = child;
    }
    node.rules.push(rule);
  }
  return root;
}

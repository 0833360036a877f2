/**
 * Whether one compiled rule matches one request. The same function serves decide (fast, no
 * trace) and explain (with `why`, a list the function appends its reasoning to), so that the
 * two can never disagree.
 *
 * Each condition holds strictly (for the whole request), loosely (only for part of it: some
 * of the statement's operations or tables; or it cannot be evaluated: no SQL facts, no method,
 * a statement too long for `pattern`), or not at all. A rule that denies (deny, stop, kill)
 * matches when every condition holds at least loosely: missing facts never let a call dodge
 * it. A rule that can let a call through (allow, audit, verify) lets it through only when every
 * condition holds strictly; when some hold only loosely it merely tightens: its stronger effect
 * and its rate apply to a call that another rule (or the default) lets through, and it never
 * lets through a call on its own.
 */
import type { Request, SqlFacts } from "../types.js";
import type { CompiledRule } from "./compile.js";
import { argHolds } from "./tool-rules.js";

/**
 * The longest SQL text a `pattern` is run on. Beyond it the pattern cannot be evaluated, which
 * (like missing SQL facts) makes an allowing rule not match and a denying rule match.
 */
export const MAX_PATTERN_SUBJECT = 64 * 1024;

/** The rule does not match. */
export const NO_MATCH = 0;
/** An allowing rule whose conditions hold only loosely: it can tighten a decision, never allow. */
export const TIGHTENS = 1;
/** The rule matches: a denying rule loosely or strictly, an allowing rule strictly. */
export const MATCHES = 2;
export type MatchLevel = typeof NO_MATCH | typeof TIGHTENS | typeof MATCHES;

// How one condition holds: loosely (bit 1), strictly (bit 2), or both. Strictly does not imply
// loosely: over a statement that touches no table, every one of none fits `tables`, but no one
// of none is named, so a deny rule on tables does not match `SELECT 1`.
const FAILS = 0;
const LOOSE = 1;
const STRICT = 2;
const BOTH = 3;
// What every condition so far did (a state starting at ALL, ANDed with `seen(c)` per condition):
// held loosely (bit 1, what a denying rule needs), held strictly (bit 2, what lets a call
// through), held at all (bit 4, what tightens).
const ALL = 7;
const HELD = 4;

function seen(holds: number): number {
  return holds === FAILS ? FAILS : holds | HELD;
}

const q = JSON.stringify;

/**
 * @example matchRule(rule, canonicalRequest("fs.write", "/prod/x")) // MATCHES for a rule on /prod/**
 */
export function matchRule(rule: CompiledRule, request: Request, why?: string[]): MatchLevel {
  if (rule.resource !== null) {
    const ok = rule.resource.test(request.resource);
    why?.push(`resource ${q(request.resource)} ${ok ? "matches" : "does not match"} ${rule.resource.globs.join(" or ")}`);
    if (!ok) return NO_MATCH;
  }
  let state = ALL;
  if (rule.methods !== null) {
    state &= seen(methodHolds(rule, request.method, why));
    if (level(rule, state) === NO_MATCH) return NO_MATCH;
  }
  if (rule.pin !== null) {
    const ok = request.toolHash === rule.pin;
    why?.push(`the tool's hash ${request.toolHash ?? "(none)"} ${ok ? "is" : "is not"} the pinned ${rule.pin}`);
    if (!ok) return NO_MATCH;
  }
  if (rule.args !== null) {
    for (const c of rule.args) {
      const { holds, why: text } = argHolds(c, request.args);
      why?.push(holds === "unknown" ? `${text}: ${unknownEffect(rule)}` : text);
      state &= seen(holds === "yes" ? BOTH : holds === "unknown" ? LOOSE : FAILS);
      if (level(rule, state) === NO_MATCH) return NO_MATCH;
    }
  }
  if (rule.needsSql) state &= sqlState(rule, request.sql, why);
  return level(rule, state);
}

function level(rule: CompiledRule, state: number): MatchLevel {
  if (!rule.allowing) return state & LOOSE ? MATCHES : NO_MATCH;
  if (state & STRICT) return MATCHES;
  return state & HELD ? TIGHTENS : NO_MATCH;
}

function methodHolds(rule: CompiledRule, method: string | undefined, why: string[] | undefined): number {
  if (typeof method !== "string") {
    why?.push(`the request has no method: ${unknownEffect(rule)}`);
    return LOOSE;
  }
  const ok = rule.methods!.has(method) || rule.methods!.has(method.toUpperCase());
  why?.push(`method ${method} ${ok ? "is" : "is not"} one of ${[...rule.methods!].join(", ")}`);
  return ok ? BOTH : FAILS;
}

/** What a condition that cannot be evaluated does to this rule, for explain. */
function unknownEffect(rule: CompiledRule): string {
  return rule.allowing
    ? `${article(rule.effect)} ${rule.effect} rule cannot let the call through on it (it can only tighten what another rule allows)`
    : `${article(rule.effect)} ${rule.effect} rule matches to be safe`;
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? "an" : "a";
}

/** The state (see ALL) of the rule's SQL conditions together. */
function sqlState(rule: CompiledRule, sql: SqlFacts | undefined, why: string[] | undefined): number {
  if (sql === undefined || sql === null) {
    why?.push(`the statement has no SQL facts (it could not be analyzed): ${unknownEffect(rule)}`);
    return seen(LOOSE);
  }
  let state = ALL;
  const pattern = rule.pattern;
  if (pattern !== null) {
    if (sql.canonical.length > MAX_PATTERN_SUBJECT || sql.statement.length > MAX_PATTERN_SUBJECT) {
      why?.push(`the statement is longer than ${MAX_PATTERN_SUBJECT} characters, too long for pattern matching: ${unknownEffect(rule)}`);
      state &= seen(LOOSE);
    } else {
      const hit = pattern.test(sql.canonical) || sql.operations.some((op) => pattern.test(op)) || pattern.test(sql.statement);
      why?.push(`the statement ${hit ? "matches" : "does not match"} /${pattern.source}/i`);
      if (!hit) return FAILS;
    }
  }
  const operations = rule.operations;
  if (operations !== null) {
    // Strictly: every operation is listed (`select 1; drop table x` is not a select); loosely: one is.
    const ops = sql.operations;
    const named = (op: string) => operations.has(op.toLowerCase());
    const every = ops.length > 0 && ops.every(named);
    const some = every || ops.some(named);
    state &= seen((every ? STRICT : FAILS) | (some ? LOOSE : FAILS));
    why?.push(`operations [${ops.join(", ")}] ${every ? "are all" : some ? "are only partly" : "are none"} of [${[...operations].join(", ")}]`);
    if (level(rule, state) === NO_MATCH) return FAILS;
  }
  const tables = rule.tables;
  if (tables !== null) {
    const touched = [...sql.reads, ...sql.writes];
    const fits = (t: string) => tables.test(t);
    const some = touched.some(fits);
    const every = some ? touched.every(fits) : touched.length === 0;
    state &= seen((every ? STRICT : FAILS) | (some ? LOOSE : FAILS));
    why?.push(`tables [${touched.join(", ")}] ${touched.length === 0 ? "(none)" : every ? "all fit" : some ? "only partly fit" : "none fit"} ${tables.globs.join(", ")}`);
  }
  return state;
}

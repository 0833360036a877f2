/**
 * The policy fields of human approvals: a rule's `ask:` settings (effect ask only) and an allow
 * rule's `approves:` (the ask rules it answers in advance, written by an approval of scope
 * "always"; see runtime/approvals).
 */
import type { Effect } from "../types.js";
import { Problems, checkKeys, describe, getStringList, isRecord } from "./check.js";
import type { FieldPath } from "./parse.js";
import { parseDuration } from "./units.js";

/** The longest `ask.timeout`: a day (a timer cannot wait much longer, and nobody should). */
export const MAX_ASK_TIMEOUT_MS = 24 * 60 * 60 * 1000;

const ASK_FIELDS = ["timeout"] as const;
const RULE_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;

/** A rule's `ask:` settings: how long a person has to answer, in milliseconds. */
export interface AskSettings {
  timeout?: number;
}

/**
 * Checks a rule's `ask:` block (`{ timeout: 5m }`), allowed only on a rule with effect ask.
 *
 * @example validateAsk({ timeout: "200ms" }, "ask", ["rules", 0, "ask"], problems) // { timeout: 200 }
 */
export function validateAsk(raw: unknown, effect: Effect | undefined, field: FieldPath, problems: Problems): AskSettings | undefined {
  if (effect !== undefined && effect !== "ask") {
    problems.add(field, `"ask" settings apply only to rules with effect ask, not ${effect}`);
    return undefined;
  }
  if (!isRecord(raw)) {
    problems.add(field, `expected a rule's ask settings (a mapping with timeout), got ${describe(raw)}`);
    return undefined;
  }
  checkKeys(raw, ASK_FIELDS, field, problems, "a rule's ask settings");
  const out: AskSettings = {};
  if (raw.timeout !== undefined) {
    const parsed = parseDuration(raw.timeout, 1);
    if (!parsed.ok) problems.add([...field, "timeout"], `expected ${parsed.expected}, got ${describe(raw.timeout)}`);
    else if (parsed.value > MAX_ASK_TIMEOUT_MS) problems.add([...field, "timeout"], `expected a duration of at most 24h, got ${describe(raw.timeout)}`);
    else out.timeout = parsed.value;
  }
  return out;
}

/**
 * Checks an allow rule's `approves:` (an ask rule's id, or a list of them): where this rule
 * matches a call strictly, those ask rules take no part in its decision. Allowed only on rules
 * with effect allow. An id that names no rule approves nothing (the ask rule may live in
 * another file).
 *
 * @example validateApproves("ask-writes", "allow", ["rules", 3, "approves"], problems) // ["ask-writes"]
 */
export function validateApproves(raw: unknown, effect: Effect | undefined, field: FieldPath, problems: Problems): string[] | undefined {
  if (effect !== undefined && effect !== "allow") {
    problems.add(field, `"approves" applies only to rules with effect allow (an approval written by agent-os approve --scope always), not ${effect}`);
    return undefined;
  }
  return getStringList(raw, field, problems, "the id of an ask rule", (id) =>
    RULE_ID.test(id) ? undefined : `expected a rule id made of letters, digits and . _ : / -, got ${describe(id)}`,
  );
}

/**
 * What the gate accepts as a policy's answer. A custom Policy is host code the kernel cannot
 * vouch for: its answer is copied once into a plain Decision, or refused.
 */
import { EFFECTS, type Decision, type Effect } from "./types.js";
import { MAX_ASK_TIMEOUT_MS } from "./policy/ask.js";

/**
 * A plain copy of a decision, each field read once (a getter cannot tell the log one effect
 * and the gate another), or undefined for anything but a Decision: an effect not spelled
 * exactly, a rule that is neither a string nor null, no reason, `matched` not a list of strings,
 * an `ask` timeout that is not 1 ms to 24 h.
 *
 * @example wellFormedDecision({ effect: "ALLOW", rule: null, reason: "", matched: [] }) // undefined
 */
export function wellFormedDecision(answer: unknown): Decision | undefined {
  if (typeof answer !== "object" || answer === null) return undefined;
  const { effect, rule, reason, matched, verify, ask } = answer as Record<string, unknown>;
  if (typeof effect !== "string" || !(EFFECTS as readonly string[]).includes(effect)) return undefined;
  if ((rule !== null && typeof rule !== "string") || typeof reason !== "string" || !Array.isArray(matched)) return undefined;
  const ids: unknown[] = Array.from(matched);
  if (!ids.every((id) => typeof id === "string")) return undefined;
  const decision: Decision = { effect: effect as Effect, rule, reason, matched: ids as string[] };
  // (an `approval` is the gate's to set, after a person answered: a policy's is not copied)
  if (ask !== undefined) {
    const timeout = typeof ask === "object" && ask !== null ? (ask as { timeout?: unknown }).timeout : null;
    if (timeout !== undefined && !(typeof timeout === "number" && timeout >= 1 && timeout <= MAX_ASK_TIMEOUT_MS)) return undefined;
    decision.ask = timeout === undefined ? {} : { timeout };
  }
  if (verify === undefined) return decision;
  if (typeof verify !== "object" || verify === null) return undefined;
  return { ...decision, verify: { ...verify } };
}

/**
 * An error's message for a reason, whatever was thrown (a getter that throws included).
 *
 * @example errorText(new Error("boom")) // "boom"
 */
export function errorText(error: unknown): string {
  try {
    return error instanceof Error ? String(error.message) : String(error);
  } catch {
    return "an error that cannot be read";
  }
}

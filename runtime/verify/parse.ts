/**
 * The strict verdict parser. A model's message content must be exactly one JSON object with
 * exactly three keys, and nothing else around it but whitespace:
 *
 *   {"verdict": "approve" | "reject", "confidence": <number 0..1>, "reason": "<text>"}
 *
 * No prose before or after, no code fence, no extra or repeated keys, no other types. Anything
 * else is not a verdict, and the caller counts it as a rejection: a model that was talked into
 * writing "approve" somewhere in a paragraph has not approved.
 */

export type VerdictValue = "approve" | "reject";

export interface Verdict {
  verdict: VerdictValue;
  confidence: number;
  reason: string;
}

export type ParsedVerdict = { ok: true; value: Verdict } | { ok: false; problem: string };

/** Longest answer read at all, and longest reason kept (the rest is cut, not rejected). */
export const MAX_ANSWER_CHARS = 8192;
export const MAX_REASON_CHARS = 1000;

const KEYS = ["verdict", "confidence", "reason"] as const;

/**
 * Parses a model's answer.
 *
 * @example parseVerdict('{"verdict":"approve","confidence":0.9,"reason":"fits the task"}') // { ok: true, value: {...} }
 * @example parseVerdict('Sure! {"verdict":"approve", ...}') // { ok: false, problem: "not a JSON object: ..." }
 */
export function parseVerdict(content: string): ParsedVerdict {
  if (typeof content !== "string") return { ok: false, problem: "the answer is not text" };
  if (content.length > MAX_ANSWER_CHARS) return { ok: false, problem: `the answer is longer than ${MAX_ANSWER_CHARS} characters` };
  const text = content.trim();
  if (!text.startsWith("{") || !text.endsWith("}")) return { ok: false, problem: `not a JSON object: ${excerpt(text)}` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, problem: `not valid JSON: ${excerpt(text)}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { ok: false, problem: "not a JSON object" };
  const keys = topLevelKeys(text);
  const extra = keys.filter((k) => !(KEYS as readonly string[]).includes(k));
  if (extra.length > 0) return { ok: false, problem: `unexpected key ${JSON.stringify(extra[0])} (only verdict, confidence, reason)` };
  if (keys.length !== new Set(keys).size) return { ok: false, problem: "a key appears twice" };
  const { verdict, confidence, reason } = value as Record<string, unknown>;
  if (verdict !== "approve" && verdict !== "reject") return { ok: false, problem: `verdict must be "approve" or "reject", got ${excerpt(JSON.stringify(verdict) ?? "nothing")}` };
  if (typeof confidence !== "number" || !Number.isFinite(confidence) || confidence < 0 || confidence > 1) {
    return { ok: false, problem: `confidence must be a number from 0 to 1, got ${excerpt(JSON.stringify(confidence) ?? "nothing")}` };
  }
  if (typeof reason !== "string") return { ok: false, problem: "reason must be a string" };
  const cut = reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS)}…` : reason;
  return { ok: true, value: { verdict, confidence, reason: cut } };
}

/**
 * The keys of the outermost object of valid JSON text, in order, repeats included (JSON.parse
 * keeps only the last of a repeated key, which would let `"verdict":"reject","verdict":"approve"`
 * through).
 */
function topLevelKeys(json: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === "\\" ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(json.slice(i, j + 1)) as string);
      expectKey = false;
      i = j;
    } else if (c === "{" || c === "[") {
      depth++;
      expectKey = c === "{" && depth === 1;
    } else if (c === "}" || c === "]") {
      depth--;
    } else if (c === "," && depth === 1) {
      expectKey = true;
    }
  }
  return keys;
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, " ");
  return JSON.stringify(flat.length > 80 ? `${flat.slice(0, 80)}…` : flat);
}

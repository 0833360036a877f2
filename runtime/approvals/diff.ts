/**
 * A unified diff of two texts, for showing an operator what an approval of scope "always" writes
 * into a policy file before it is written. The texts differ in one place (a rule inserted), so
 * the diff is one hunk: the common lines before and after are trimmed, three kept as context.
 */

const CONTEXT = 3;

/**
 * The unified diff from `before` to `after` ("" when they are equal).
 *
 * @example unifiedDiff("a\nc\n", "a\nb\nc\n", "policy.yaml") // "--- policy.yaml\n+++ policy.yaml\n@@ -1,2 +1,3 @@\n a\n+b\n c\n"
 */
export function unifiedDiff(before: string, after: string, file: string): string {
  if (before === after) return "";
  const a = lines(before);
  const b = lines(after);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const from = Math.max(0, head - CONTEXT);
  const aEnd = a.length - tail;
  const bEnd = b.length - tail;
  const after3 = Math.min(tail, CONTEXT);
  const out = [`--- ${file}`, `+++ ${file}`];
  const aCount = aEnd - from + after3;
  const bCount = bEnd - from + after3;
  out.push(`@@ -${range(from, aCount)} +${range(from, bCount)} @@`);
  for (let i = from; i < head; i++) out.push(` ${a[i]}`);
  for (let i = head; i < aEnd; i++) out.push(`-${a[i]}`);
  for (let i = head; i < bEnd; i++) out.push(`+${b[i]}`);
  for (let i = aEnd; i < aEnd + after3; i++) out.push(` ${a[i]}`);
  return out.join("\n") + "\n";
}

/** A hunk's start and length as unified diffs write them (an empty range starts one line before). */
function range(from: number, count: number): string {
  return count === 0 ? `${from},0` : `${from + 1},${count}`;
}

/** The lines of a text; a last line without a newline is a line too. */
function lines(text: string): string[] {
  if (text === "") return [];
  const out = text.split("\n");
  if (out[out.length - 1] === "") out.pop();
  return out;
}

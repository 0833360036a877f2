/**
 * Agent text on the operator's terminal. Paths, URLs, checkpoint labels, outputs and errors come
 * from agents; printed raw, a newline forges a timeline line and an ESC sequence retitles or
 * rewrites the terminal. Every human-readable line the command prints goes through
 * {@link escapeText}; `--json` output stays exact (see {@link safeJson}).
 */

/**
 * What never reaches the terminal raw: C0 controls (newlines, ESC, ...), DEL, C1 controls
 * (U+0080-U+009F), format characters (the bidi controls U+202A-U+202E, U+2066-U+2069, U+200E,
 * U+200F, U+061C; zero-width characters; soft hyphen), the line and paragraph separators
 * U+2028 and U+2029, and lone surrogates.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
const NAMED: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escapeChar(ch: string): string {
  const named = NAMED[ch];
  if (named !== undefined) return named;
  const code = ch.codePointAt(0)!;
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, "0")}`;
  if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, "0")}`;
  return `\\u{${code.toString(16)}}`;
}

/**
 * Escapes one line of text for the terminal: every unsafe character (see above) becomes a
 * visible escape (`\n`, `\x1b`, `\u202e`), so the result is one line with no control in it.
 * Backslashes are left as they are: the point is what the terminal does, not a reversible code.
 *
 * @example escapeText("a\nb\x1b]0;title\x07") === "a\\nb\\x1b]0;title\\x07"
 */
export function escapeText(text: string): string {
  return String(text).replace(UNSAFE, escapeChar);
}

/**
 * Escapes a block whose line breaks are meant (an agent's whole output, an operator's policy
 * message): like {@link escapeText}, but `\n` stays a line break. A `\r` is escaped, so no line
 * can overwrite another.
 *
 * @example escapeLines("one\ntwo\r\x1b[2K") === "one\ntwo\\r\\x1b[2K"
 */
export function escapeLines(text: string): string {
  return String(text).split("\n").map(escapeText).join("\n");
}

/** What JSON.stringify leaves raw that a terminal may act on: DEL, C1, format characters, separators. */
const JSON_UNSAFE = /[\u007f-\u009f\p{Cf}\u2028\u2029]/gu;

/**
 * JSON.stringify, with the characters that JSON leaves raw but a terminal may act on (DEL, C1
 * controls, bidi and other format characters, U+2028, U+2029) written as `\uXXXX` escapes. The
 * text parses back to exactly the same value: `--json` stays exact.
 *
 * @example JSON.parse(safeJson({ path: "/a\u202eb" })).path === "/a\u202eb"
 */
export function safeJson(value: unknown, space?: number): string {
  return escapeQuoted(JSON.stringify(value, null, space) ?? "null");
}

/**
 * Rewrites the terminal-active characters that JSON.stringify leaves raw as `\uXXXX` escapes,
 * in text whose strings are all JSON-quoted (JSON, or YAML written with JSON-quoted scalars, as
 * `policy suggest` writes it): inside such strings the escape means the same character; outside
 * them (YAML comments) the text only becomes visible.
 *
 * @example escapeQuoted('"a\u202eb"') === '"a\\u202eb"'
 */
export function escapeQuoted(text: string): string {
  return text.replace(JSON_UNSAFE, (ch) => {
    const code = ch.codePointAt(0)!;
    if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, "0")}`;
    const hi = Math.floor((code - 0x10000) / 0x400) + 0xd800;
    const lo = ((code - 0x10000) % 0x400) + 0xdc00;
    return `\\u${hi.toString(16)}\\u${lo.toString(16)}`;
  });
}

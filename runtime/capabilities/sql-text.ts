/**
 * SQL text as SQLite's tokenizer reads it: tokens, the one canonical spelling of a statement
 * (for the policy's `pattern` and the log), and how SQLite numbers a statement's parameters.
 * Nothing here needs a database: the operators' tools (runtime/policy/request.ts) and the
 * kernel's analyzer (sql-analyze.ts) canonicalize with this same code.
 */

export type TokenType = "space" | "word" | "string" | "ident" | "number" | "blob" | "variable" | "op";

export interface Token {
  type: TokenType;
  text: string;
  /** Offset in the statement. */
  at: number;
}

const KEYWORDS = new Set(
  ("ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYZE AND AS ASC ATTACH AUTOINCREMENT BEFORE BEGIN BETWEEN BY CASCADE CASE " +
    "CAST CHECK COLLATE COLUMN COMMIT CONFLICT CONSTRAINT CREATE CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP " +
    "DATABASE DEFAULT DEFERRABLE DEFERRED DELETE DESC DETACH DISTINCT DO DROP EACH ELSE END ESCAPE EXCEPT EXCLUDE EXCLUSIVE " +
    "EXISTS EXPLAIN FAIL FILTER FIRST FOLLOWING FOR FOREIGN FROM FULL GENERATED GLOB GROUP GROUPS HAVING IF IGNORE IMMEDIATE " +
    "IN INDEX INDEXED INITIALLY INNER INSERT INSTEAD INTERSECT INTO IS ISNULL JOIN KEY LAST LEFT LIKE LIMIT MATCH " +
    "MATERIALIZED NATURAL NO NOT NOTHING NOTNULL NULL NULLS OF OFFSET ON OR ORDER OTHERS OUTER OVER PARTITION PLAN PRAGMA " +
    "PRECEDING PRIMARY QUERY RAISE RANGE RECURSIVE REFERENCES REGEXP REINDEX RELEASE RENAME REPLACE RESTRICT RETURNING " +
    "RIGHT ROLLBACK ROW ROWS SAVEPOINT SELECT SET TABLE TEMP TEMPORARY THEN TIES TO TRANSACTION TRIGGER UNBOUNDED UNION " +
    "UNIQUE UPDATE USING VACUUM VALUES VIEW VIRTUAL WHEN WHERE WINDOW WITH WITHOUT").split(" "),
);

/**
 * Splits SQL into tokens the way SQLite's tokenizer does (comments and whitespace become
 * "space"). Unterminated strings and identifiers run to the end (prepare refuses them anyway).
 *
 * @example tokenize("SELECT 1").map((t) => t.type) // ["word", "space", "number"]
 */
export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const push = (type: TokenType, end: number) => {
    out.push({ type, text: sql.slice(i, end), at: i });
    i = end;
  };
  const until = (close: string, from: number, doubled: boolean): number => {
    let j = from;
    for (;;) {
      const k = sql.indexOf(close, j);
      if (k < 0) return sql.length;
      if (doubled && sql[k + 1] === close) j = k + 2;
      else return k + 1;
    }
  };
  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    if (/\s/.test(c)) push("space", i + (sql.slice(i).match(/^\s+/)?.[0].length ?? 1));
    else if (c === "-" && next === "-") push("space", sql.includes("\n", i) ? sql.indexOf("\n", i) + 1 : sql.length);
    else if (c === "/" && next === "*") push("space", sql.includes("*/", i + 2) ? sql.indexOf("*/", i + 2) + 2 : sql.length);
    else if ((c === "x" || c === "X") && next === "'") push("blob", until("'", i + 2, false));
    else if (c === "'") push("string", until("'", i + 1, true));
    else if (c === '"' || c === "`") push("ident", until(c, i + 1, true));
    else if (c === "[") push("ident", until("]", i + 1, false));
    else if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(next ?? ""))) push("number", i + (sql.slice(i).match(/^(0x[0-9a-f_]+|[0-9_.]+(e[+-]?[0-9_]+)?)/i)?.[0].length ?? 1));
    else if (c === "?" || ((c === ":" || c === "@" || c === "$") && /[A-Za-z0-9_$\u0080-\uffff]/.test(next ?? ""))) {
      push("variable", i + 1 + (sql.slice(i + 1).match(/^[A-Za-z0-9_$:\u0080-\uffff]*/)?.[0].length ?? 0));
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) push("word", i + (sql.slice(i).match(/^[A-Za-z0-9_$\u0080-\uffff]+/)?.[0].length ?? 1));
    else push("op", i + 1);
  }
  return out;
}

/** Comments removed, whitespace collapsed to one space, keywords upper-cased; literals and quoted identifiers untouched. */
export function canonicalText(tokens: Token[]): string {
  let out = "";
  let pendingSpace = false;
  for (const t of tokens) {
    if (t.type === "space") {
      pendingSpace = out !== "";
      continue;
    }
    if (pendingSpace) out += " ";
    pendingSpace = false;
    out += t.type === "word" && KEYWORDS.has(t.text.toUpperCase()) ? t.text.toUpperCase() : t.text;
  }
  return out.replace(/(\s*;)+$/, "");
}

/**
 * The canonical text of SQL (one statement or several): comments removed, whitespace collapsed,
 * keywords upper-cased, literals and quoted identifiers untouched, trailing semicolons dropped.
 * The only canonicalizer of SQL in the project: the kernel's analyzer and the operators' tools
 * both use it. No SQLite needed.
 *
 * @example canonicalSql("dRoP /* x *\/ table  \"T\"") === 'DROP TABLE "T"'
 */
export function canonicalSql(statement: string): string {
  return canonicalText(tokenize(statement));
}

/** The tokens that are not whitespace or comments. */
export function significant(tokens: Token[]): Token[] {
  return tokens.filter((t) => t.type !== "space");
}

/** An identifier token's name: quotes removed, doubled quotes undone. */
export function identName(t: Token): string {
  if (t.type === "ident" || t.type === "string") {
    const body = t.text.slice(1, t.text.length - 1);
    return t.text[0] === "[" ? body : body.split(t.text[0] + t.text[0]).join(t.text[0]);
  }
  return t.text;
}

/** The upper-cased text of a word token; "" for anything else. */
export const upper = (t: Token | undefined): string => (t && t.type === "word" ? t.text.toUpperCase() : "");

/** Whether a token can be a name (a bare word, a quoted identifier, or a string used as one). */
export const isName = (t: Token | undefined): boolean => !!t && (t.type === "word" || t.type === "ident" || t.type === "string");

/** How SQLite numbers a statement's parameters: their count, and the key of each named one. */
export interface ParameterLayout {
  /** The highest parameter index (SQLite's sqlite3_bind_parameter_count). */
  count: number;
  /** Index (1-based) -> better-sqlite3 key ("a" for :a, @a, $a; "3" for ?3), for named indexes. */
  named: Map<number, string>;
}

/**
 * Numbers the parameters of a statement as SQLite does (`?` takes the next index, `?N` index N,
 * a name keeps the index it first got).
 *
 * @example parameterLayout("SELECT ?, :a, ?5").count === 5
 */
export function parameterLayout(statement: string): ParameterLayout {
  return layoutOf(tokenize(statement));
}

/** {@link parameterLayout} over tokens already split. */
export function layoutOf(tokens: Token[]): ParameterLayout {
  const names = new Map<string, number>();
  const named = new Map<number, string>();
  let count = 0;
  for (const t of tokens) {
    if (t.type !== "variable") continue;
    if (t.text === "?") count++;
    else if (!names.has(t.text)) {
      const index = /^\?\d+$/.test(t.text) ? Number(t.text.slice(1)) : ++count;
      names.set(t.text, index);
      count = Math.max(count, index);
      if (!named.has(index)) named.set(index, t.text.slice(1));
    }
  }
  return { count, named };
}

/**
 * Arguments for better-sqlite3: positional values for unnamed indexes, then an object for named ones.
 *
 * @example bindArguments(parameterLayout("SELECT ?, :a"), [1, 2]) // [1, { a: 2 }]
 */
export function bindArguments(layout: ParameterLayout, values: unknown[]): unknown[] {
  const positional: unknown[] = [];
  const keys: Record<string, unknown> = {};
  for (let index = 1; index <= layout.count; index++) {
    const key = layout.named.get(index);
    if (key === undefined) positional.push(values[index - 1]);
    else keys[key] = values[index - 1];
  }
  return layout.named.size > 0 ? [...positional, keys] : positional;
}

/**
 * Whether one compiled rule matches one request. The same function serves decide (fast, no
 * trace) and explain (with `why`, a list the function appends its reasoning to), so that the
 * two can never disagree.
 */
import type { Request, SqlFacts } from "../types.js";
import type { CompiledRule } from "./compile.js";

/**
 * The longest SQL text a `pattern` is run on. Beyond it the pattern cannot be evaluated, which
 * (like missing SQL facts) makes an allow rule not match and any other rule match.
 */
export const MAX_PATTERN_SUBJECT = 64 * 1024;

const q = JSON.stringify;

/**
 * @example matchRule(rule, canonicalRequest("fs.write", "/prod/x")) // true for a rule on /prod/**
 */
export function matchRule(rule: CompiledRule, request: Request, why?: string[]): boolean {
  if (rule.resource !== null) {
    const ok = rule.resource.test(request.resource);
    why?.push(`resource ${q(request.resource)} ${ok ? "matches" : "does not match"} ${rule.resource.globs.join(" or ")}`);
    if (!ok) return false;
  }
  if (rule.methods !== null) {
    const method = request.method;
    if (typeof method !== "string") {
      why?.push(rule.strict ? "the request has no method: an allow rule with methods does not match" : `the request has no method: a ${rule.effect} rule matches to be safe`);
      if (rule.strict) return false;
    } else {
      const ok = rule.methods.has(method) || rule.methods.has(method.toUpperCase());
      why?.push(`method ${method} ${ok ? "is" : "is not"} one of ${[...rule.methods].join(", ")}`);
      if (!ok) return false;
    }
  }
  return rule.needsSql ? matchSql(rule, request.sql, why) : true;
}

function unknown(rule: CompiledRule, what: string, why: string[] | undefined): boolean {
  why?.push(rule.strict ? `${what}: an allow rule with SQL conditions does not match` : `${what}: a ${rule.effect} rule matches to be safe`);
  return !rule.strict;
}

function matchSql(rule: CompiledRule, sql: SqlFacts | undefined, why: string[] | undefined): boolean {
  if (sql === undefined || sql === null) return unknown(rule, "the statement has no SQL facts (it could not be analyzed)", why);
  const pattern = rule.pattern;
  if (pattern !== null) {
    if (sql.canonical.length > MAX_PATTERN_SUBJECT || sql.statement.length > MAX_PATTERN_SUBJECT) {
      if (!unknown(rule, `the statement is longer than ${MAX_PATTERN_SUBJECT} characters, too long for pattern matching`, why)) return false;
    } else {
      const hit = pattern.test(sql.canonical) || sql.operations.some((op) => pattern.test(op)) || pattern.test(sql.statement);
      why?.push(`the statement ${hit ? "matches" : "does not match"} /${pattern.source}/i`);
      if (!hit) return false;
    }
  }
  const operations = rule.operations;
  if (operations !== null) {
    const ops = sql.operations;
    // An allow rule needs every operation listed (`select 1; drop table x` is not a select);
    // any other rule needs just one.
    const ok = rule.strict ? ops.length > 0 && ops.every((op) => operations.has(op.toLowerCase())) : ops.some((op) => operations.has(op.toLowerCase()));
    why?.push(`operations [${ops.join(", ")}] ${ok ? "satisfy" : "do not satisfy"} ${rule.strict ? "all of" : "any of"} [${[...operations].join(", ")}]`);
    if (!ok) return false;
  }
  const tables = rule.tables;
  if (tables !== null) {
    const touched = [...sql.reads, ...sql.writes];
    const ok = rule.strict ? touched.every((t) => tables.test(t)) : touched.some((t) => tables.test(t));
    why?.push(`tables [${touched.join(", ")}] ${ok ? "satisfy" : "do not satisfy"} ${rule.strict ? "every table in" : "any table in"} ${tables.globs.join(", ")}`);
    if (!ok) return false;
  }
  return true;
}

/**
 * Operators' test cases for a policy (`agent-os policy test <policy> <cases.yaml>`): a YAML list
 * of requests with the effect each must get, and optionally the rule that must decide.
 *
 * ```yaml
 * - name: no writes to prod
 *   action: fs.write
 *   resource: /prod/db.sqlite
 *   expect: deny
 *   rule: no-prod-writes
 * - action: sql.query
 *   resource: main
 *   sql: "select * from orders; drop table orders"
 *   operations: [select, drop]
 *   tables: [orders]
 *   expect: deny
 * ```
 */
import { GuestError, PolicyError, UsageError, type PolicyProblem } from "../errors.js";
import type { Effect, Policy, Request } from "../types.js";
import { Problems, checkKeys, describe, getString, getStringList, isRecord } from "./check.js";
import { canonicalRequest, sqlFactsFromText } from "./request.js";
import { validateEffect } from "./rule.js";
import { readPolicyFile, type FieldPath } from "../hosts/node/policy/source.js";

const CASE_FIELDS = ["name", "action", "resource", "method", "sql", "operations", "tables", "reads", "writes", "agent", "expect", "rule"] as const;

export interface PolicyCase {
  name: string;
  request: Request;
  expect: Effect;
  /** The rule id that must decide; null for "the default decides"; undefined: not checked. */
  rule?: string | null;
}

export interface CaseResult {
  case: PolicyCase;
  effect: Effect;
  rule: string | null;
  passed: boolean;
}

/**
 * Reads and checks a cases file.
 *
 * @example readCases("policy-cases.yaml")[0].expect // "deny"
 * @throws PolicyError listing every problem in the file (located).
 */
export function readCases(path: string): PolicyCase[] {
  const source = readPolicyFile(path);
  if (source.problems.length) throw new PolicyError(source.problems);
  const problems = new Problems();
  const cases: PolicyCase[] = [];
  if (!Array.isArray(source.value)) problems.add([], `expected a list of cases ({action, resource, expect, ...}), got ${describe(source.value)}`);
  else source.value.forEach((raw, i) => {
    const c = readCase(raw, [i], problems);
    if (c) cases.push(c);
  });
  if (problems.list.length) {
    throw new PolicyError(
      problems.list.map(({ field, message, onKey }): PolicyProblem => ({ file: source.file, ...source.locate(field, onKey), field: `cases[${field[0]}]${field.slice(1).map((s) => (typeof s === "number" ? `[${s}]` : `.${s}`)).join("")}`, message })),
    );
  }
  return cases;
}

function readCase(raw: unknown, field: FieldPath, problems: Problems): PolicyCase | undefined {
  if (!isRecord(raw)) {
    problems.add(field, `expected a case (a mapping with action, resource and expect), got ${describe(raw)}`);
    return undefined;
  }
  const before = problems.list.length;
  checkKeys(raw, CASE_FIELDS, field, problems, "a case");
  const at = (key: string): FieldPath => [...field, key];
  const action = getString(raw.action, at("action"), problems, "an action name");
  const resource = raw.resource === undefined ? "" : typeof raw.resource === "string" ? raw.resource : getString(raw.resource, at("resource"), problems, "a resource (a string)");
  const expect = validateEffect(raw.expect, at("expect"), problems);
  const list = (key: string): string[] | undefined => (raw[key] === undefined ? undefined : getStringList(raw[key], at(key), problems, "a name"));
  const operations = list("operations");
  const tables = list("tables");
  const reads = list("reads");
  const writes = list("writes");
  const optional = (key: string): string | undefined => (raw[key] === undefined ? undefined : getString(raw[key], at(key), problems));
  const method = optional("method");
  const sql = optional("sql");
  const agent = optional("agent");
  const name = optional("name");
  let rule: string | null | undefined;
  if (raw.rule === null) rule = null;
  else if (raw.rule !== undefined) rule = getString(raw.rule, at("rule"), problems, "a rule id, or null for the default");
  if (problems.list.length > before || action === undefined || resource === undefined || expect === undefined) return undefined;
  try {
    const facts = sql === undefined ? undefined : sqlFactsFromText(sql, { operations, reads: reads ?? tables, writes });
    const request = canonicalRequest(action, resource, { method, sql: facts, agent });
    return { name: name ?? `${action} ${resource}`.trim(), request, expect, ...(rule !== undefined ? { rule } : {}) };
  } catch (e) {
    if (e instanceof UsageError || e instanceof GuestError) {
      problems.add(e instanceof UsageError ? at("action") : at("resource"), e.message.replace(/^invalid: /, ""));
      return undefined;
    }
    throw e;
  }
}

/** Runs cases against a policy, in order (rate limits count across cases). */
export function runCases(policy: Policy, cases: PolicyCase[]): CaseResult[] {
  return cases.map((c) => {
    const d = policy.decide(c.request);
    const passed = d.effect === c.expect && (c.rule === undefined || d.rule === c.rule);
    return { case: c, effect: d.effect, rule: d.rule, passed };
  });
}

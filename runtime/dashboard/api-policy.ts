/**
 * The policy editor's server side: problems in the text as it is typed (checkPolicyText: file,
 * line, column, field, message), the explanation of one request under the edited text
 * (explainRequest), the backtest of the edited text against recorded runs (backtestPolicy), and
 * Save, which writes the editor's policy file only when the text loads (checked again here,
 * whatever the page said).
 */
import { readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { PolicyError, UsageError, type PolicyProblem } from "../errors.js";
import { backtestPolicy, type BacktestReport } from "../policy/backtest.js";
import { checkPolicyText, explainRequest } from "../policy/editor.js";
import { loadPolicy } from "../policy/load.js";
import type { LoadedPolicy } from "../policy/loaded.js";
import { HttpError, stringField, type Route } from "./http.js";
import type { DashboardSource, PolicySource } from "./types.js";

/** The largest policy text the editor sends. */
const MAX_TEXT = 1024 * 1024;
/** The most runs one backtest decides again. */
const MAX_BACKTEST_RUNS = 500;

/** The name problems give the edited text: its file's, or "<editor>". */
const fileName = (source: PolicySource): string => (source.file ? basename(source.file) : "<editor>");

/** YAML text is always text: one line ending in .yaml, or a built-in's name, would be read as a path or a built-in. */
const asText = (text: string): string => (text.includes("\n") ? text : text + "\n");

/**
 * The policy in `text`, loaded as the editor's file would be (its name in messages, `extends`
 * relative to its directory).
 *
 * @throws PolicyError listing every problem.
 */
export function loadEdited(text: string, source: PolicySource): LoadedPolicy {
  if (text.length > MAX_TEXT) throw new HttpError(413, `the policy is over ${MAX_TEXT} characters`);
  return loadPolicy(asText(text), { file: fileName(source), ...(source.file ? { baseDir: dirname(source.file) } : {}) });
}

/**
 * Every problem of the edited text; [] when it loads.
 *
 * @example checkEdited("version: 1\ndefault: maybe\n", source) // [{ line: 2, column: 10, field: "default", message: ... }]
 */
export function checkEdited(text: string, source: PolicySource): PolicyProblem[] {
  if (text.length > MAX_TEXT) throw new HttpError(413, `the policy is over ${MAX_TEXT} characters`);
  const dir = source.file ? dirname(source.file) : undefined;
  // `extends` by path: relative to the edited file, as the loader reads them.
  return checkPolicyText(text, { file: fileName(source), ...(dir ? { readPolicy: (ref: string) => readFileSync(join(dir, ref), "utf8") } : {}) });
}

/**
 * The routes of the policy editor.
 *
 * @example routes.push(...policyRoutes(source))
 */
export function policyRoutes(source: DashboardSource): Route[] {
  return [
    { kind: "read", pattern: "/api/policy", handler: () => source.policy() },
    { kind: "change", pattern: "/api/policy/check", handler: ({ body }) => ({ problems: checkEdited(stringField(body, "text"), source.policy()) }) },
    { kind: "change", pattern: "/api/policy/explain", handler: ({ body }) => explain(body, source.policy()) },
    { kind: "change", pattern: "/api/policy/backtest", handler: ({ body }) => backtest(body, source) },
    { kind: "change", pattern: "/api/policy/save", handler: ({ body }) => save(stringField(body, "text"), source.policy()) },
  ];
}

function explain(body: unknown, source: PolicySource) {
  const problems = checkEdited(stringField(body, "text"), source);
  if (problems.length > 0) return { problems };
  const policy = loadEdited(stringField(body, "text"), source);
  const optional = (name: string) => stringField(body, name, true) || undefined;
  try {
    const explanation = explainRequest(policy, { action: stringField(body, "action"), resource: optional("resource"), method: optional("method"), agent: optional("agent"), sql: optional("sql") });
    return { explanation };
  } catch (error) {
    if (error instanceof UsageError) throw new HttpError(400, error.message);
    throw error;
  }
}

/** The edited text decided against the selected runs' recorded calls: the calls whose effect changes, by rule. */
async function backtest(body: unknown, dashboard: DashboardSource): Promise<{ problems: PolicyProblem[] } | { report: BacktestReport }> {
  const source = dashboard.policy();
  const text = stringField(body, "text");
  const problems = checkEdited(text, source);
  if (problems.length > 0) return { problems };
  const runIds = (body as { runIds?: unknown }).runIds;
  if (!Array.isArray(runIds) || runIds.length === 0 || !runIds.every((id) => typeof id === "string")) throw new HttpError(400, 'the body needs "runIds": the runs to decide again');
  if (runIds.length > MAX_BACKTEST_RUNS) throw new HttpError(400, `at most ${MAX_BACKTEST_RUNS} runs at a time`);
  const file = source.file ?? "<editor>";
  return { report: await dashboard.withLog((log) => backtestPolicy(log, { policy: asText(text), file, runIds: runIds as string[] })) };
}

async function save(text: string, source: PolicySource): Promise<{ saved: string }> {
  if (!source.file) throw new HttpError(409, source.readOnly ?? "this policy has no file to save to");
  const problems = checkEdited(text, source);
  if (problems.length > 0) throw new HttpError(422, `the policy does not load, so it was not saved:\n${PolicyError.format(problems)}`);
  // Written beside it, then renamed over it: a reader never sees half a policy.
  const temporary = join(dirname(source.file), `.${basename(source.file)}.${process.pid}.tmp`);
  await writeFile(temporary, text, "utf8");
  await rename(temporary, source.file);
  source.text = text;
  return { saved: source.file };
}

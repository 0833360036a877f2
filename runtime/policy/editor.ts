/**
 * What a policy editor calls as its user types and tries requests: the problems of the text being
 * edited, as the loader reports them, and the explanation of one request given as plain data.
 * Web-standard APIs only (no `node:` import): a browser can run it as well as a server.
 */
import { GuestError, PolicyError, UsageError, type PolicyProblem } from "../errors.js";
import type { JsonValue } from "../episodic/encoding.js";
import type { SqlFacts } from "../types.js";
import { embeddedReader, type ReadPolicy } from "./embedded-reader.js";
import type { Explanation } from "./explain.js";
import { LoadedPolicy } from "./loaded.js";
import { mergeSource } from "./merge.js";
import { parseYamlText } from "./parse.js";
import { canonicalRequest, sqlFactsFromText } from "./request.js";

export type { ReadPolicy } from "./embedded-reader.js";

/** Options of {@link checkPolicyText}. Defaults: file "<inline>"; no readPolicy, so only built-ins can be extended. */
export interface CheckTextOptions {
  /** The name of the file being edited, used in problems (and the origin of its rules). */
  file?: string;
  /**
   * Reads what `extends` names by path (relative to the text being edited, normalized: see
   * compilePolicy). On Node: `(ref) => readFileSync(join(dirOfTheFile, ref), "utf8")`.
   */
  readPolicy?: ReadPolicy;
}

/**
 * The problems of a policy's YAML text, every one with the file, line, column and field the
 * loader reports (PolicyError.problems); an empty list when it loads. The text is always taken
 * as YAML (a line like `team.yaml` is not read as a path). Never throws: an input that is not
 * text, or a failure of the checker itself, is a problem too.
 *
 * @example checkPolicyText("rules:\n  - action: fs.read\n    effect: alow\n", { file: "team.yaml" })
 *          // [{ file: "team.yaml", line: 3, column: 13, field: "rules[0].effect", message: 'unknown effect "alow" (did you mean "allow"?)' }]
 */
export function checkPolicyText(yamlText: string, options: CheckTextOptions = {}): PolicyProblem[] {
  const file = typeof options?.file === "string" && options.file !== "" ? options.file : "<inline>";
  if (typeof yamlText !== "string") return [{ file, message: `expected the policy's YAML text, got ${yamlText === null ? "null" : typeof yamlText}` }];
  try {
    const merged = mergeSource(parseYamlText(yamlText, file, ""), embeddedReader(options?.readPolicy));
    // Compiling is part of loading: what it refuses, the kernel would refuse.
    new LoadedPolicy(merged, () => 0);
    return [];
  } catch (error) {
    if (error instanceof PolicyError) return error.problems.map((p) => ({ ...p }));
    return [{ file, message: `the policy could not be checked: ${error instanceof Error ? error.message : String(error)}` }];
  }
}

/**
 * A request as an editor or dashboard gives it: what `agent-os policy explain` takes as flags.
 * Only `action` is required.
 */
export interface ExplainInput {
  /** A canonical action (`fs.write`) or an alias (`file_write`). */
  action: string;
  /** The path, URL, database, tool or model; canonicalized as the gate would. Default "". */
  resource?: string;
  /** The HTTP method (http.fetch). */
  method?: string;
  /** The SQL statement (sql.query), or its facts as the kernel's analyzer gives them. */
  sql?: string | SqlFacts;
  /** With `sql` as text: its operations. Default: guessed from each statement's first word. */
  operations?: string[];
  /** With `sql` as text: the tables it reads and writes. Default: none. */
  reads?: string[];
  writes?: string[];
  /** The agent's name. Default "cli". */
  agent?: string;
  /** The tool's arguments (tool.call, for `args` rules). */
  args?: JsonValue;
  /** The tool's current hash `sha256:...` (tool.call, for `pin` rules). */
  toolHash?: string;
}

/** An explanation, and whether the SQL operations were guessed from the statement's text. */
export interface ExplainedRequest extends Explanation {
  guessedOperations?: true;
}

/**
 * Decides one request under a loaded policy without counting it against rate limits, and
 * explains it: the deciding rule, every rule on the action and why each matched or not (what
 * `agent-os policy explain` prints).
 *
 * @example explainRequest(loadPolicy("strict"), { action: "sql", resource: "main", sql: "select 1; drop table x" }).decision.effect // "deny"
 * @throws UsageError for an unknown action or a resource that cannot be made canonical.
 */
export function explainRequest(policy: Pick<LoadedPolicy, "explain">, input: ExplainInput): ExplainedRequest {
  if (input === null || typeof input !== "object" || typeof input.action !== "string") throw new UsageError("explainRequest: give a request with an action");
  const guessed = typeof input.sql === "string" && input.operations === undefined;
  const sql = typeof input.sql === "string" ? sqlFactsFromText(input.sql, { operations: input.operations, reads: input.reads, writes: input.writes }) : input.sql;
  let request;
  try {
    request = canonicalRequest(input.action, input.resource ?? "", { method: input.method, sql, agent: input.agent });
  } catch (e) {
    // A resource the gate would refuse before any policy sees it: the input is wrong.
    if (e instanceof GuestError) throw new UsageError(`resource ${JSON.stringify(input.resource ?? "")}: ${e.message}`);
    throw e;
  }
  if (input.args !== undefined) request.args = input.args;
  if (input.toolHash !== undefined) request.toolHash = input.toolHash;
  const explanation: ExplainedRequest = policy.explain(request);
  if (guessed && sql) explanation.guessedOperations = true;
  return explanation;
}

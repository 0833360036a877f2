/**
 * The policy engine on Web-standard APIs only, for hosts without Node (a browser, Cloudflare's
 * workerd): no `node:` import and no Node global anywhere in this module's graph (a test bundles
 * it for the browser and runs it without them). Node's entry (index.ts) adds files, paths and
 * `resolvePolicy`; both compile the same policy to the same LoadedPolicy, hash and decisions.
 */
import { PolicyError } from "../errors.js";
import { isRecord } from "./check.js";
import { embeddedReader, readThrough, resolveRef, type ReadPolicy } from "./embedded-reader.js";
import { LoadedPolicy } from "./loaded.js";
import { mergeSource } from "./merge.js";
import { looksLikePath, objectSource, parseYamlText, type Source } from "./parse.js";

export { LoadedPolicy, type PolicyRule } from "./loaded.js";
export { formatExplanation, type Explanation, type RuleTrace } from "./explain.js";
export { canonicalRequest, sqlFactsFromText, type RequestExtra } from "./request.js";
export { ACTION_ALIASES, canonicalAction } from "./actions.js";
export { SQL_OPERATIONS, HTTP_METHODS, type RuleOrigin } from "./rule.js";
export { MAX_PATTERN_LENGTH } from "./regex-safety.js";
export { MAX_PATTERN_SUBJECT } from "./match.js";
export { BUILTIN_POLICIES, EXTENDABLE_BUILTINS } from "./builtin-names.js";
export { BUILTIN_TEXTS } from "./builtin-texts.js";
export { PolicyError, type PolicyProblem } from "../errors.js";
export type { ReadPolicy } from "./embedded-reader.js";
export type { Action, Decision, DecideOptions, Effect, Policy, PolicyLimits, Request, SqlFacts } from "../types.js";

/** Options of compilePolicy. */
export interface CompileOptions {
  /** The name used for the source in messages and rule origins. Default: "<inline>". */
  file?: string;
  /** The clock for rate limits, in milliseconds. Default: Date.now. */
  now?: () => number;
  /**
   * Reads a policy that `extends` names by path (or that is given as a path): the host's
   * storage. Default: none, so only the built-ins (base, strict, standard, readonly,
   * permissive, audit) can be extended, and a path is a PolicyError saying so.
   */
  readPolicy?: ReadPolicy;
}

/**
 * Loads and compiles a policy from YAML text or a plain object, following `extends`: what
 * Node's loadPolicy does, giving the same LoadedPolicy (same hash, same decisions), without a
 * file system. A string that is a path (one line ending in .yaml, .yml or .json) is read
 * through `readPolicy`.
 *
 * @example
 * const policy = compilePolicy("extends: [standard]\nrules:\n  - action: fs.write\n    resource: /prod/**\n    effect: deny\n");
 * policy.decide(canonicalRequest("fs.write", "/prod/x")).effect === "deny";
 * @throws PolicyError listing every problem (file, line, column, field, what was expected).
 */
export function compilePolicy(source: string | Record<string, unknown>, options: CompileOptions = {}): LoadedPolicy {
  const reader = embeddedReader(options.readPolicy);
  return new LoadedPolicy(mergeSource(rootSource(source, options), reader), options.now ?? Date.now);
}

function rootSource(input: unknown, options: CompileOptions): Source {
  const file = options.file ?? "<inline>";
  if (typeof input === "string") {
    return looksLikePath(input) ? readThrough(options.readPolicy, resolveRef(input, undefined), options.file ?? input) : parseYamlText(input, file, "");
  }
  if (isRecord(input)) return objectSource(input, file, "");
  throw new PolicyError([{ file: options.file, message: "expected a policy: YAML text or a plain object" }]);
}

/**
 * The policy engine: declarative YAML policies, decided deterministically, explained, and never
 * failing open. See policies/README.md for the language.
 */
export { loadPolicy, loadPolicyFile, type LoadOptions } from "./load.js";
export { resolvePolicy } from "../hosts/node/policy/resolve.js";
export { BUILTIN_POLICIES, policiesDir } from "../hosts/node/policy/builtins.js";
export { LoadedPolicy, type PolicyRule } from "./loaded.js";
export { formatExplanation, type Explanation, type RuleTrace } from "./explain.js";
export { canonicalRequest, sqlFactsFromText, type RequestExtra } from "./request.js";
export { ACTION_ALIASES, canonicalAction } from "./actions.js";
export { SQL_OPERATIONS, HTTP_METHODS, type RuleOrigin } from "./rule.js";
export { MAX_PATTERN_LENGTH } from "./regex-safety.js";
export { MAX_PATTERN_SUBJECT } from "./match.js";
export { readCases, runCases, type PolicyCase, type CaseResult } from "./cases.js";

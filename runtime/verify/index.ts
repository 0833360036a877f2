/**
 * Cross-model verification (CMVK): several independent models must agree before an action
 * with effect "verify" runs. Real HTTP clients of OpenAI-compatible chat completions and
 * Anthropic's messages API; a strict verdict format; consensus that fails closed.
 *
 * @example
 * const verifier = createVerifier({ models: [{ provider: "anthropic", model: "claude-sonnet-4" }], threshold: 1 });
 */
export { createVerifier, verifyOutput, type OutputCheck, type VerifierOptions, type VoteOwner } from "./verifier.js";
export { consult, tally, type AskOptions, type VerificationResult, type Vote } from "./consensus.js";
export { parseVerdict, MAX_ANSWER_CHARS, MAX_REASON_CHARS, type ParsedVerdict, type Verdict, type VerdictValue } from "./parse.js";
export { buildPrompt, questionKey, summarizeArgs, PROMPT_LIMITS, type Prompt, type Question } from "./prompt.js";
export { DEFAULT_VERIFICATION, keyVariable, mergeSettings, modelLabel, normalizeVerificationOptions, resolveSettings, type VerificationOptions } from "./settings.js";
export { ProviderFailure, scrub, type FailureKind, type Provider, type ProviderCall } from "../models/http.js";
export { askOpenAI, askAnthropic } from "../models/client.js";
export { OPENAI_BASE_URL } from "../models/openai.js";
export { ANTHROPIC_BASE_URL, ANTHROPIC_VERSION } from "../models/anthropic.js";

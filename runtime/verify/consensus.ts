/**
 * Consensus: every model asked in parallel with its own deadline; a model that errs, times
 * out, answers with a non-2xx status, answers something that is not exactly a verdict, or has
 * no key, votes "reject" with the reason. The action is allowed only when approvals / models
 * asked reaches the threshold, and never with zero approvals: verification fails closed.
 */
import type { ModelSpec, VerificationSettings } from "../types.js";
import { parseVerdict, type VerdictValue } from "./parse.js";
import type { Prompt } from "./prompt.js";
import { askAnthropic, askOpenAI } from "../models/client.js";
import { ProviderFailure, scrub, type FailureKind, type Provider } from "../models/http.js";
import { keyVariable, modelLabel } from "./settings.js";

/** One model's vote, as the log records it (the model's key never appears). */
export interface Vote {
  /** "provider:model", e.g. "openai:gpt-4o". */
  model: string;
  provider: ModelSpec["provider"];
  verdict: VerdictValue;
  /** The model's confidence; null when it gave no verdict (a failure). */
  confidence: number | null;
  reason: string;
  latencyMs: number;
  /** Set when the model gave no verdict: why it counts as a rejection. */
  failure?: FailureKind;
  /** Set when the vote was answered from the run's cache. */
  cached?: boolean;
}

/** The outcome of one verification. */
export interface VerificationResult {
  allowed: boolean;
  /** approvals / asked (0 when no model was asked). */
  consensus: number;
  approvals: number;
  asked: number;
  threshold: number;
  votes: Vote[];
  /** "2 of 3 models approved (consensus 0.67, threshold 0.8)". */
  reason: string;
}

/** Per-question options: a per-run cache of votes, and a signal that cancels every request. */
export interface AskOptions {
  cache?: Map<string, Promise<Vote>>;
  /** A key for the question without its nonce (for the cache). */
  questionKey?: string;
  signal?: AbortSignal;
}

const PROVIDERS: Record<ModelSpec["provider"], Provider> = { openai: askOpenAI, anthropic: askAnthropic };

/**
 * Asks every model of the settings the same prompt, in parallel, and tallies the votes.
 *
 * @example const result = await consult(settings, buildPrompt(question)); result.allowed
 */
export async function consult(settings: VerificationSettings, prompt: Prompt, options: AskOptions = {}): Promise<VerificationResult> {
  const secrets = settings.models.map((m) => keyOf(m)).filter((k): k is string => k !== undefined);
  const votes = await Promise.all(settings.models.map((model) => cachedVote(model, prompt, settings.timeout, secrets, options)));
  return tally(votes, settings.threshold);
}

/**
 * Counts approvals against the threshold. At least one approval is needed whatever the
 * threshold, so a threshold of 0 cannot pass a verification that nobody answered.
 *
 * @example tally(votes, 0.8) // { allowed: false, approvals: 2, asked: 3, consensus: 0.666…, ... }
 */
export function tally(votes: Vote[], threshold: number): VerificationResult {
  const asked = votes.length;
  const approvals = votes.filter((v) => v.verdict === "approve").length;
  const consensus = asked === 0 ? 0 : approvals / asked;
  // approvals >= threshold * asked, with room for floating point (4 of 5 at 0.8).
  const allowed = asked > 0 && approvals >= 1 && approvals + 1e-9 >= threshold * asked;
  const reason =
    asked === 0
      ? "no verifier models are configured"
      : `${approvals} of ${asked} model${asked === 1 ? "" : "s"} approved (consensus ${round(consensus)}, threshold ${threshold})`;
  return { allowed, consensus, approvals, asked, threshold, votes, reason };
}

function cachedVote(model: ModelSpec, prompt: Prompt, timeout: number, secrets: string[], options: AskOptions): Promise<Vote> {
  const { cache, questionKey } = options;
  if (!cache || questionKey === undefined) return askModel(model, prompt, timeout, secrets, options.signal);
  const key = `${JSON.stringify([model.provider, model.model, model.baseUrl ?? null, model.apiKeyEnv ?? null])}\0${questionKey}`;
  const hit = cache.get(key);
  if (hit) return hit.then((vote) => (vote.failure ? vote : { ...vote, latencyMs: 0, cached: true }));
  // Only real verdicts stay cached: a failure is asked again next time.
  const asked = askModel(model, prompt, timeout, secrets, options.signal).then((vote) => {
    if (vote.failure) cache.delete(key);
    return vote;
  });
  cache.set(key, asked);
  return asked;
}

/** One model's vote; never throws. */
async function askModel(model: ModelSpec, prompt: Prompt, timeout: number, secrets: string[], outer?: AbortSignal): Promise<Vote> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const variable = keyVariable(model);
  const apiKey = keyOf(model);
  if (variable !== undefined && apiKey === undefined) {
    return failed(model, "no-key", `no API key: the environment variable ${variable} is not set`, 0);
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  const cancel = () => controller.abort();
  outer?.addEventListener("abort", cancel, { once: true });
  try {
    if (outer?.aborted) throw new ProviderFailure("timeout", "cancelled: the kernel is closing");
    const deadline = new Promise<never>((_, reject) => {
      controller.signal.addEventListener("abort", () => reject(new ProviderFailure("timeout", "no answer before the deadline")), { once: true });
    });
    const content = await Promise.race([PROVIDERS[model.provider]({ model, prompt, apiKey, signal: controller.signal }), deadline]);
    const parsed = parseVerdict(content);
    if (!parsed.ok) return failed(model, "unparseable", scrub(`unparseable answer: ${parsed.problem}`, secrets), elapsed());
    const { verdict, confidence, reason } = parsed.value;
    return { model: modelLabel(model), provider: model.provider, verdict, confidence, reason: scrub(reason, secrets), latencyMs: elapsed() };
  } catch (error) {
    if (controller.signal.aborted) {
      const why = outer?.aborted ? "cancelled: the kernel is closing" : `timeout: no answer within ${timeout} ms`;
      return failed(model, "timeout", why, elapsed());
    }
    if (error instanceof ProviderFailure) return failed(model, error.kind, scrub(error.message, secrets), elapsed());
    return failed(model, "network", scrub(`request failed: ${error instanceof Error ? error.message : String(error)}`, secrets), elapsed());
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", cancel);
  }
}

function failed(model: ModelSpec, failure: FailureKind, reason: string, latencyMs: number): Vote {
  return { model: modelLabel(model), provider: model.provider, verdict: "reject", confidence: null, reason, latencyMs, failure };
}

/** The model's key from the environment, read at the moment it is asked; undefined when none. */
function keyOf(model: ModelSpec): string | undefined {
  const variable = keyVariable(model);
  const value = variable === undefined ? undefined : process.env[variable];
  return value ? value : undefined;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

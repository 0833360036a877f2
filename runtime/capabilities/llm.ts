/**
 * The llm capability: one chat with a model the host configured, by alias. By the time `chat`
 * runs the gate has checked the request and the policy has allowed it.
 *
 * - The token budget is checked first: a call whose `maxTokens` (default limits.maxTokensPerCall)
 *   plus its estimated input plus the tokens the run has used would pass limits.tokens is
 *   refused with `limit`, and nothing is sent.
 * - The key comes from the host's environment at the moment of the call and goes only into the
 *   request's header; every text that comes back (the answer, an error) is scrubbed of it and
 *   of its obvious encodings, so that a server echoing it cannot hand it to the agent or the log.
 * - Each call has its alias's `timeout` (default 60 s; not limits.httpTimeout, which is for the
 *   agent's own requests: a model takes longer). A failure is `io` with the reason.
 * - The host's `baseUrl` is trusted by the host: the address guard of http.fetch (which keeps
 *   agents off private networks) does not apply to it, so a model on loopback needs no
 *   `allowPrivate`.
 */
import { guestErrors } from "../errors.js";
import { ProviderFailure, scrub, secretForms } from "../models/http.js";
import { sendChat } from "../models/client.js";
import type { ChatRequest, ChatResponse, ParsedAnswer } from "../models/types.js";
import type { Limits, ModelAlias, TokenCount } from "../types.js";
import { keyVariable } from "../verify/settings.js";

/** Milliseconds a model call may take when its alias sets no `timeout`. */
export const DEFAULT_MODEL_TIMEOUT = 60_000;

export interface LlmHost {
  /** Whether the host configured this alias. */
  has(alias: string): boolean;
  /** The aliases, for an error message. */
  aliases(): string[];
  chat(request: ChatRequest): Promise<ChatResponse>;
  /** Cancels the calls in flight (the run has ended). */
  close(): void;
}

export interface LlmContext {
  models: Readonly<Record<string, ModelAlias>>;
  limits: Limits;
  /** The run's token counter (shared with the gate and the process). */
  tokens: TokenCount;
  /** Reads a key. Default: the process environment. */
  env?: (name: string) => string | undefined;
}

/**
 * An alias the host did not configure is `invalid`, before any decision (the aliases are no secret).
 * @throws GuestError `invalid`.
 */
export function checkModelAlias(llm: LlmHost | undefined, alias: string): void {
  if (llm?.has(alias)) return;
  const known = llm ? llm.aliases().map((a) => JSON.stringify(a)).join(", ") : "";
  throw guestErrors.invalid(`llm.chat: unknown model alias ${JSON.stringify(alias)} (${known ? `the host configured ${known}` : "the host configured no models"})`);
}

/** @example const llm = createLlm({ models: { fast: { provider: "openai", model: "gpt-4o-mini" } }, limits, tokens: { input: 0, output: 0 } }); */
export function createLlm(ctx: LlmContext): LlmHost {
  const run: RunState = { env: ctx.env ?? ((name: string) => process.env[name]), inFlight: new Set(), closed: false, forms: new Map() };
  return {
    has: (alias) => Object.hasOwn(ctx.models, alias),
    aliases: () => Object.keys(ctx.models),
    chat: (request) => chat(ctx, run, request),
    close: () => {
      run.closed = true;
      for (const controller of run.inFlight) controller.abort();
    },
  };
}

/** What one run's model calls share: the key lookup, the calls in flight, each key's scrub forms. */
interface RunState {
  env: (name: string) => string | undefined;
  inFlight: Set<AbortController>;
  closed: boolean;
  forms: Map<string, string[]>;
}

async function chat(ctx: LlmContext, run: RunState, request: ChatRequest): Promise<ChatResponse> {
  const alias = request.model;
  if (!Object.hasOwn(ctx.models, alias)) throw guestErrors.invalid(`llm.chat: unknown model alias ${JSON.stringify(alias)}`);
  const spec = ctx.models[alias];
  const maxTokens = checkBudget(ctx, request);
  const variable = keyVariable(spec);
  const apiKey = variable === undefined ? undefined : run.env(variable) || undefined;
  if (variable !== undefined && apiKey === undefined) throw guestErrors.io(`model ${JSON.stringify(alias)}: no API key (the host has not set ${variable})`);
  if (run.closed) throw guestErrors.io(`model ${JSON.stringify(alias)}: cancelled (the run ended)`);
  const secrets = apiKey ? formsOf(run, apiKey) : [];
  const timeout = spec.timeout ?? DEFAULT_MODEL_TIMEOUT;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  run.inFlight.add(controller);
  let answer: ParsedAnswer;
  try {
    answer = await sendChat(spec, { ...request, maxTokens }, { apiKey, signal: controller.signal });
  } catch (error) {
    if (run.closed) throw guestErrors.io(`model ${JSON.stringify(alias)}: cancelled (the run ended)`);
    if (controller.signal.aborted) throw guestErrors.io(`model ${JSON.stringify(alias)}: no answer within ${timeout} ms`);
    const why = error instanceof ProviderFailure ? error.message : "the request failed";
    throw guestErrors.io(`model ${JSON.stringify(alias)}: ${scrub(why, secrets)}`);
  } finally {
    clearTimeout(timer);
    run.inFlight.delete(controller);
  }
  const usage = countTokens(request, answer);
  ctx.tokens.input += usage.inputTokens;
  ctx.tokens.output += usage.outputTokens;
  return {
    content: scrub(answer.content ?? "", secrets),
    toolCalls: answer.toolCalls.map((c) => ({ id: scrub(c.id, secrets), name: scrub(c.name, secrets), arguments: scrubJson(c.arguments, secrets) })),
    finishReason: answer.finishReason,
    usage,
    model: scrub(answer.model, secrets),
  };
}

/** A key's scrub forms, computed once per run and key. */
function formsOf(run: RunState, key: string): string[] {
  let forms = run.forms.get(key);
  if (!forms) run.forms.set(key, (forms = secretForms(key)));
  return forms;
}

/**
 * The call's maxTokens, once it fits: at most limits.maxTokensPerCall, and with the tokens
 * already used and the request's own input (estimated: it is counted only once answered), at
 * most limits.tokens. @throws GuestError `limit` (nothing has been sent).
 */
function checkBudget(ctx: LlmContext, request: ChatRequest): number {
  const { tokens: budget, maxTokensPerCall } = ctx.limits;
  const maxTokens = request.maxTokens ?? maxTokensPerCall;
  if (maxTokens > maxTokensPerCall) throw guestErrors.limit(`llm.chat: maxTokens ${maxTokens} is more than limits.maxTokensPerCall (${maxTokensPerCall})`);
  const used = ctx.tokens.input + ctx.tokens.output;
  const input = estimateInput(request);
  if (used + input + maxTokens > budget) {
    throw guestErrors.limit(`llm.chat: token budget: ${used} of ${budget} tokens used (limits.tokens); this call may use about ${input} input and ${maxTokens} output (its maxTokens) more`);
  }
  return maxTokens;
}

/** About four bytes of UTF-8 a token: what a request's text will cost as input, before a provider counts it. */
export function estimateTokens(texts: readonly string[]): number {
  let bytes = 0;
  for (const text of texts) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
    }
  }
  return Math.ceil(bytes / 4);
}

function estimateInput(request: ChatRequest): number {
  const texts: string[] = [];
  for (const m of request.messages) {
    texts.push(m.content);
    for (const c of m.toolCalls) texts.push(c.name, c.arguments);
  }
  for (const t of request.tools) texts.push(t.name, t.description, t.parameters);
  return estimateTokens(texts);
}

/** The provider's counts; where it gave none, the estimate. */
function countTokens(request: ChatRequest, answer: ParsedAnswer): { inputTokens: number; outputTokens: number } {
  const output = () => estimateTokens([answer.content ?? "", ...answer.toolCalls.map((c) => c.arguments)]);
  const cap = (n: number) => Math.min(n, 0xffffffff);
  return {
    inputTokens: cap(answer.usage.inputTokens >= 0 ? answer.usage.inputTokens : estimateInput(request)),
    outputTokens: cap(answer.usage.outputTokens >= 0 ? answer.usage.outputTokens : output()),
  };
}

/** Tool-call arguments with the key scrubbed out and still JSON (the guest SDK parses them). */
function scrubJson(text: string, secrets: readonly string[]): string {
  const scrubbed = scrub(text, secrets);
  if (scrubbed === text) return text;
  try {
    JSON.parse(scrubbed);
    return scrubbed;
  } catch {
    return JSON.stringify({ redacted: "the arguments held the model key" });
  }
}

/**
 * What both providers share: one JSON POST with the global fetch (undici), bounded in time (the
 * caller's AbortSignal) and in size, never following a redirect (a redirect would carry the
 * key's header to another origin), and failures described without the key in them. Used by
 * cross-model verification and by the llm capability alike.
 */
import type { ModelSpec } from "../types.js";
import { readCapped } from "../portable/streams.js";

/** Why a model gave no verdict; each counts as a rejection. */
export type FailureKind = "no-key" | "timeout" | "network" | "http" | "bad-response" | "unparseable";

/** A model that could not be asked or did not answer properly. Messages never hold a key. */
export class ProviderFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
    this.name = "ProviderFailure";
  }
}

/** One verification question: the model, the prompt, its key (if it sends one), and the deadline's signal. */
export interface ProviderCall {
  model: ModelSpec;
  prompt: { system: string; user: string };
  apiKey: string | undefined;
  signal: AbortSignal;
}

/** Asks one model; resolves with its message content (text), or throws ProviderFailure. */
export type Provider = (call: ProviderCall) => Promise<string>;

/** The largest response body read. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * POSTs JSON and returns the parsed JSON body of a 2xx response.
 *
 * @example const json = await postJson("http://127.0.0.1:11434/v1/chat/completions", {}, body, signal, []);
 * @throws ProviderFailure: "timeout" once the signal aborts, "network", "http" (non-2xx), "bad-response".
 */
export async function postJson(url: string, headers: Record<string, string>, body: unknown, signal: AbortSignal, secrets: readonly string[]): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", ...headers },
      body: JSON.stringify(body),
      // (not "error": edge hosts refuse it; a redirect is refused below, unread)
      redirect: "manual",
      signal,
    });
  } catch (error) {
    throw failureOf(error, signal, secrets);
  }
  if (res.type === "opaqueredirect" || (res.status >= 300 && res.status < 400)) {
    // A redirect would carry the key elsewhere: never followed.
    await res.body?.cancel().catch(() => undefined);
    throw new ProviderFailure("network", "request failed: the endpoint answered with a redirect, which the kernel does not follow");
  }
  if (res.status === 401 || res.status === 403) {
    // Never read: such a body may quote the key back, and a hostile endpoint may never end it.
    await res.body?.cancel().catch(() => undefined);
    throw new ProviderFailure("http", `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`);
  }
  let text: string;
  try {
    text = await readBounded(res, MAX_RESPONSE_BYTES);
  } catch (error) {
    throw failureOf(error, signal, secrets);
  }
  if (res.status < 200 || res.status > 299) {
    throw new ProviderFailure("http", scrub(`HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}${errorDetail(res.status, text)}`, secrets));
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ProviderFailure("bad-response", "the response body is not JSON");
  }
}

/**
 * Replaces every occurrence of each secret in a text (for anything that may reach the log).
 *
 * @example scrub("bad key sk-123", ["sk-123"]) // "bad key [redacted]"
 */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length > 0 && out.includes(secret)) out = out.split(secret).join("[redacted]");
  return out;
}

/**
 * A key and its obvious encodings, for `scrub`: as is, URL-encoded, hex, and base64 / base64url
 * at each of the three alignments it can have inside a longer encoded text (the few characters
 * at each end that mix in neighbouring bytes are left out). Longest first.
 *
 * @example scrub(btoa("user:" + key), secretForms(key)) // no longer decodes to the key
 */
export function secretForms(key: string): string[] {
  if (key.length === 0) return [];
  const bytes = new TextEncoder().encode(key);
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const forms = new Set<string>([key, encodeURIComponent(key), hex, hex.toUpperCase()]);
  if (bytes.length >= 12) {
    for (let pad = 0; pad < 3; pad++) {
      const b64 = btoa(String.fromCharCode(...new Uint8Array(pad), ...bytes));
      const middle = b64.slice(4, b64.length - 4);
      forms.add(middle);
      forms.add(middle.replace(/\+/g, "-").replace(/\//g, "_"));
    }
  }
  return [...forms].filter((f) => f.length > 0).sort((a, b) => b.length - a.length);
}

/** The joined base URL and path, with no doubled slash. */
export function endpoint(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, "")}${path}`;
}

/** A short error message from the body (401 and 403 bodies are never read). */
function errorDetail(status: number, body: string): string {
  let message: unknown;
  try {
    const json = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    message = typeof json.error === "string" ? json.error : (json.error?.message ?? json.message);
  } catch {
    return "";
  }
  if (typeof message !== "string" || message.length === 0) return "";
  const flat = message.replace(/\s+/g, " ");
  return `: ${flat.length > 200 ? `${flat.slice(0, 200)}…` : flat}`;
}

function failureOf(error: unknown, signal: AbortSignal, secrets: readonly string[]): ProviderFailure {
  if (error instanceof ProviderFailure) return error;
  if (signal.aborted) return new ProviderFailure("timeout", "no answer before the deadline");
  const cause = (error as { cause?: { code?: unknown; message?: unknown } })?.cause;
  const detail = typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" ? cause.message : error instanceof Error ? error.message : String(error);
  return new ProviderFailure("network", scrub(`request failed: ${detail}`, secrets));
}

async function readBounded(res: Response, max: number): Promise<string> {
  if (!res.body) return "";
  // A declared length within bounds is read at once (the client refuses a body longer than it declares).
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (Number.isSafeInteger(declared) && declared >= 0 && declared <= max) return new TextDecoder().decode(await res.arrayBuffer());
  const all = await readCapped(res.body, max);
  if (all === undefined) throw new ProviderFailure("bad-response", `the response is larger than ${max} bytes`);
  return new TextDecoder().decode(all);
}

/**
 * The scripted model's streamed answer to an OpenAI chat completion with `stream: true`, in
 * OpenAI's wire format: `text/event-stream`, one `data: {chat.completion.chunk}` event per
 * delta, then `data: [DONE]`.
 *
 * - The first chunk carries `delta.role: "assistant"` (and `content: ""`), as OpenAI sends it.
 * - The content comes in pieces (the step's `chunks`, or the content cut after each space).
 * - Each tool call starts with a chunk holding its `index`, `id`, `type` and name with empty
 *   arguments; its arguments follow in two pieces (`function.arguments` only).
 * - The last choice chunk has an empty delta and the `finish_reason`.
 * - With `stream_options.include_usage`, every chunk has `usage: null` and one more chunk, with
 *   `choices: []`, carries the usage.
 * - A step's `delayMs` is waited before each event after the first (to show events arriving).
 */
import type { ServerResponse } from "node:http";

/** What one streamed answer says (resolved from a script step by scripted.ts). */
export interface StreamedAnswer {
  id: string;
  model: string;
  content?: string;
  /** The content's pieces, in order (default: the content cut after each space). */
  chunks?: string[];
  calls: { id: string; name: string; arguments: Record<string, unknown> }[];
  finishReason: string;
  usage: { input: number; output: number };
  includeUsage: boolean;
  delayMs?: number;
}

/** The content cut after each space: "a b c" -> ["a ", "b ", "c"]. */
export function contentPieces(content: string): string[] {
  const pieces = content.match(/[^ ]* *|[^ ]+$/g)?.filter((p) => p !== "") ?? [];
  return pieces.length > 0 ? pieces : [content];
}

/** The chat.completion.chunk objects of one answer, in order (without the `[DONE]` marker). */
export function streamChunks(answer: StreamedAnswer): Record<string, unknown>[] {
  const base = { id: answer.id, object: "chat.completion.chunk", created: 0, model: answer.model, system_fingerprint: null };
  const usage = answer.includeUsage ? { usage: null } : {};
  const chunk = (delta: Record<string, unknown>, finish: string | null = null): Record<string, unknown> => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...usage,
  });
  const out = [chunk({ role: "assistant", content: "", refusal: null })];
  if (answer.content !== undefined && answer.content !== "") {
    for (const piece of answer.chunks ?? contentPieces(answer.content)) out.push(chunk({ content: piece }));
  }
  answer.calls.forEach((call, index) => {
    out.push(chunk({ tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }] }));
    const args = JSON.stringify(call.arguments);
    const half = Math.ceil(args.length / 2);
    for (const part of [args.slice(0, half), args.slice(half)]) {
      if (part !== "") out.push(chunk({ tool_calls: [{ index, function: { arguments: part } }] }));
    }
  });
  out.push(chunk({}, answer.finishReason));
  if (answer.includeUsage) {
    const { input, output } = answer.usage;
    out.push({ ...base, choices: [], usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output } });
  }
  return out;
}

/** Writes the answer as server-sent events and ends the response. */
export async function writeStream(res: ServerResponse, answer: StreamedAnswer): Promise<void> {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" });
  const events = [...streamChunks(answer).map((c) => JSON.stringify(c)), "[DONE]"];
  for (const [i, data] of events.entries()) {
    if (i > 0 && answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
    if (res.destroyed) return;
    res.write(`data: ${data}\n\n`);
  }
  res.end();
}

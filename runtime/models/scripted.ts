/**
 * A scripted stand-in for a model provider, for tests and demos: a real HTTP server on
 * 127.0.0.1 that speaks OpenAI chat completions (`POST /v1/chat/completions`) and Anthropic
 * messages (`POST /v1/messages`) and answers from a script instead of a model. An OpenAI request
 * with `stream: true` is answered with server-sent events (scripted-stream.ts). It says so: every
 * answer's `model` is the requested name with " (scripted)" appended, unless the step names one.
 *
 * ```ts
 * const model = await startScriptedModel([
 *   { toolCalls: [{ name: "read_file", arguments: { path: "/workspace/notes.txt" } }] },
 *   { content: "The notes say hello." },
 * ]);
 * const kernel = new KernelSpace({ models: { fast: { provider: "openai", model: "m", baseUrl: `${model.url}/v1` } } });
 * // ... model.requests[0].body.messages
 * await model.close();
 * ```
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { writeStream } from "./scripted-stream.js";

/** One scripted answer. */
export type ScriptStep =
  | {
      content?: string;
      toolCalls?: { id?: string; name: string; arguments: Record<string, unknown> }[];
      /** The wire value ("stop", "tool_calls", "end_turn", ...); default from the answer. */
      finishReason?: string;
      usage?: { input: number; output: number };
      model?: string;
      /** Streamed answers (OpenAI, `stream: true`): the content's pieces (default: cut after each space). */
      chunks?: string[];
      /** Streamed answers: milliseconds waited before each event after the first. */
      delayMs?: number;
    }
  /** Answer with this status and JSON body. */
  | { status: number; body?: unknown }
  /** Answer 200 with this raw text as the body. */
  | { raw: string }
  /** Never answer. */
  | { hang: true };

/** A list of steps (one per request, in order; the last repeats) or a function of the request. */
export type Script = ScriptStep[] | ((request: ScriptedRequest, index: number) => ScriptStep);

export interface ScriptedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body ({} when it was not JSON). */
  body: Record<string, unknown>;
  format: "openai" | "anthropic";
}

export interface ScriptedModel {
  /** http://127.0.0.1:PORT. OpenAI base URL: `${url}/v1`; Anthropic base URL: `url`. */
  url: string;
  /** Every request received, in order. */
  requests: ScriptedRequest[];
  close(): Promise<void>;
}

/**
 * Starts a scripted model server on 127.0.0.1, on `options.port` (default: a free port).
 *
 * @example const model = await startScriptedModel([{ content: "hello" }]); await model.close();
 */
export async function startScriptedModel(script: Script, options: { port?: number } = {}): Promise<ScriptedModel> {
  const requests: ScriptedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      } catch {
        // recorded as {}
      }
      const path = req.url ?? "";
      const format = path === "/v1/messages" ? "anthropic" : "openai";
      if (req.method !== "POST" || (format === "openai" && path !== "/v1/chat/completions")) {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: `no route ${path}` } }));
        return;
      }
      const request: ScriptedRequest = { method: req.method, path, headers: req.headers, body, format };
      const index = requests.push(request) - 1;
      const step = typeof script === "function" ? script(request, index) : script[Math.min(index, script.length - 1)];
      answer(res, request, step, index);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function answer(res: ServerResponse, request: ScriptedRequest, step: ScriptStep | undefined, index: number): void {
  if (step === undefined) {
    res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "the script has no step for this request" } }));
    return;
  }
  if ("hang" in step) return;
  if ("status" in step) {
    res.writeHead(step.status, { "content-type": "application/json" }).end(JSON.stringify(step.body ?? { error: { message: "scripted failure" } }));
    return;
  }
  if ("raw" in step) {
    res.writeHead(200, { "content-type": "application/json" }).end(step.raw);
    return;
  }
  const model = step.model ?? `${String(request.body.model ?? "")} (scripted)`;
  const calls = (step.toolCalls ?? []).map((c, i) => ({ id: c.id ?? `call_${index}_${i}`, name: c.name, arguments: c.arguments }));
  const usage = step.usage ?? { input: 10, output: 5 };
  if (request.format === "openai" && request.body.stream === true) {
    const options = request.body.stream_options as { include_usage?: unknown } | undefined;
    const finishReason = step.finishReason ?? (calls.length > 0 ? "tool_calls" : "stop");
    const answer = { id: "chatcmpl-scripted", model, content: step.content, chunks: step.chunks, calls, finishReason, usage, includeUsage: options?.include_usage === true, delayMs: step.delayMs };
    void writeStream(res, answer).catch(() => res.destroy());
    return;
  }
  const body = request.format === "anthropic" ? anthropicReply(step, calls, usage, model) : openaiReply(step, calls, usage, model);
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
}

type Call = { id: string; name: string; arguments: Record<string, unknown> };
type Step = Extract<ScriptStep, { content?: string }>;

function openaiReply(step: Step, calls: Call[], usage: { input: number; output: number }, model: string): unknown {
  const message: Record<string, unknown> = { role: "assistant", content: step.content ?? (calls.length > 0 ? null : "") };
  if (calls.length > 0) message.tool_calls = calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: JSON.stringify(c.arguments) } }));
  return {
    id: "chatcmpl-scripted",
    object: "chat.completion",
    created: 0,
    model,
    choices: [{ index: 0, message, finish_reason: step.finishReason ?? (calls.length > 0 ? "tool_calls" : "stop") }],
    usage: { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output },
  };
}

function anthropicReply(step: Step, calls: Call[], usage: { input: number; output: number }, model: string): unknown {
  const content: unknown[] = [];
  if (step.content !== undefined) content.push({ type: "text", text: step.content });
  for (const c of calls) content.push({ type: "tool_use", id: c.id, name: c.name, input: c.arguments });
  return {
    id: "msg_scripted",
    type: "message",
    role: "assistant",
    model,
    content,
    stop_reason: step.finishReason ?? (calls.length > 0 ? "tool_use" : "end_turn"),
    stop_sequence: null,
    usage: { input_tokens: usage.input, output_tokens: usage.output },
  };
}

/**
 * A stand-in for hosted models that speaks their real wire formats over a real socket on
 * 127.0.0.1: OpenAI chat completions (POST /v1/chat/completions) and Anthropic messages
 * (POST /v1/messages). Each model name gets a scripted behaviour; every request is recorded
 * (path, headers, parsed body) so that tests can check what the client sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type Script =
  /** Answer with this message content (a verdict object is JSON-encoded; a string is sent as is). */
  | { content: string | { verdict: string; confidence: number; reason: string } }
  /**
   * Answer with this HTTP status and JSON body; with `hold`, the head and the body are sent but
   * the response never ends, so that a client that reads the body waits until its deadline.
   */
  | { status: number; body?: unknown; hold?: boolean }
  /** Answer 200 with this raw body text. */
  | { raw: string }
  /** Never answer. */
  | { hang: true }
  /** Answer as the script this promise gives, once it does. */
  | { after: Promise<Script> }
  /** Redirect to another path. */
  | { redirect: string };

export interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
  /** The model name from the body. */
  model: string;
  /** The prompt text: every message's content (and Anthropic's system) joined. */
  prompt: string;
  /** Set when the client went away before an answer (an aborted request). */
  abandoned: boolean;
}

export interface ModelServer {
  /** http://127.0.0.1:PORT (OpenAI base URL: `${url}/v1`; Anthropic base URL: `url`). */
  url: string;
  seen: Seen[];
  script(model: string, behaviour: Script | ((seen: Seen) => Script)): void;
  close(): Promise<void>;
}

export const approve = (reason = "consistent with the task"): Script => ({ content: { verdict: "approve", confidence: 0.9, reason } });
export const reject = (reason = "not consistent with the task"): Script => ({ content: { verdict: "reject", confidence: 0.8, reason } });

export async function startModelServer(): Promise<ModelServer> {
  const scripts = new Map<string, Script | ((seen: Seen) => Script)>();
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      } catch {
        // recorded as {}
      }
      const messages = Array.isArray(body.messages) ? (body.messages as { content?: unknown }[]) : [];
      const prompt = [typeof body.system === "string" ? body.system : "", ...messages.map((m) => (typeof m.content === "string" ? m.content : ""))].join("\n");
      const entry: Seen = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body, model: String(body.model ?? ""), prompt, abandoned: false };
      res.on("close", () => {
        if (!res.writableFinished) entry.abandoned = true;
      });
      seen.push(entry);
      const anthropic = entry.path === "/v1/messages";
      if (req.method !== "POST" || (!anthropic && entry.path !== "/v1/chat/completions")) {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: `no route ${entry.path}` } }));
        return;
      }
      const scripted = scripts.get(entry.model);
      const behaviour = typeof scripted === "function" ? scripted(entry) : scripted;
      if (behaviour && "after" in behaviour) void behaviour.after.then((later) => answer(res, entry, later));
      else answer(res, entry, behaviour);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    script: (model, behaviour) => void scripts.set(model, behaviour),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answers one request as its script says. */
function answer(res: ServerResponse, entry: Seen, behaviour: Script | undefined): void {
  const anthropic = entry.path === "/v1/messages";
  if (!behaviour) {
    res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: `model ${entry.model} not found` } }));
    return;
  }
  if ("hang" in behaviour || "after" in behaviour) return;
  if ("redirect" in behaviour) {
    res.writeHead(307, { location: behaviour.redirect }).end();
    return;
  }
  if ("status" in behaviour) {
    const body = JSON.stringify(behaviour.body ?? { error: { message: "scripted failure" } });
    if (behaviour.hold) res.writeHead(behaviour.status, { "content-type": "application/json" }).write(body);
    else res.writeHead(behaviour.status, { "content-type": "application/json" }).end(body);
    return;
  }
  if ("raw" in behaviour) {
    res.writeHead(200, { "content-type": "application/json" }).end(behaviour.raw);
    return;
  }
  const content = typeof behaviour.content === "string" ? behaviour.content : JSON.stringify(behaviour.content);
  const reply = anthropic
    ? {
        id: "msg_test",
        type: "message",
        role: "assistant",
        model: entry.model,
        // A non-text block first: the client must take the first *text* block.
        content: [{ type: "thinking", thinking: "weighing it", signature: "x" }, { type: "text", text: content }],
        stop_reason: "end_turn",
        stop_sequence: null,
        usage: { input_tokens: 10, output_tokens: 10 },
      }
    : {
        id: "chatcmpl-test",
        object: "chat.completion",
        created: 0,
        model: entry.model,
        choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
        usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
      };
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(reply));
}

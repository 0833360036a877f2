/**
 * What the gate builds from a guest's call before deciding it: the canonical request the policy
 * sees, and the WIT error a capability's failure becomes.
 */
import { canonicalPath, canonicalUrl } from "./canonical.js";
import { parseToolArgs } from "./capabilities/tools.js";
import { GuestError, type WitError } from "./errors.js";
import type { GateRun } from "./gate.js";
import { OPS, type OpName } from "./kernel/ops.js";
import { checkChatRequest } from "./models/validate.js";
import type { ChatRequest } from "./models/types.js";
import type { Request, SqlFacts } from "./types.js";

/**
 * The canonical request the policy sees; for sql.query, with the facts the run's SQL capability
 * gave (absent: the request has none). Throws GuestError for invalid arguments.
 */
export function buildRequest(run: Pick<GateRun, "agent" | "pid" | "code">, op: OpName, args: unknown[], sql?: SqlFacts): Request {
  const action = OPS[op].action!;
  // (keys in the order policies and verifiers have always seen them)
  const request: Request = run.code === undefined ? { action, agent: run.agent, pid: run.pid, resource: "" } : { action, agent: run.agent, pid: run.pid, code: run.code, resource: "" };
  switch (action) {
    case "fs.read":
    case "fs.write":
    case "fs.list":
    case "fs.remove":
    case "fs.stat":
    case "fs.mkdir":
      request.resource = canonicalPath(args[0] as string);
      return request;
    case "http.fetch": {
      const req = args[0] as { method: string; url: string };
      const method = req.method.toUpperCase();
      if (!/^[A-Z]{1,16}$/.test(method)) throw new GuestError({ tag: "invalid", val: "an HTTP method is one word of letters" });
      request.resource = canonicalUrl(req.url);
      request.method = method;
      return request;
    }
    case "sql.query":
      request.resource = args[0] as string;
      if (sql) request.sql = sql;
      return request;
    case "log.write":
    case "process.checkpoint":
      request.resource = args[0] as string;
      return request;
    case "llm.chat": {
      const chat = args[0] as ChatRequest;
      checkChatRequest(chat);
      request.resource = chat.model;
      return request;
    }
    case "tool.call":
      if (typeof args[0] !== "string" || args[0] === "") throw new GuestError({ tag: "invalid", val: "tools.call: a tool name is a non-empty string" });
      request.resource = args[0];
      request.args = parseToolArgs(args[1]);
      return request;
    default:
      return request;
  }
}

/** Turns anything a capability threw into a WIT error with no host detail in it. */
export function toWitError(error: unknown): WitError {
  if (error instanceof GuestError) return error.error;
  return { tag: "io", val: "the host could not carry out the call" };
}

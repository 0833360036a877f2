/**
 * The guest SDK: what an agent imports to act on the world.
 *
 * ```js
 * import { fs, http, sql, log, llm, tools } from "agent-os/guest";
 * export async function run(task) {
 *   const text = await fs.readText("/workspace/notes.txt");
 *   await log.info("read the notes", { bytes: text.length });
 *   return text.toUpperCase();
 * }
 * ```
 *
 * Every function here is a host call through the kernel's gate: the policy decides it before
 * it happens and the episodic log records it. The same API runs on both engines (QuickJS and
 * WebAssembly components). A denied call rejects with `PermissionDenied` (naming the rule); other
 * expected failures reject with `KernelError`, whose `kind` says which.
 */
import * as kclock from "agentos:kernel/clock@0.1.0";
import * as kfs from "agentos:kernel/fs@0.1.0";
import * as khttp from "agentos:kernel/http@0.1.0";
import * as kllm from "agentos:kernel/llm@0.1.0";
import * as klog from "agentos:kernel/log@0.1.0";
import * as kprocess from "agentos:kernel/process@0.1.0";
import * as krandom from "agentos:kernel/random@0.1.0";
import * as ksql from "agentos:kernel/sql@0.1.0";
import * as ktools from "agentos:kernel/tools@0.1.0";

/** The policy refused the call. */
export class PermissionDenied extends Error {
  /** The id of the rule that denied, or null when the policy's default did. */
  readonly rule: string | null;
  readonly reason: string;
  constructor(rule: string | null, reason: string) {
    super(rule ? `denied by rule ${rule}: ${reason}` : `denied: ${reason}`);
    this.name = "PermissionDenied";
    this.rule = rule;
    this.reason = reason;
  }
}

export type ErrorKind = "not-found" | "invalid" | "io" | "limit" | "interrupted";

/** An expected failure other than a denial: not found, invalid input, an I/O error, a quota, SIGTERM. */
export class KernelError extends Error {
  readonly kind: ErrorKind;
  readonly detail: string;
  constructor(kind: ErrorKind, detail: string) {
    super(`${kind}: ${detail}`);
    this.name = "KernelError";
    this.kind = kind;
    this.detail = detail;
  }
}

type Payload = { tag: string; val?: unknown };

function translate(error: unknown): unknown {
  const payload = (error as { payload?: Payload } | null)?.payload;
  if (!payload || typeof payload.tag !== "string") return error;
  if (payload.tag === "denied") {
    const val = (payload.val ?? {}) as { rule?: string; reason?: string };
    return new PermissionDenied(val.rule ?? null, String(val.reason ?? "denied"));
  }
  return new KernelError(payload.tag as ErrorKind, String(payload.val ?? ""));
}

/** Runs a raw import, turning a WIT error into the SDK's error classes, as a promise. */
function call<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(translate(error));
  }
}

function bytesOf(data: Uint8Array | ArrayBuffer): Uint8Array {
  return data instanceof Uint8Array ? data : new Uint8Array(data);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface Stat {
  kind: "file" | "directory" | "symlink" | "other";
  size: number;
  modified: Date;
}

/** Files, inside the mounts the kernel gives the agent. Paths are absolute guest paths. */
export const fs = {
  read: (path: string): Promise<Uint8Array> => call(() => bytesOf(kfs.read(path))),
  readText: (path: string): Promise<string> => call(() => kfs.readText(path)),
  write: (path: string, data: string | Uint8Array, options: { append?: boolean } = {}): Promise<void> =>
    call(() =>
      typeof data === "string"
        ? kfs.writeText(path, data, options.append === true)
        : kfs.write(path, bytesOf(data), options.append === true),
    ),
  list: (path: string): Promise<{ name: string; kind: Stat["kind"] }[]> => call(() => kfs.list(path)),
  remove: (path: string, options: { recursive?: boolean } = {}): Promise<void> =>
    call(() => kfs.remove(path, options.recursive === true)),
  stat: (path: string): Promise<Stat> =>
    call(() => {
      const s = kfs.stat(path);
      return { kind: s.kind, size: Number(s.size), modified: new Date(Number(s.modifiedMs)) };
    }),
  mkdir: (path: string, options: { recursive?: boolean } = {}): Promise<void> =>
    call(() => kfs.mkdir(path, options.recursive === true)),
};

export interface HttpResponse {
  status: number;
  ok: boolean;
  headers: Record<string, string>;
  body: Uint8Array;
  text(): string;
  json(): unknown;
}

export interface HttpInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

/** HTTP(S), to the hosts the policy allows. Redirects are followed by the kernel. */
export const http = {
  fetch: (url: string, init: HttpInit = {}): Promise<HttpResponse> =>
    call(() => {
      const body = init.body === undefined ? undefined : typeof init.body === "string" ? encoder.encode(init.body) : init.body;
      const response = khttp.fetch({
        method: (init.method ?? "GET").toUpperCase(),
        url,
        headers: Object.entries(init.headers ?? {}).map(([k, v]) => [k, String(v)] as [string, string]),
        body,
      });
      const bytes = bytesOf(response.body);
      return {
        status: response.status,
        ok: response.status >= 200 && response.status < 300,
        headers: Object.fromEntries(response.headers.map(([k, v]) => [k.toLowerCase(), v])),
        body: bytes,
        text: () => decoder.decode(bytes),
        json: () => JSON.parse(decoder.decode(bytes)) as unknown,
      };
    }),
};

export type SqlParam = null | undefined | boolean | number | bigint | string | Uint8Array;
/** Integers come back as numbers when they are safe integers, as bigints otherwise. */
export type SqlCell = null | number | bigint | string | Uint8Array;

export interface SqlResult {
  columns: string[];
  rows: SqlCell[][];
  /** Rows changed by a write statement. */
  changes: number;
  /** The rows as objects keyed by column name. */
  objects(): Record<string, SqlCell>[];
}

function toValue(param: SqlParam): ksql.Value {
  if (param === null || param === undefined) return { tag: "null" };
  if (typeof param === "boolean") return { tag: "integer", val: param ? 1n : 0n };
  if (typeof param === "bigint") return { tag: "integer", val: param };
  if (typeof param === "number") return Number.isInteger(param) ? { tag: "integer", val: BigInt(param) } : { tag: "real", val: param };
  if (typeof param === "string") return { tag: "text", val: param };
  return { tag: "blob", val: param };
}

function fromValue(value: ksql.Value): SqlCell {
  switch (value.tag) {
    case "null":
      return null;
    case "integer":
      return value.val >= BigInt(Number.MIN_SAFE_INTEGER) && value.val <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value.val) : value.val;
    case "real":
    case "text":
      return value.val;
    case "blob":
      return bytesOf(value.val);
  }
}

/** SQL on the databases the kernel names; one statement per call, parameters always bound. */
export const sql = {
  query: (database: string, statement: string, params: SqlParam[] = []): Promise<SqlResult> =>
    call(() => {
      const result = ksql.query(database, statement, params.map(toValue));
      const rows = result.rows.map((row) => row.map(fromValue));
      return {
        columns: result.columns,
        rows,
        changes: Number(result.changes),
        objects: () => rows.map((row) => Object.fromEntries(result.columns.map((c, i) => [c, row[i]]))),
      };
    }),
};

type Fields = Record<string, unknown>;

function pairs(fields: Fields): [string, string][] {
  return Object.entries(fields).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v) ?? String(v)]);
}

/** Structured log lines, recorded in the episodic log with the run. */
export const log = {
  debug: (message: string, fields: Fields = {}): Promise<void> => call(() => klog.write("debug", message, pairs(fields))),
  info: (message: string, fields: Fields = {}): Promise<void> => call(() => klog.write("info", message, pairs(fields))),
  warn: (message: string, fields: Fields = {}): Promise<void> => call(() => klog.write("warn", message, pairs(fields))),
  error: (message: string, fields: Fields = {}): Promise<void> => call(() => klog.write("error", message, pairs(fields))),
};

/** The kernel's clock (`Date` and `Date.now()` read it too). */
export const clock = {
  now: (): Promise<Date> =>
    call(() => {
      const t = kclock.now();
      return new Date(Number(t.seconds) * 1000 + Math.floor(t.nanoseconds / 1e6));
    }),
  /** Nanoseconds since an arbitrary point fixed for the run. */
  monotonic: (): Promise<bigint> => call(() => kclock.monotonicNow()),
};

/** The kernel's randomness (`Math.random` and `crypto.getRandomValues` use it too). */
export const random = {
  bytes: (length: number): Promise<Uint8Array> => call(() => bytesOf(krandom.bytes(length))),
};

/** Signals the agent may observe: SIGTERM asks it to finish. */
export const signals = {
  pending: (): Promise<"SIGTERM" | null> => call(() => (kprocess.pendingSignal() === "sigterm" ? "SIGTERM" : null)),
};

/** The agent's own process. */
export const process = {
  /** Records a checkpoint in the episodic log, for replay; resolves to its sequence number. */
  checkpoint: (label: string): Promise<number> => call(() => Number(kprocess.checkpoint(label))),
};

/** A message of a chat. A tool call's `arguments` is the parsed object. */
export type ChatMessage =
  | { role: "system" | "user"; content: string }
  | { role: "assistant"; content: string | null; toolCalls?: ChatToolCall[] }
  | { role: "tool"; toolCallId: string; content: string };

export interface ChatToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
}

/** A tool the model may call: `parameters` is a JSON Schema (an object schema). */
export interface ChatTool {
  name: string;
  description?: string;
  parameters: Record<string, unknown>;
}

export interface ChatOptions {
  /** An alias the host configured (e.g. "fast"), never a URL. */
  model: string;
  messages: ChatMessage[];
  tools?: ChatTool[];
  /** Output tokens at most; default: the run's limits.maxTokensPerCall. */
  maxTokens?: number;
  temperature?: number;
  stop?: string[];
  /** Ask for one JSON object as the answer. */
  json?: boolean;
}

export interface ChatResult {
  content: string;
  toolCalls: ChatToolCall[];
  finishReason: "stop" | "length" | "tool-calls" | "content-filter" | "other";
  usage: { inputTokens: number; outputTokens: number };
  /** The model that answered, as the provider names it. */
  model: string;
}

function toolCallOut(c: ChatToolCall): kllm.ToolCall {
  return { id: String(c.id), name: String(c.name), arguments: JSON.stringify(c.arguments ?? {}) };
}

function messageOut(m: ChatMessage): kllm.Message {
  const content = m.content === null || m.content === undefined ? "" : String(m.content);
  if (m.role === "assistant") return { role: "assistant", content, toolCalls: (m.toolCalls ?? []).map(toolCallOut) };
  if (m.role === "tool") return { role: "tool", content, toolCalls: [], toolCallId: String(m.toolCallId) };
  return { role: m.role, content, toolCalls: [] };
}

/**
 * Models, through the kernel: the host names them by alias and holds their keys; the policy
 * decides each call (action `llm.chat`, resource the alias) and the run's token budget bounds them.
 *
 * @example
 * const r = await llm.chat({ model: "fast", messages: [{ role: "user", content: "Hi" }] });
 * r.content; r.toolCalls; r.usage.inputTokens
 */
export const llm = {
  chat: (options: ChatOptions): Promise<ChatResult> =>
    call(() => {
      const response = kllm.chat({
        model: options.model,
        messages: (options.messages ?? []).map(messageOut),
        tools: (options.tools ?? []).map((t) => ({ name: t.name, description: t.description ?? "", parameters: JSON.stringify(t.parameters ?? { type: "object" }) })),
        maxTokens: options.maxTokens,
        temperature: options.temperature,
        stop: options.stop ?? [],
        json: options.json === true,
      });
      return {
        content: response.content,
        toolCalls: response.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: JSON.parse(c.arguments) as Record<string, unknown> })),
        finishReason: response.finishReason,
        usage: { inputTokens: response.usage.inputTokens, outputTokens: response.usage.outputTokens },
        model: response.model,
      };
    }),
};

/** A tool the host offers, as `tools.list()` gives it. */
export interface ToolInfo {
  /** `TOOL` for the host's own tools, `SERVER/TOOL` for an MCP server's. */
  name: string;
  description: string;
  /** The JSON Schema of its arguments. */
  inputSchema: Record<string, unknown>;
}

/**
 * Tools the host offers (its own and MCP servers'), through the kernel: the policy decides each
 * call (action `tool.call`, resource the tool's name, `args` constraints on its arguments), the
 * kernel validates the arguments against the tool's schema first, and the log records both the
 * arguments and the result.
 *
 * @example
 * const list = await tools.list(); // [{ name: "search", description, inputSchema }]
 * const hits = await tools.call("search", { query: "agents" });
 */
export const tools = {
  /** The tools the policy could let this agent call (listing is itself a decided call, `tool.list`). */
  list: (): Promise<ToolInfo[]> =>
    call(() => ktools.list().map((t) => ({ name: t.name, description: t.description, inputSchema: JSON.parse(t.inputSchema) as Record<string, unknown> }))),
  /** Calls a tool; resolves to its result as plain JSON. */
  call: (name: string, args: Record<string, unknown> = {}): Promise<unknown> =>
    call(() => JSON.parse(ktools.call(String(name), JSON.stringify(args ?? {}))) as unknown),
};

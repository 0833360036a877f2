/**
 * Every WIT import function (wit/kernel.wit) with its parameter types and the gate action
 * that decides it. The QuickJS engine copies guest arguments into plain data by these types;
 * `test/wit.test.ts` checks this table against the WIT file, so the two cannot drift apart.
 */
import type { Action } from "../types.js";

/** A WIT type, as far as the kernel's imports use it. */
export type WitType =
  | "string"
  | "bool"
  | "u32"
  | "u64"
  | "s64"
  | "f64"
  | "bytes"
  | { list: WitType }
  | { tuple: WitType[] }
  | { record: Record<string, WitType> }
  | { option: WitType }
  | { enum: string[] }
  | { variant: Record<string, WitType | null> };

export interface OpSpec {
  /** The gate action; null for calls the kernel answers without a decision (pending-signal). */
  action: Action | null;
  /** Parameters in WIT order: [name, type]. */
  params: [string, WitType][];
}

const headers: WitType = { list: { tuple: ["string", "string"] } };

export const SQL_VALUE: WitType = {
  variant: { null: null, integer: "s64", real: "f64", text: "string", blob: "bytes" },
};

const TOOL_CALL: WitType = { record: { id: "string", name: "string", arguments: "string" } };

/** llm.chat's request: field names as the guest writes them (jco's camelCase). */
export const CHAT_REQUEST: WitType = {
  record: {
    model: "string",
    messages: {
      list: {
        record: {
          role: { enum: ["system", "user", "assistant", "tool"] },
          content: "string",
          toolCalls: { list: TOOL_CALL },
          toolCallId: { option: "string" },
        },
      },
    },
    tools: { list: { record: { name: "string", description: "string", parameters: "string" } } },
    maxTokens: { option: "u32" },
    temperature: { option: "f64" },
    stop: { list: "string" },
    json: "bool",
  },
};

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** Keyed by "<interface>.<function>" with WIT (kebab-case) names. */
export const OPS = {
  "fs.read": { action: "fs.read", params: [["path", "string"]] },
  "fs.read-text": { action: "fs.read", params: [["path", "string"]] },
  "fs.write": { action: "fs.write", params: [["path", "string"], ["data", "bytes"], ["append", "bool"]] },
  "fs.write-text": { action: "fs.write", params: [["path", "string"], ["text", "string"], ["append", "bool"]] },
  "fs.list": { action: "fs.list", params: [["path", "string"]] },
  "fs.remove": { action: "fs.remove", params: [["path", "string"], ["recursive", "bool"]] },
  "fs.stat": { action: "fs.stat", params: [["path", "string"]] },
  "fs.mkdir": { action: "fs.mkdir", params: [["path", "string"], ["recursive", "bool"]] },
  "http.fetch": {
    action: "http.fetch",
    params: [["req", { record: { method: "string", url: "string", headers, body: { option: "bytes" } } }]],
  },
  "sql.query": {
    action: "sql.query",
    params: [["database", "string"], ["statement", "string"], ["params", { list: SQL_VALUE }]],
  },
  "log.write": {
    action: "log.write",
    params: [["level", { enum: [...LOG_LEVELS] }], ["message", "string"], ["fields", headers]],
  },
  "clock.now": { action: "clock.now", params: [] },
  "clock.monotonic-now": { action: "clock.now", params: [] },
  // A timer reveals only time: decided as reading the clock (the deadline bounds the wait).
  "clock.sleep-until": { action: "clock.now", params: [["when", "u64"]] },
  "random.bytes": { action: "random.bytes", params: [["len", "u32"]] },
  "process.pending-signal": { action: null, params: [] },
  "process.checkpoint": { action: "process.checkpoint", params: [["label", "string"]] },
  "llm.chat": { action: "llm.chat", params: [["req", CHAT_REQUEST]] },
  "tools.list": { action: "tool.list", params: [] },
  "tools.call": { action: "tool.call", params: [["name", "string"], ["args", "string"]] },
} as const satisfies Record<string, OpSpec>;

export type OpName = keyof typeof OPS;

export function isOpName(name: string): name is OpName {
  return Object.prototype.hasOwnProperty.call(OPS, name);
}

/** "read-text" -> "readText": how jco (and so the guest) names a WIT function. */
export function camelCase(kebab: string): string {
  return kebab.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** The interfaces of the agent world, in WIT order. */
export const INTERFACES = ["fs", "http", "sql", "log", "clock", "random", "process", "llm", "tools"] as const;

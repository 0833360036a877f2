/**
 * The raw WIT imports (wit/kernel.wit) as a guest sees them, with jco's naming: camelCase
 * functions, `list<u8>` as Uint8Array (QuickJS hands out an ArrayBuffer; the SDK accepts both),
 * `u64`/`s64` as bigint, an `err` result thrown as an Error whose `payload` is the variant.
 * Agent authors use the SDK (guest-sdk/index.ts) instead of these.
 */
type Bytes = Uint8Array | ArrayBuffer;
type Pairs = [string, string][];

declare module "agentos:kernel/fs@0.1.0" {
  export type EntryKind = "file" | "directory" | "symlink" | "other";
  export function read(path: string): Bytes;
  export function readText(path: string): string;
  export function write(path: string, data: Uint8Array, append: boolean): void;
  export function writeText(path: string, text: string, append: boolean): void;
  export function list(path: string): { name: string; kind: EntryKind }[];
  export function remove(path: string, recursive: boolean): void;
  export function stat(path: string): { kind: EntryKind; size: bigint; modifiedMs: bigint };
  export function mkdir(path: string, recursive: boolean): void;
}

declare module "agentos:kernel/http@0.1.0" {
  export function fetch(req: { method: string; url: string; headers: Pairs; body?: Uint8Array }): {
    status: number;
    headers: Pairs;
    body: Bytes;
  };
}

declare module "agentos:kernel/sql@0.1.0" {
  export type Value =
    | { tag: "null" }
    | { tag: "integer"; val: bigint }
    | { tag: "real"; val: number }
    | { tag: "text"; val: string }
    | { tag: "blob"; val: Bytes };
  export function query(database: string, statement: string, params: Value[]): { columns: string[]; rows: Value[][]; changes: bigint };
}

declare module "agentos:kernel/log@0.1.0" {
  export function write(level: "debug" | "info" | "warn" | "error", message: string, fields: Pairs): void;
}

declare module "agentos:kernel/clock@0.1.0" {
  export function now(): { seconds: bigint; nanoseconds: number };
  export function monotonicNow(): bigint;
  export function sleepUntil(when: bigint): bigint;
}

declare module "agentos:kernel/random@0.1.0" {
  export function bytes(len: number): Bytes;
}

declare module "agentos:kernel/process@0.1.0" {
  export function pendingSignal(): "sigterm" | undefined;
  export function checkpoint(label: string): bigint;
}

declare module "agentos:kernel/llm@0.1.0" {
  export type Role = "system" | "user" | "assistant" | "tool";
  export type FinishReason = "stop" | "length" | "tool-calls" | "content-filter" | "other";
  export interface ToolCall {
    id: string;
    name: string;
    arguments: string;
  }
  export interface Message {
    role: Role;
    content: string;
    toolCalls: ToolCall[];
    toolCallId?: string;
  }
  export interface Tool {
    name: string;
    description: string;
    parameters: string;
  }
  export interface ChatRequest {
    model: string;
    messages: Message[];
    tools: Tool[];
    maxTokens?: number;
    temperature?: number;
    stop: string[];
    json: boolean;
  }
  export interface ChatResponse {
    content: string;
    toolCalls: ToolCall[];
    finishReason: FinishReason;
    usage: { inputTokens: number; outputTokens: number };
    model: string;
  }
  export function chat(req: ChatRequest): ChatResponse;
}

declare module "agentos:kernel/tools@0.1.0" {
  export interface ToolInfo {
    name: string;
    description: string;
    inputSchema: string;
  }
  export function list(): ToolInfo[];
  export function call(name: string, args: string): string;
}

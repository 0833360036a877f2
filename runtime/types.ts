/**
 * The types every part of the kernel agrees on: a request at the gate, a policy decision,
 * the limits of a run, and the events of the episodic log.
 *
 * These follow the WIT contract in `wit/kernel.wit`; `test/wit.test.ts` checks that they agree.
 */
import type { JsonValue } from "./episodic/encoding.js";
import type { Rate } from "./policy/units.js";

/** Canonical action names, one per WIT import that the gate decides. */
export const ACTIONS = [
  "fs.read",
  "fs.write",
  "fs.list",
  "fs.remove",
  "fs.stat",
  "fs.mkdir",
  "http.fetch",
  "sql.query",
  "log.write",
  "clock.now",
  "random.bytes",
  "process.checkpoint",
  "llm.chat",
  "tool.list",
  "tool.call",
] as const;

export type Action = (typeof ACTIONS)[number];

/** What the SQL analyzer found out about one statement (from SQLite's own compiler). */
export interface SqlFacts {
  /** The statement as the agent sent it. */
  statement: string;
  /** Comments removed, whitespace collapsed, keywords upper-cased. */
  canonical: string;
  /** Operation names: select, insert, update, delete, create, drop, alter, pragma, attach, transaction, other. */
  operations: string[];
  /** Tables the statement reads. */
  reads: string[];
  /** Tables the statement writes (insert, update, delete, create, drop, alter). */
  writes: string[];
}

/**
 * A secret the http capability injects at egress: the header `header` set to `format` with
 * `{value}` replaced by the host environment variable `env` (read at call time), on every hop to
 * one of `origins` (`scheme://host[:port]`). The value never enters the guest or the log.
 */
export interface SecretSpec {
  /** Shown in place of the value: `[secret:NAME]`. */
  name: string;
  /** The environment variable holding the value (upper case, e.g. GITHUB_TOKEN). */
  env: string;
  /** Canonical origins, e.g. "https://api.github.com". */
  origins: string[];
  /** The header set, e.g. "Authorization"; a guest-supplied header of that name is dropped. */
  header: string;
  /** The header's value with `{value}` once, e.g. "Bearer {value}". Default: "{value}". */
  format: string;
}

/**
 * One host call as the policy sees it: plain data, copied once out of the guest and
 * canonicalized before anything reads it.
 */
export interface Request {
  action: Action;
  /**
   * The canonical resource: the normalized guest path for `fs.*`, the normalized URL for
   * `http.fetch`, the database name for `sql.query`, the level for `log.write`, the model
   * alias for `llm.chat`, the tool's full name (`TOOL` or `SERVER/TOOL`) for `tool.call`, and "" for
   * actions without one.
   */
  resource: string;
  /** The agent's name (from its module or registered function). */
  agent: string;
  pid: number;
  /** HTTP method, upper case (http.fetch only). */
  method?: string;
  /** SQL facts (sql.query only). Absent when the statement could not be analyzed. */
  sql?: SqlFacts;
  /**
   * The tool's arguments (tool.call only), plain JSON already validated against its schema:
   * rules' `args` constraints match JSON Pointers into it.
   */
  args?: JsonValue;
  /** The tool's current hash, `sha256:...` (tool.call only, set by the gate): rules' `pin` checks it. */
  toolHash?: string;
  /**
   * Hex sha256 of the agent's code, set by the gate. Rate limits count per agent name and per
   * code, so that registering the same code under another name gets no fresh window.
   */
  code?: string;
}

/** Effects, weakest first. The strongest matching effect wins. */
export const EFFECTS = ["allow", "audit", "verify", "ask", "deny", "stop", "kill"] as const;
export type Effect = (typeof EFFECTS)[number];

export interface Decision {
  effect: Effect;
  /** The id of the rule that decided, or null when the policy's default decided. */
  rule: string | null;
  reason: string;
  /** Ids of every rule that matched, in policy order. */
  matched: string[];
  /** For effect "verify": the deciding rule's overrides of the verification settings. */
  verify?: Partial<VerificationSettings>;
  /** For effect "ask": the deciding rule's `ask:` settings (timeout in milliseconds). */
  ask?: { timeout?: number };
  /** Set by the gate on a call a person answered (see runtime/approvals): which request, and how. */
  approval?: DecisionApproval;
}

/** How a held call was answered, as its call event records it. */
export interface DecisionApproval {
  /** The approval request's id. */
  id: string;
  outcome: "approved" | "denied" | "timeout" | "cancelled";
  scope?: "once" | "run" | "always";
  by?: string;
  /** Set when an earlier answer of scope run or always let the call through without asking. */
  reused?: true;
}

/** One model asked by cross-model verification. API keys come from the environment only. */
export interface ModelSpec {
  provider: "openai" | "anthropic";
  model: string;
  /** Base URL of the API, e.g. "http://127.0.0.1:11434/v1"; the provider's public API when absent. */
  baseUrl?: string;
  /** Name of the environment variable holding the API key. */
  apiKeyEnv?: string;
}

export interface VerificationSettings {
  models: ModelSpec[];
  /** Share of models (0..1) that must approve. */
  threshold: number;
  /** Milliseconds per model. */
  timeout: number;
  /** Answer identical questions within a run from a cache. */
  cache: boolean;
}

/** Per-run limits. Every field is always set: the kernel fills in its defaults. */
export interface Limits {
  /** Fuel units (see the README for what a unit means on each engine). */
  fuel: number;
  /** Bytes of guest heap. */
  memory: number;
  /** Milliseconds of running time (time stopped does not count). */
  wallTime: number;
  /** Host calls per run. */
  hostCalls: number;
  /** Bytes of output (the run's result string, UTF-8). */
  output: number;
  /** Bytes an agent may write through fs per run. */
  fsWriteBytes: number;
  /** Files an agent may create per run. */
  fsFilesCreated: number;
  /** The largest file an agent may read, in bytes. */
  fsReadBytes: number;
  /** The largest HTTP request or response body, in bytes. */
  httpBody: number;
  /** HTTP timeout per request, in milliseconds. */
  httpTimeout: number;
  /** Rows returned by one SQL query. */
  sqlRows: number;
  /** Milliseconds one SQL statement may run (analysis and execution) before it is interrupted. */
  sqlTimeout: number;
  /** Bytes the run's SQL statements may grow its databases by, in all. */
  sqlWriteBytes: number;
  /** Bytes the run may write to the episodic log (its events, encoded). */
  logBytes: number;
  /** Model tokens (input + output, as the providers count them) per run. */
  tokens: number;
  /** Output tokens one llm.chat may ask for (its `maxTokens`, and the default when it gives none). */
  maxTokensPerCall: number;
}

/** Limits as a policy file may give them (each optional). */
export type PolicyLimits = Partial<Limits>;

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  fuel: 1_000_000_000,
  memory: 64 * 1024 * 1024,
  wallTime: 30_000,
  hostCalls: 100_000,
  output: 1024 * 1024,
  fsWriteBytes: 64 * 1024 * 1024,
  fsFilesCreated: 1_000,
  fsReadBytes: 16 * 1024 * 1024,
  httpBody: 8 * 1024 * 1024,
  httpTimeout: 10_000,
  sqlRows: 10_000,
  sqlTimeout: 5_000,
  sqlWriteBytes: 64 * 1024 * 1024,
  logBytes: 64 * 1024 * 1024,
  tokens: 1_000_000,
  maxTokensPerCall: 4096,
});

export const SIGNALS = ["SIGKILL", "SIGSTOP", "SIGCONT", "SIGTERM", "SIGXCPU"] as const;
export type Signal = (typeof SIGNALS)[number];

/**
 * `queued`: waiting for a running slot (see KernelOptions.maxConcurrent); it has not started.
 * `waiting`: a call of its is held for a person's answer (policy effect `ask`).
 */
export type ProcessState = "queued" | "running" | "waiting" | "stopped" | "exited" | "killed" | "failed";

/** Why a run ended when it did not end normally. */
export type ExitReason = "fuel" | "deadline" | "memory" | "policy" | "signal" | "limit" | "trap";

/** Resource usage of one run. */
export interface Usage {
  fuel: number;
  hostCalls: number;
  wallMs: number;
  /** Model tokens used by the run's llm.chat calls, as the providers counted them. */
  tokens: TokenCount;
}

/** Input and output tokens of model calls. */
export interface TokenCount {
  input: number;
  output: number;
}

/**
 * A model the host names by an alias (`KernelOptions.models`, the policy's `models:` block,
 * `agent-os run --model`): agents call `llm.chat({ model: alias })` and never see the URL or key.
 * `timeout`: milliseconds one call may take (default 60 s).
 */
export interface ModelAlias extends ModelSpec {
  timeout?: number;
}

/**
 * A refused host call, as the run result reports it: `seq` is its call event in the log.
 * `kind` says what refused it: the policy (a rule, or its default when `rule` is null), the
 * gate before the policy (`invalid` arguments; `resource` is then ""), SIGTERM (answered
 * `interrupted`), or a capability after the policy allowed the call (a read-only mount, the
 * address guard, ...; `rule` is null).
 */
export interface Denial {
  seq: number;
  action: Action;
  resource: string;
  rule: string | null;
  reason: string;
  kind: "policy" | "invalid" | "interrupted" | "capability";
}

/** What `execute` resolves to and `proc.wait()` returns. */
export interface RunResult {
  runId: string;
  pid: number;
  agent: string;
  status: "ok" | "error" | "killed";
  output?: string;
  error?: string;
  signal?: Signal;
  reason?: ExitReason;
  usage: Usage;
  denials: Denial[];
}

/** The kinds of event in the episodic log. */
export type EventType = "spawn" | "call" | "result" | "signal" | "vote" | "approval-request" | "approval" | "checkpoint" | "exit";

/** An event before the log has given it a place in the chain. */
export interface NewEvent {
  type: EventType;
  runId: string;
  pid: number;
  agent: string;
  /** Plain, JSON-compatible data (bigints and bytes are encoded by the writer, see encodeValue). */
  data: Record<string, unknown>;
}

/** An event as stored: sequence number, timestamp and its place in the hash chain. */
export interface LoggedEvent extends NewEvent {
  seq: number;
  /** Milliseconds since the epoch, from the kernel's clock. */
  time: number;
  /** Hex sha256 of the previous event ("0" * 64 for the first). */
  prev: string;
  /** Hex sha256 over prev and this event's canonical encoding. */
  hash: string;
}

/** Filters for reading the log. */
export interface EventQuery {
  runId?: string;
  agent?: string;
  /** A glob over action names (call and result events). */
  action?: string;
  /** Only call events with this effect. */
  effect?: Effect;
  type?: EventType;
  /** Inclusive bounds, milliseconds since the epoch. */
  since?: number;
  until?: number;
  /** Inclusive bounds on sequence numbers. */
  fromSeq?: number;
  toSeq?: number;
  order?: "oldest" | "newest";
  limit?: number;
}

export type VerifyReport =
  | { ok: true; count: number; head: string }
  | { ok: false; count: number; firstBad: number; problem: string };

/**
 * The episodic log as the kernel uses it. `append` resolves once the event is durable
 * (for a persistent log); the log has no update and no delete.
 */
export interface EventLog {
  append(event: NewEvent): Promise<LoggedEvent>;
  query(filter?: EventQuery): AsyncIterable<LoggedEvent>;
  verify(): Promise<VerifyReport>;
  close(): Promise<void>;
}

/**
 * A loaded, compiled policy. `decide` is pure with respect to the request (apart from the
 * rate-limit counters it keeps per agent) and never throws: any internal failure denies.
 */
export interface Policy {
  /** The policy's `name`, or the file it came from. */
  readonly name: string;
  /** Hex sha256 of the policy's canonical form (after `extends` is merged). */
  readonly hash: string;
  /** The effect when no rule matches. */
  readonly defaultEffect: Effect;
  /** Limits the policy sets; the kernel fills in the rest from DEFAULT_LIMITS. */
  readonly limits: PolicyLimits;
  /** The policy's `verification:` block, when it has one. */
  readonly verification?: Partial<VerificationSettings>;
  /** The policy's `secrets:` block, when it has one (merged across `extends` by name). */
  readonly secrets?: readonly SecretSpec[];
  /** The policy's `models:` block (alias -> model), when it has one. */
  readonly models?: Readonly<Record<string, ModelAlias>>;
  /**
   * Whether some rule could let a call of `action` on `resource` through (an allow, audit or
   * verify rule whose resource glob matches it, other conditions aside), or the default would.
   * Optional: tools.list shows only such tools, and asks decide() without it.
   */
  couldAllow?(action: Action, resource: string): boolean;
  /**
   * Decides a request. With `{ count: false }` the decision is made as usual but not counted
   * against rate limits (the gate uses it for the further resources of one call: the path a
   * written path leads to, every entry of a recursive operation).
   */
  decide(request: Request, options?: DecideOptions): Decision;
  /** The rate of the rule with this id, or null (optional: shared rate limits use it). */
  rateOf?(ruleId: string): Readonly<Rate> | null;
}

/** Options of `Policy.decide`. */
export interface DecideOptions {
  /** Count the call against rate limits when it is allowed. Default: true. */
  count?: boolean;
}

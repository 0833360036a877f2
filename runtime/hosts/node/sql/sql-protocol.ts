/**
 * The messages between the kernel and a run's SQL process (sql-child.ts), and the checks the
 * kernel makes on every answer: a process that answers anything else is killed and the call
 * fails (`io`), never decided on.
 */
import type { WitError } from "../../../errors.js";
import type { Limits, SqlFacts } from "../../../types.js";
import { SQL_OPERATIONS } from "../../../capabilities/sql-bytecode.js";
import type { DatabaseSpec } from "./sql.js";
import type { QueryResult, SqlValue } from "../../../capabilities/types.js";

/** What the run's SQL process is set up with, once, before its first statement. */
export interface OpenMessage {
  type: "open";
  databases: Record<string, DatabaseSpec>;
  limits: Pick<Limits, "sqlRows" | "sqlWriteBytes">;
  maxResultBytes?: number;
  allow?: { attach?: boolean };
}

/**
 * One statement to analyze or run; `busyMs` is how long it may wait for another connection's
 * lock. A query carries the facts the gate decided on when they came from the kernel's own
 * memory of an earlier analysis: the process runs it only if they are still its facts.
 */
export type RequestMessage =
  | { type: "analyze"; id: number; database: string; statement: string; busyMs: number }
  | { type: "query"; id: number; database: string; statement: string; params: SqlValue[]; busyMs: number; decided?: SqlFacts };

export type ToChild = OpenMessage | RequestMessage | { type: "close" };

export type FromChild = { type: "ready" } | { type: "reply"; id: number; ok: unknown } | { type: "reply"; id: number; err: WitError };

/** The text the memory watchdog writes to the kernel before it kills its process. */
export const MEMORY_MARK = "memory";

const TAGS = new Set(["denied", "not-found", "invalid", "io", "limit", "interrupted"]);

/** A reply, or undefined for anything that is not one. */
export function readReply(message: unknown): { id: number; ok: unknown } | { id: number; err: WitError } | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const m = message as { type?: unknown; id?: unknown; ok?: unknown; err?: unknown };
  if (m.type !== "reply" || typeof m.id !== "number") return undefined;
  if ("err" in m) {
    const err = m.err as { tag?: unknown; val?: unknown } | null;
    if (typeof err !== "object" || err === null || typeof err.tag !== "string" || !TAGS.has(err.tag)) return undefined;
    const val = err.val as { reason?: unknown } | string;
    const valid = err.tag === "denied" ? typeof val === "object" && val !== null && typeof val.reason === "string" : typeof val === "string";
    return valid ? { id: m.id, err: err as WitError } : undefined;
  }
  return "ok" in m ? { id: m.id, ok: m.ok } : undefined;
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string");
const OPERATIONS: ReadonlySet<string> = new Set(SQL_OPERATIONS);

/** The facts of `statement` as the process answered them, frozen; undefined when they are not facts of it. */
export function readFacts(value: unknown, statement: string): SqlFacts | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const f = value as Record<string, unknown>;
  if (f.statement !== statement || typeof f.canonical !== "string") return undefined;
  if (!isStrings(f.operations) || f.operations.length === 0 || !f.operations.every((op) => OPERATIONS.has(op))) return undefined;
  if (!isStrings(f.reads) || !isStrings(f.writes)) return undefined;
  const facts: SqlFacts = {
    statement,
    canonical: f.canonical,
    operations: Object.freeze([...f.operations]) as string[],
    reads: Object.freeze([...f.reads]) as string[],
    writes: Object.freeze([...f.writes]) as string[],
  };
  return Object.freeze(facts);
}

/** A query result as the process answered it; undefined when it is not one. */
export function readResult(value: unknown): QueryResult | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const r = value as Record<string, unknown>;
  if (!isStrings(r.columns) || typeof r.changes !== "bigint" || !Array.isArray(r.rows)) return undefined;
  for (const row of r.rows) if (!Array.isArray(row) || !row.every(isValue)) return undefined;
  return { columns: r.columns, rows: r.rows as SqlValue[][], changes: r.changes };
}

function isValue(v: unknown): boolean {
  if (typeof v !== "object" || v === null) return false;
  const { tag, val } = v as { tag?: unknown; val?: unknown };
  switch (tag) {
    case "null":
      return true;
    case "integer":
      return typeof val === "bigint";
    case "real":
      return typeof val === "number";
    case "text":
      return typeof val === "string";
    case "blob":
      return val instanceof Uint8Array;
    default:
      return false;
  }
}

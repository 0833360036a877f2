/**
 * A real agent for the SQL tests: a function registered with the kernel that runs the
 * statements of its task in order, through the guest SDK (QuickJS isolate, channel, gate,
 * capability), and reports what each answered.
 */
import { expect } from "vitest";
import type { KernelSpace, RunResult } from "../../dist/runtime/index.js";
import type * as Guest from "../../dist/guest-sdk/index.js";

/** One statement for the agent: SQL text, or with a database and parameters. */
export type Statement = string | { sql: string; database?: string; params?: (string | number | null)[] };

/** What the agent was told about one statement: `ok` with the rows as JSON, or the error. */
export interface Told {
  tag: string;
  value?: string;
  rule?: string | null;
  reason?: string;
}

/** Runs each statement of its task, in order, `repeat` times; reports what each answered. */
export async function sqlAgent(task: string, { sql }: typeof Guest): Promise<string> {
  const { statements, repeat } = JSON.parse(task) as { statements: Statement[]; repeat?: number };
  const told: Told[] = [];
  for (let round = 0; round < (repeat ?? 1); round++) {
    for (const s of statements) {
      const call = typeof s === "string" ? { sql: s } : s;
      try {
        const result = await sql.query(call.database ?? "main", call.sql, call.params ?? []);
        const value = JSON.stringify(result.rows, (_k, v) => (typeof v === "bigint" ? String(v) : v instanceof Uint8Array ? `<${v.length} bytes>` : v));
        told.push({ tag: "ok", value });
      } catch (error) {
        const e = error as { name?: string; rule?: string | null; reason?: string; kind?: string; detail?: string; message?: string };
        if (e.name === "PermissionDenied") told.push({ tag: "denied", rule: e.rule ?? null, reason: e.reason });
        else if (e.name === "KernelError") told.push({ tag: e.kind ?? "?", reason: e.detail });
        else told.push({ tag: "thrown", reason: String(e.message ?? error) });
      }
    }
  }
  return JSON.stringify(told);
}

/** Runs the statements through a real agent; the run must end normally. */
export async function runStatements(kernel: KernelSpace, statements: Statement[], repeat = 1): Promise<{ told: Told[]; result: RunResult }> {
  const agent = kernel.register(sqlAgent);
  const result = await kernel.execute(agent, JSON.stringify({ statements, repeat }));
  expect(result.status, result.error).toBe("ok");
  const told = JSON.parse(result.output ?? "[]") as Told[];
  expect(told).toHaveLength(statements.length * repeat);
  return { told, result };
}

/** The basics every test policy allows (logging, the clock, randomness, checkpoints). */
export const BASICS = { id: "basics", action: ["log.write", "clock.now", "random.bytes", "process.*"], effect: "allow" };

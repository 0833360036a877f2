/**
 * The attacker agent of the capability tests: a function registered with the kernel that makes
 * the host calls its task lists, in order, and reports what each answered. It runs inside the
 * isolate from its source text alone, so it imports nothing and closes over nothing.
 */
import { expect } from "vitest";
import type * as Guest from "../../dist/guest-sdk/index.js";
import type { KernelSpace, RunResult } from "../../dist/runtime/index.js";

/** One host call the agent makes, as data (a registered function sees nothing but its task). */
export type Call =
  | { fs: "read" | "readText" | "stat" | "list" | "remove" | "mkdir"; path: string }
  | { fs: "write" | "append"; path: string; text: string }
  | { http: string; method?: string; headers?: Record<string, string>; body?: string }
  | { sql: string; database?: string; params?: (string | number | null)[] };

/** What the agent was told: `ok` with a value, or the error's tag with its rule and reason. */
export interface Told {
  tag: string;
  value?: string;
  rule?: string | null;
  reason?: string;
}

/**
 * The attacker: makes every call of its task in order (the whole list `repeat` times) and reports
 * what each answered. It runs inside the isolate, from its source text alone.
 */
export async function attacker(task: string, { fs, http, sql }: typeof Guest): Promise<string> {
  const { calls, repeat } = JSON.parse(task) as { calls: Call[]; repeat?: number };
  const decoder = new TextDecoder();
  async function one(call: Call): Promise<unknown> {
    if ("fs" in call) {
      switch (call.fs) {
        case "read":
          return decoder.decode(await fs.read(call.path));
        case "readText":
          return fs.readText(call.path);
        case "stat":
          return (await fs.stat(call.path)).kind;
        case "list":
          return (await fs.list(call.path)).map((e) => e.name).join(",");
        case "write":
          return fs.write(call.path, call.text);
        case "append":
          return fs.write(call.path, call.text, { append: true });
        case "remove":
          return fs.remove(call.path, { recursive: true });
        case "mkdir":
          return fs.mkdir(call.path, { recursive: true });
      }
    }
    if ("http" in call) {
      const res = await http.fetch(call.http, { method: call.method, headers: call.headers, body: call.body });
      return `${res.status} ${res.text().slice(0, 200)}`;
    }
    const result = await sql.query(call.database ?? "main", call.sql, call.params ?? []);
    return JSON.stringify(result.rows, (_k, v) => (typeof v === "bigint" ? String(v) : v));
  }
  const told: Told[] = [];
  for (let round = 0; round < (repeat ?? 1); round++) {
    for (const call of calls) {
      try {
        const value = await one(call);
        told.push({ tag: "ok", value: value === undefined ? "" : String(value) });
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


/**
 * Runs the attacker on `calls` (the whole list `repeat` times) through a real kernel: the run
 * must end normally and every call must have been answered (none threw something unexpected).
 */
export async function attack(kernel: KernelSpace, calls: Call[], repeat = 1): Promise<{ told: Told[]; result: RunResult }> {
  const result = await kernel.execute(kernel.register(attacker), JSON.stringify({ calls, repeat }));
  expect(result.status, result.error).toBe("ok");
  const told = JSON.parse(result.output ?? "[]") as Told[];
  expect(told).toHaveLength(calls.length * repeat);
  expect(told.filter((t) => t.tag === "thrown")).toEqual([]);
  return { told, result };
}

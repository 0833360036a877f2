/** Shared by the MCP tests: the test server's paths, a tool context, and the server's record file. */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const STDIO_SERVER = new URL("./stdio-server.mjs", import.meta.url).pathname;

/** A tool context with its own abort controller. */
export function context(signal: AbortSignal = new AbortController().signal) {
  return { runId: "run-1", agent: "tester", signal };
}

/** The JSON lines the test server appended to its record file (none when it has not written it). */
export function recorded(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Whether a process is still alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until `check` holds (polling), or fails after `ms`. */
export async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out waiting for a condition");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function recordFile(dir: string, name = "record.jsonl"): string {
  return join(dir, name);
}

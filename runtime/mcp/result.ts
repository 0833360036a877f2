/**
 * A run's result as an MCP tool result. The output of a run that returned is the text content;
 * a run that failed, was killed or hit a limit is a tool error (`isError: true`) whose text names
 * how it ended and every refused call with its rule (or the policy's default) and reason. Either
 * way `structuredContent` carries the run's id, status and denials, for clients that read it.
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Denial, RunResult } from "../types.js";

/**
 * The tool result for a finished run.
 *
 * @example toolResult({ status: "killed", signal: "SIGKILL", reason: "deadline", ... }).isError === true
 */
export function toolResult(result: RunResult): CallToolResult {
  const structuredContent = {
    runId: result.runId,
    pid: result.pid,
    agent: result.agent,
    status: result.status,
    ...(result.reason ? { reason: result.reason } : {}),
    ...(result.signal ? { signal: result.signal } : {}),
    denials: result.denials.map((d) => ({ ...d })),
  };
  if (result.status === "ok") return { content: [{ type: "text", text: result.output ?? "" }], structuredContent };
  const lines = [`${result.agent} (run ${result.runId}, pid ${result.pid}) ${describeEnd(result)}`, ...result.denials.map(describeDenial)];
  return { isError: true, content: [{ type: "text", text: lines.join("\n") }], structuredContent };
}

/** A tool error that is not a run's (invalid arguments, a kernel that is closing). */
export function toolError(text: string): CallToolResult {
  return { isError: true, content: [{ type: "text", text }] };
}

/** "killed by SIGKILL (deadline): wall-time limit of 500 ms reached" or "failed (limit): ..." */
function describeEnd(result: RunResult): string {
  if (result.status === "killed") return `was killed by ${result.signal ?? "SIGKILL"} (${result.reason ?? "signal"})${result.error ? `: ${result.error}` : ""}`;
  return `failed${result.reason ? ` (${result.reason})` : ""}: ${result.error ?? "unknown error"}`;
}

/** "denied fs.write /etc/passwd by rule standard-system-paths: the host's system paths are off limits" */
function describeDenial(denial: Denial): string {
  const by = denial.rule !== null ? `by rule ${denial.rule}` : denial.kind === "policy" ? "by the policy's default" : `(${denial.kind})`;
  return `denied ${denial.action}${denial.resource ? ` ${denial.resource}` : ""} ${by}: ${denial.reason}`;
}

/**
 * How the command ends on an error: the exit code by the error's type, never by its wording, and
 * one clear message (escaped: an error may quote agent text). Exit 2 for usage and configuration
 * errors, 1 for everything else that went wrong; no other code, and no stack trace unless
 * AGENT_OS_DEBUG is set.
 */
import { AgentLoadError, AgentOsError, PolicyError, ReplayError, UsageError } from "../errors.js";
import { escapeLines, escapeText } from "./escape.js";
import { EXIT, type CliIo } from "./io.js";

/** Error types that mean the operator's input or configuration is wrong: exit 2. */
const USAGE_TYPES = [UsageError, PolicyError, AgentLoadError, ReplayError] as const;

/**
 * The exit code for an error: 2 for a UsageError, PolicyError, AgentLoadError or ReplayError
 * (bad flags, a policy that does not load, an agent file that is not an agent, a run that cannot
 * be replayed), 1 for anything else.
 *
 * @example exitCodeFor(new UsageError("run: --fuel x")) === 2
 */
export function exitCodeFor(error: unknown): number {
  return USAGE_TYPES.some((type) => error instanceof type) ? EXIT.usage : EXIT.failure;
}

/**
 * Prints one message for an error and returns its exit code (see {@link exitCodeFor}). An error
 * that is neither the kernel's nor the system's (ENOENT, EACCES, ...) is a bug: it says so.
 *
 * @example return reportFailure(error, io, "agent-os policy suggest");
 */
export function reportFailure(error: unknown, io: CliIo, prefix = "agent-os"): number {
  const code = exitCodeFor(error);
  if (error instanceof PolicyError) io.stderr(`${prefix}: the policy does not load:\n${escapeLines(error.message)}\n`);
  else if (error instanceof AgentOsError || isSystemError(error)) io.stderr(`${prefix}: ${escapeLines((error as Error).message)}\n`);
  else {
    const text = error instanceof Error ? (process.env.AGENT_OS_DEBUG ? (error.stack ?? error.message) : error.message) : String(error);
    const shown = process.env.AGENT_OS_DEBUG ? escapeLines(text) : escapeText(text);
    io.stderr(`${prefix}: internal error: ${shown}\n${process.env.AGENT_OS_DEBUG ? "" : "(set AGENT_OS_DEBUG=1 for the stack trace)\n"}`);
  }
  return code;
}

/** A failure of the operating system (a file that cannot be written, ...), as Node reports it. */
function isSystemError(error: unknown): boolean {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === "string" && typeof (error as NodeJS.ErrnoException).syscall === "string";
}

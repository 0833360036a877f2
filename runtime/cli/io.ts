/** Where a subcommand writes. The command uses process.stdout/stderr; tests capture. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether stdout is a terminal (progress and colour only then). */
  isTTY: boolean;
  /**
   * Aborted once the reader of stdout has gone (`agent-os log | head -1`): a command that
   * streams stops then. Absent: the output never goes away.
   */
  outputClosed?: AbortSignal;
}

/** Exit codes of the agent-os command. */
export const EXIT = {
  ok: 0,
  /** The agent failed, a check failed, the log did not verify, or the command could not do its work. */
  failure: 1,
  /** A usage or configuration error: bad flags, a policy that does not load, a missing file. */
  usage: 2,
  /** `agent-os run` interrupted by Ctrl-C (128 + SIGINT): the agent was killed, the log closed. */
  interrupted: 130,
  /** The agent was killed (128 + SIGKILL). */
  killed: 137,
  /** `agent-os run` ended by SIGTERM (128 + SIGTERM): the agent was killed, the log closed. */
  terminated: 143,
} as const;

/** A subcommand: takes the arguments after its name, returns the exit code. */
export type Subcommand = (argv: string[], io: CliIo) => Promise<number>;

/**
 * The process's own stdout and stderr. A reader that goes away (EPIPE) is not an error: further
 * output is dropped, `outputClosed` is aborted, and the command ends with its own exit code, with
 * no stack trace. Create it once per process.
 *
 * @example const code = await main(process.argv.slice(2), processIo());
 */
export function processIo(): CliIo {
  const closed = new AbortController();
  let stdoutGone = false;
  let stderrGone = false;
  const onError = (stream: "stdout" | "stderr") => (error: NodeJS.ErrnoException) => {
    // Any write error means the output is lost; an EPIPE is the ordinary case of a closed pipe.
    if (stream === "stdout") stdoutGone = true;
    else stderrGone = true;
    if (stream === "stdout" && !closed.signal.aborted) closed.abort(error);
  };
  process.stdout.on("error", onError("stdout"));
  process.stderr.on("error", onError("stderr"));
  return {
    stdout: (text) => void (stdoutGone || process.stdout.write(text)),
    stderr: (text) => void (stderrGone || process.stderr.write(text)),
    isTTY: Boolean(process.stdout.isTTY),
    outputClosed: closed.signal,
  };
}

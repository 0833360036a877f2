/** Where a subcommand writes. The command uses process.stdout/stderr; tests capture. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether stdout is a terminal (progress and colour only then). */
  isTTY: boolean;
}

/** Exit codes of the agent-os command. */
export const EXIT = {
  ok: 0,
  /** The agent failed, a check failed, the log did not verify. */
  failure: 1,
  /** A usage or configuration error: bad flags, a policy that does not load, a missing file. */
  usage: 2,
  /** The agent was killed (128 + SIGKILL). */
  killed: 137,
} as const;

/** A subcommand: takes the arguments after its name, returns the exit code. */
export type Subcommand = (argv: string[], io: CliIo) => Promise<number>;

export const processIo: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  isTTY: Boolean(process.stdout.isTTY),
};

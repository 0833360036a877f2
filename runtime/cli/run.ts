/**
 * `agent-os run <agent.js> --policy <name|file> --task <text> [...]`: runs one agent and prints
 * its output, or its RunResult as JSON. Exit codes: 0 ok, 1 agent error, 2 usage or
 * configuration error, 137 killed, 130 / 143 ended by Ctrl-C / SIGTERM.
 */
import { existsSync } from "node:fs";
import { KernelSpace } from "../kernel/kernel.js";
import { UsageError } from "../errors.js";
import type { RunResult } from "../types.js";
import { formatFlags, parseArgs, type FlagSpec } from "./args.js";
import { escapeLines, escapeText, safeJson } from "./escape.js";
import { EXIT, type CliIo, type Subcommand } from "./io.js";
import { KERNEL_FLAGS, kernelOptionsFrom, openedLog } from "./kernel-flags.js";
import { announceApprovals } from "./approve.js";
import { DEFAULT_STOP_TIMEOUT_MS, stopTimeoutFrom } from "./run-options.js";
import { onProcessSignals, superviseRun, type ProcessSignal, type SupervisedEnd } from "./run-supervise.js";

const { policy: POLICY_FLAG, ...OTHER_KERNEL_FLAGS } = KERNEL_FLAGS;
const FLAGS: Record<string, FlagSpec> = {
  policy: POLICY_FLAG,
  task: { type: "string", value: "TEXT", help: "the task given to the agent's run(task) (default: empty)" },
  ...OTHER_KERNEL_FLAGS,
  "stop-timeout": {
    type: "string",
    value: "DURATION",
    help: `end the run when the agent has been stopped (a policy's stop) this long; 0 at once (default ${DEFAULT_STOP_TIMEOUT_MS / 1000}s)`,
  },
  engine: { type: "string", value: "quickjs|component", help: "the engine for a source file (default quickjs; a .wasm file is a component)" },
  json: { type: "boolean", help: "print the RunResult as JSON" },
  help: { type: "boolean", short: "h", help: "show this help" },
};

export { parseVerifierFlag } from "./kernel-flags.js";

export const RUN_HELP = `Usage: agent-os run <agent.js|agent.ts|agent.wasm> [options]

Runs an agent module (an ES module exporting run(task)) in a QuickJS isolate, or a WebAssembly
component built by "agent-os build", under a policy. With --engine component a source file is
built into a component first (cached by content). Every host call the agent makes is decided by
the policy and recorded in the episodic log.

A source file (.js, .mjs, .ts, .mts) is bundled with its own files and its packages from
node_modules, as "agent-os build" does (cached by content in .agent-os/cache); Node built-ins,
URLs and files outside its directory are refused, naming the file and line (exit 2).

Options:
${formatFlags(FLAGS)}

Verification: a rule with effect verify asks every --verifier model (they replace the
policy's verification models) and allows the call only when the share that approves reaches
--threshold. A model that fails, times out or answers anything but the verdict JSON rejects.
  --verifier openai:gpt-4o                             key from OPENAI_API_KEY
  --verifier anthropic:claude-sonnet-4                 key from ANTHROPIC_API_KEY
  --verifier openai:llama3@http://127.0.0.1:11434/v1   any OpenAI-compatible server, no key
Other key variables are named with apiKeyEnv in the policy's verification: block.

Secrets: the agent never holds a secret. On every request (and every redirect hop) to one of
a secret's origins, the kernel sets its header from the host's environment variable, read at
call time, dropping any header of that name the agent set; other origins never see it, and an
echo of the value comes back to the agent (and into the log) as [secret:NAME]. A variable that
is not set fails the call (io) before anything is sent. The policy's secrets: block works the
same; a --secret of the same NAME replaces the policy's.
  --secret github=GITHUB_TOKEN@https://api.github.com       Authorization: Bearer <value>
  --secret maps=MAPS_KEY@https://maps.example.com:X-Api-Key  X-Api-Key: <value>
  --secret 'ci=CI_TOKEN@https://a.example,https://b.example:Authorization:token {value}'

Models: an agent calls llm.chat({ model: ALIAS, ... }); the kernel sends it to the model the
host named, with the key from the host's environment (never seen by the agent). The policy
decides action llm.chat with the alias as resource; --tokens bounds the run's tokens.
  --model fast=openai:gpt-4o-mini                       key from OPENAI_API_KEY
  --model deep=anthropic:claude-sonnet-4                key from ANTHROPIC_API_KEY
  --model local=openai:llama3@http://127.0.0.1:11434/v1 an OpenAI-compatible server, no key
A model server the host names (even on loopback) needs no --allow-private.

Stopping: a rule with effect stop pauses the agent (SIGSTOP) until someone continues it, and
nothing on the command line can. The run then ends after --stop-timeout (killed, reason policy,
exit 137), or at once with Ctrl-C.

Output: the agent's output is printed as it is, one line per line, but with every other
control character, escape sequence and bidi control escaped (\\x1b, \\r, \\u202e); errors are
printed on one line. --json prints the RunResult exactly.

Exit codes: 0 the agent returned, 1 the agent failed, 2 usage or configuration error,
137 the agent was killed (signal, fuel, deadline, policy, stop timeout), 130 Ctrl-C (SIGINT)
and 143 SIGTERM: the agent was killed, its end recorded and the log closed.

Example:
  agent-os run examples/summarize/agent.js --policy standard --mount /workspace=./ws --task /workspace/notes.txt
`;

export const runCommand: Subcommand = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, FLAGS, "run");
  if (flags.help) {
    io.stdout(RUN_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError("run: expected exactly one agent file (see agent-os run --help)");
  const [file] = positionals;
  if (!existsSync(file)) throw new UsageError(`run: ${file}: no such file`);
  const engine = flags.engine as string | undefined;
  if (engine !== undefined && engine !== "quickjs" && engine !== "component") {
    throw new UsageError(`run: --engine ${engine}: expected quickjs or component`);
  }
  const stopTimeoutMs = stopTimeoutFrom(flags["stop-timeout"]);
  const kernel = new KernelSpace(kernelOptionsFrom(flags, "run"));
  announceApprovals(kernel, io, (flags.log as string | undefined) ?? ".agent-os/log");
  let interrupted: ProcessSignal | undefined;
  let interrupt: ((signal: ProcessSignal) => void) | undefined;
  const release = onProcessSignals((signal) => {
    if (interrupted !== undefined) process.exit(signal === "SIGINT" ? EXIT.interrupted : EXIT.terminated); // asked twice: go now
    interrupted = signal;
    io.stderr(`agent-os: ${signal}: ending the run and closing the log\n`);
    interrupt?.(signal);
  });
  let end: SupervisedEnd | undefined;
  try {
    await openedLog(kernel, flags);
    const agent = await kernel.load(file, engine ? { engine } : {});
    if (interrupted === undefined) {
      const run = superviseRun(kernel, agent, (flags.task as string | undefined) ?? "", { stopTimeoutMs, io });
      interrupt = run.interrupt;
      end = await run.done;
    }
  } finally {
    await kernel.close();
    release();
  }
  return report(end, interrupted, Boolean(flags.json), io);
};

/** Prints how the run ended and returns the exit code. */
function report(end: SupervisedEnd | undefined, interrupted: ProcessSignal | undefined, json: boolean, io: CliIo): number {
  const code = interrupted === "SIGINT" ? EXIT.interrupted : interrupted === "SIGTERM" ? EXIT.terminated : undefined;
  if (end === undefined) {
    io.stderr(`agent-os: interrupted (${interrupted}) before the agent started\n`);
    return code ?? EXIT.failure;
  }
  const { result } = end;
  if (json) io.stdout(safeJson(result, 2) + "\n");
  if (code !== undefined) {
    io.stderr(escapeText(`agent-os: interrupted (${interrupted}): ${result.agent} (pid ${result.pid}) ${result.status === "killed" ? "was killed" : `had already ended (${result.status})`}; its end is in the log, which is closed`) + "\n");
    return code;
  }
  if (!json && result.status === "ok") io.stdout(escapeLines(result.output ?? "") + (result.output?.endsWith("\n") ? "" : "\n"));
  else if (!json || result.status !== "ok") io.stderr(escapeText(`agent-os: ${result.agent} (pid ${result.pid}) ${describeEnd(result)}`) + "\n");
  return result.status === "ok" ? EXIT.ok : result.status === "killed" ? EXIT.killed : EXIT.failure;
}

/** "killed by SIGXCPU (fuel): ..." or "failed: TypeError: ..." */
export function describeEnd(result: RunResult): string {
  if (result.status === "killed") {
    return `killed by ${result.signal ?? "SIGKILL"} (${result.reason ?? "signal"})${result.error ? `: ${result.error}` : ""}`;
  }
  return `failed${result.reason ? ` (${result.reason})` : ""}: ${result.error ?? "unknown error"}`;
}

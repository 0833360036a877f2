/**
 * `agent-os run` watching its one agent: Ctrl-C (SIGINT) and SIGTERM end the run cleanly (the
 * agent killed, its end recorded), and a run stopped longer than the stop timeout is ended. A
 * policy's `stop` effect pauses an agent until someone continues it, and nobody can from the
 * command line: without the timeout the command would wait forever, since stopped time does
 * not count against the agent's deadline.
 */
import type { Agent, KernelSpace } from "../kernel/kernel.js";
import type { AgentProcess } from "../kernel/process.js";
import type { RunResult } from "../types.js";
import { escapeText } from "./escape.js";
import type { CliIo } from "./io.js";

/** Options of {@link superviseRun}. Defaults: `pollMs` 50. */
export interface SuperviseOptions {
  /** How long the agent may stay stopped before it is killed. */
  stopTimeoutMs: number;
  io: CliIo;
  /** How often the agent's state is looked at. */
  pollMs?: number;
}

export type ProcessSignal = "SIGINT" | "SIGTERM";

/** How a supervised run ended: its result, and what ended it from outside, if anything. */
export interface SupervisedEnd {
  result: RunResult;
  /** The signal the command received (Ctrl-C is SIGINT). */
  interrupted?: ProcessSignal;
  /** The run was stopped for longer than the stop timeout and killed for it. */
  stopTimedOut?: boolean;
}

/**
 * Listens for SIGINT and SIGTERM for the lifetime of the command: `onSignal` is called with
 * each. Call the returned function to stop listening (the default handling comes back).
 *
 * @example const release = onProcessSignals((s) => proc?.signal("SIGKILL", `agent-os run (${s})`));
 */
export function onProcessSignals(onSignal: (signal: ProcessSignal) => void): () => void {
  const int = () => onSignal("SIGINT");
  const term = () => onSignal("SIGTERM");
  process.on("SIGINT", int);
  process.on("SIGTERM", term);
  return () => {
    process.off("SIGINT", int);
    process.off("SIGTERM", term);
  };
}

/**
 * Spawns the agent and waits for its end, killing it when the command is interrupted (see
 * {@link onProcessSignals}: the caller routes signals to `interrupt`) or when it has stayed
 * stopped for `stopTimeoutMs`. Says on stderr when the agent is stopped and when it will end.
 *
 * @example const { interrupt, done } = superviseRun(kernel, agent, task, { stopTimeoutMs: 30_000, io });
 */
export function superviseRun(
  kernel: KernelSpace,
  agent: Agent,
  task: string,
  options: SuperviseOptions,
): { interrupt(signal: ProcessSignal): void; done: Promise<SupervisedEnd> } {
  const proc = kernel.spawn(agent, task);
  let interrupted: ProcessSignal | undefined;
  let stopTimedOut = false;
  let stoppedSince: number | undefined;
  const watch = setInterval(() => {
    if (proc.state !== "stopped") {
      stoppedSince = undefined;
      return;
    }
    if (stoppedSince === undefined) {
      stoppedSince = performance.now();
      void announceStop(kernel, proc, options);
    }
    if (performance.now() - stoppedSince >= options.stopTimeoutMs) {
      stopTimedOut = true;
      proc.killFor("policy", `agent-os run (stop timeout of ${seconds(options.stopTimeoutMs)})`, `stopped and not continued within the stop timeout of ${seconds(options.stopTimeoutMs)} (--stop-timeout)`);
    }
  }, options.pollMs ?? 50);
  const done = proc.wait().then((result) => {
    clearInterval(watch);
    return { result, ...(interrupted ? { interrupted } : {}), ...(stopTimedOut && !interrupted ? { stopTimedOut } : {}) };
  });
  return {
    interrupt(signal) {
      interrupted ??= signal;
      proc.signal("SIGKILL", `agent-os run (${signal})`);
    },
    done,
  };
}

/** Tells the operator the agent is stopped, by whom (from the log), and what happens next. */
async function announceStop(kernel: KernelSpace, proc: AgentProcess, options: SuperviseOptions): Promise<void> {
  const by = await stoppedBy(kernel, proc.runId);
  options.io.stderr(
    escapeText(
      `agent-os: ${proc.agent} (pid ${proc.pid}) was stopped (SIGSTOP${by ? ` by ${by}` : ""}); nothing here can continue it, so it ends in ` +
        `${seconds(options.stopTimeoutMs)} (--stop-timeout), or now with Ctrl-C`,
    ) + "\n",
  );
}

/** Who sent the run's last SIGSTOP, as the log records it (the signal is appended just after the state changes). */
async function stoppedBy(kernel: KernelSpace, runId: string): Promise<string | undefined> {
  try {
    const log = await kernel.log;
    for (let attempt = 0; attempt < 20; attempt++) {
      for await (const e of log.query({ runId, type: "signal", order: "newest", limit: 8 })) {
        if (e.data.signal === "SIGSTOP" && typeof e.data.by === "string") return e.data.by;
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  } catch {
    // who stopped it is a courtesy; the timeout holds without it
  }
  return undefined;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

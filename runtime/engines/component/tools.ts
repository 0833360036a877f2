/**
 * Runs the component toolchain off the kernel's thread: jco and binaryen (preparing a
 * component) in a one-shot worker thread, componentize-js (building one) in a child process.
 *
 * Each of them keeps a thread busy for seconds and holds hundreds of megabytes meanwhile; on the
 * kernel's thread that would stall every running agent's host calls. Off it, the kernel's event
 * loop goes on and the memory goes back when the tool ends. componentize also needs a child
 * process of its own: it runs wizer with the process's stdout, and it needs preview2-shim's
 * process-wide preopens, which must never exist where agents run.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { AgentLoadError } from "../../errors.js";
import type { PreparedComponent } from "./prepare.js";

export type ToolTask =
  | { type: "prepare"; bytes: Uint8Array; where: string }
  | { type: "componentize"; sourcePath: string; where: string };

export type ToolResult<T extends ToolTask> = T extends { type: "prepare" } ? PreparedComponent : { component: Uint8Array };

export type FromTool =
  | { type: "progress"; step: string }
  | { type: "done"; result: unknown }
  | { type: "error"; load: boolean; message: string };

const ENTRY = new URL("./tools-worker.js", import.meta.url);
/** A tool that runs longer than this is stopped: a component must not hang the kernel's load. */
const TIMEOUT_MS = { prepare: 5 * 60_000, componentize: 10 * 60_000 };

/** Runs one task; `progress` hears each step. @throws AgentLoadError for a component or agent that does not fit. */
export function runTool<T extends ToolTask>(task: T, progress: (step: string) => void = () => undefined): Promise<ToolResult<T>> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let stop = () => undefined as unknown;
    const timer = setTimeout(
      () => settle(() => reject(new AgentLoadError(`${task.where}: ${task.type === "prepare" ? "preparing the component" : "componentizing the agent"} took longer than ${TIMEOUT_MS[task.type] / 60_000} minutes; stopped`))),
      TIMEOUT_MS[task.type],
    );
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
      stop();
    };
    const onMessage = (message: FromTool) => {
      if (message.type === "progress") progress(message.step);
      else if (message.type === "done") settle(() => resolve(message.result as ToolResult<T>));
      else settle(() => reject(message.load ? new AgentLoadError(message.message) : new Error(`the component toolchain failed: ${message.message}`)));
    };
    const onError = (error: Error) => settle(() => reject(new Error(`the component toolchain failed: ${error.message}`, { cause: error })));
    if (task.type === "componentize") {
      let stderr = "";
      const child = fork(fileURLToPath(ENTRY), [], { stdio: ["ignore", "ignore", "pipe", "ipc"], serialization: "advanced" });
      child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
      stop = () => (child.exitCode === null ? child.kill() : undefined);
      child.on("message", onMessage);
      child.on("error", onError);
      child.on("exit", (code, signal) => settle(() => reject(new Error(`the component toolchain exited (${signal ?? `code ${code}`})${stderr ? `: ${stderr.trim()}` : ""}`))));
      child.send(task);
    } else {
      const worker = new Worker(ENTRY, { workerData: task });
      stop = () => void worker.terminate();
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", (code) => settle(() => reject(new Error(`the component toolchain exited with code ${code}`))));
    }
  });
}

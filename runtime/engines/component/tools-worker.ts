/**
 * The entry of a tool (see tools.ts): in a worker thread it gets its task as workerData, in a
 * child process as its first IPC message. It runs the task and reports back the same way.
 */
import { parentPort, workerData } from "node:worker_threads";
import { AgentLoadError } from "../../errors.js";
import type { FromTool, ToolTask } from "./tools.js";

const send = (message: FromTool): void => {
  if (parentPort) parentPort.postMessage(message);
  else process.send!(message);
};

async function perform(task: ToolTask): Promise<void> {
  try {
    if (task.type === "prepare") {
      const { prepareComponent } = await import("./prepare.js");
      const prepared = await prepareComponent(task.bytes, task.where, (step) => send({ type: "progress", step }));
      send({ type: "done", result: prepared });
    } else {
      const { componentizeSource } = await import("./componentize.js");
      const component = await componentizeSource(task.sourcePath, task.where);
      send({ type: "done", result: { component } });
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    send({ type: "error", load: error instanceof AgentLoadError, message });
  }
}

if (parentPort) await perform(workerData as ToolTask);
// The parent disconnects once it has the answer, which lets this process end.
else process.once("message", (task: ToolTask) => void perform(task));

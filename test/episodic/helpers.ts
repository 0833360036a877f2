import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { NewEvent } from "../../dist/runtime/types.js";

/** A fresh temporary directory, and a function that removes it. */
export async function tempDir(prefix = "agent-os-log-"): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A call event as the gate records it. */
export function callEvent(i: number, over: Partial<NewEvent> = {}, effect = "allow", action = "fs.write"): NewEvent {
  return {
    type: "call",
    runId: "run-" + (i % 3),
    pid: 10 + (i % 3),
    agent: i % 2 ? "writer" : "reader",
    data: {
      action,
      resource: `/workspace/file-${i}.txt`,
      args: { path: `/workspace/file-${i}.txt`, bytes: i },
      decision: { effect, rule: effect === "allow" ? "workspace" : "no-prod", reason: "because", matched: [] },
    },
    ...over,
  };
}

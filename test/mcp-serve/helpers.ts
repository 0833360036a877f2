/** Agents, a workspace and log readers shared by the tests of agents served as MCP tools. */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { openLog } from "../../dist/runtime/episodic/index.js";
import type { LoggedEvent } from "../../dist/runtime/types.js";
import { scratch } from "../cli/helpers.js";

export { BIN } from "../cli/helpers.js";

/** Agents as files: each is a real agent module the kernel bundles and runs. */
export const AGENTS = {
  /** Adds two numbers: exports its own inputSchema, so the task is the arguments' JSON. */
  "add.js": `export const inputSchema = {
  type: "object",
  properties: { a: { type: "number" }, b: { type: "number" } },
  required: ["a", "b"],
};
export function run(task) { const { a, b } = JSON.parse(task); return String(a + b); }
`,
  /** Writes a file at the path it is given (the policy decides where). */
  "writer.js": `import { fs } from "agent-os/guest";
export async function run(task) { await fs.write(task, "written by the writer\\n"); return "wrote " + task; }
`,
  /** Never ends on its own: stopped by the deadline or the fuel budget. */
  "spin.js": `export function run() { for (;;); }
`,
  /** Waits politely for SIGTERM and then returns. */
  "patient.js": `import { signals } from "agent-os/guest";
export async function run() {
  for (;;) if ((await signals.pending()) === "SIGTERM") return "stopped on SIGTERM";
}
`,
  /** Tries to act while the kernel reads its inputSchema (it must reach nothing). */
  "eager.js": `import { fs } from "agent-os/guest";
await fs.write("/workspace/eager.txt", "written while loading");
export const inputSchema = { type: "object", properties: {} };
export function run() { return "ran"; }
`,
  /** Allocates a gigabyte while loading. */
  "greedy.js": `const bytes = new Uint8Array(1 << 30);
bytes[0] = 1;
export const inputSchema = { type: "object" };
export function run() { return "ran"; }
`,
  /** Never finishes loading. */
  "looping.js": `for (;;);
export const inputSchema = { type: "object" };
export function run() { return "ran"; }
`,
  /** An inputSchema that is not an object schema. */
  "badschema.js": `export const inputSchema = { type: "string" };
export function run(task) { return task; }
`,
};

/** A scratch directory with the agents, a workspace holding notes.txt, and a /prod directory. */
export function world(): { path: string; agent(name: keyof typeof AGENTS): string; ws: string; prod: string; log: string; remove(): void } {
  const dir = scratch("agent-os-mcp-");
  for (const [name, source] of Object.entries(AGENTS)) dir.file(name, source);
  const ws = join(dir.path, "ws");
  const prod = join(dir.path, "prod");
  mkdirSync(ws);
  mkdirSync(prod);
  dir.file("ws/notes.txt", "alpha\nbeta\ngamma\n");
  return { path: dir.path, agent: (name) => join(dir.path, name), ws, prod, log: join(dir.path, "log"), remove: dir.remove };
}

/** Every event of the log in `dir` (opened after the server has closed it). */
export async function events(dir: string): Promise<LoggedEvent[]> {
  const log = await openLog({ dir });
  try {
    const out: LoggedEvent[] = [];
    for await (const event of log.query()) out.push(event);
    return out;
  } finally {
    await log.close();
  }
}

/** The summarize example agent. */
export const SUMMARIZE = new URL("../../examples/summarize/agent.js", import.meta.url).pathname;

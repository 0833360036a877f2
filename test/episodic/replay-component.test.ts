/**
 * Replay on the component engine: example agents built as WebAssembly components (by the
 * component tests' helper, cached), recorded with a LevelDB log and a real workspace, replayed
 * identically. A component's content hash is over its bytes, which the log does not hold:
 * replay needs the component given, and refuses another one.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelSpace, type Agent, type RunResult } from "../../dist/runtime/index.js";
import { BUILD_TIMEOUT_MS, CACHE_DIR, prebuild } from "../component/helpers.js";
import { makeWorld, type World } from "./world.js";

let world: World;
let kernel: KernelSpace;
let agents: Record<string, Agent>;
const runs: Record<string, RunResult> = {};

beforeAll(async () => {
  const files = await prebuild(["hello", "summarize", "hostile"]);
  world = await makeWorld("agent-os-replay-component-");
  mkdirSync(join(world.workspace, "sub"), { recursive: true });
  writeFileSync(join(world.workspace, "notes.txt"), "one\ntwo three\n");
  kernel = new KernelSpace({
    policy: "standard",
    log: { dir: world.logDir },
    mounts: { "/workspace": world.workspace },
    databases: { main: world.dbFile },
    pool: { warm: 1 },
    cache: { dir: CACHE_DIR },
  });
  agents = {};
  for (const name of ["hello", "summarize", "hostile"]) agents[name] = await kernel.load(files[name]);
  runs.hello = await kernel.execute(agents.hello, "world");
  runs.summarize = await kernel.execute(agents.summarize, "/workspace/notes.txt");
  runs.hostile = await kernel.execute(agents.hostile, "");
}, BUILD_TIMEOUT_MS);

afterAll(async () => {
  await kernel?.close();
  await world?.remove();
});

describe("replay on the component engine", () => {
  it.each(["hello", "summarize", "hostile"])("replays the %s component identically", async (name) => {
    expect(agents[name].engine).toBe("component");
    expect(runs[name].status).toBe("ok");
    const report = await kernel.replay({ runId: runs[name].runId, agent: agents[name] });
    expect(report.status).toBe("identical");
    expect(report.output).toBe(runs[name].output);
    const log = await kernel.log;
    let calls = 0;
    for await (const e of log.query({ runId: runs[name].runId, type: "call" })) if (e.data.redirect !== true) calls++;
    expect(report.events).toHaveLength(calls);
  });

  it("needs the component (its bytes are not in the log), and refuses another one", async () => {
    await expect(kernel.replay({ runId: runs.hello.runId })).rejects.toThrow(/does not hold the code of run .* agent hello/);
    await expect(kernel.replay({ runId: runs.hello.runId, agent: agents.summarize })).rejects.toThrow(/code has changed/);
  });
});

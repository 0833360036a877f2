/**
 * `agent-os run` bundles an agent with its dependencies for QuickJS (real child processes, a
 * real LevelDB log), refuses what an agent may not import with exit 2, and `agent-os replay`
 * replays the run from the log alone, after the agent's files and its package are gone.
 */
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openLogReader } from "../../dist/runtime/hosts/node/log/reader.js";
import type { LoggedEvent, RunResult } from "../../dist/runtime/index.js";
import { agentOs } from "../cli/helpers.js";
import { OUTPUT, TASK, TS_OUTPUT, makeProject, type Project } from "./project.js";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
let project: Project;

beforeAll(() => {
  project = makeProject("agent-os-bundle-cli-");
});
afterAll(() => project.remove());

describe("agent-os run", () => {
  it("runs a multi-file agent with npm dependencies on QuickJS", async () => {
    const ran = await agentOs(project.path, "run", "agent.js", "--task", TASK, "--no-log");
    expect(ran).toMatchObject({ code: 0, stdout: `${OUTPUT}\n`, stderr: "" });
  });

  it("runs a TypeScript agent directly", async () => {
    const ran = await agentOs(project.path, "run", "ts/agent.ts", "--task", "a.md b.md x.js notes.md", "--no-log");
    expect(ran).toMatchObject({ code: 0, stdout: `${TS_OUTPUT}\n`, stderr: "" });
  });

  it.each([
    ["node-fs.js", 'import { readFileSync } from "node:fs";', /refused\/node-fs\.js:1:\d+: cannot import "node:fs": a Node built-in/],
    ["fs.js", 'import { readFileSync } from "fs";', /refused\/fs\.js:1:\d+: cannot import "fs": a Node built-in/],
    ["url.js", 'import x from "https://evil.example/x.js";', /refused\/url\.js:1:\d+: cannot import "https:\/\/evil\.example\/x\.js": an agent cannot import from a URL/],
    ["sub/up.js", 'import { x } from "../outside.js";', /refused\/sub\/up\.js:1:\d+: cannot bundle .*refused\/outside\.js: an agent may bundle only files of its own directory and packages from node_modules/],
  ])("refuses %s with exit 2, naming the file, line and why", async (name, line, message) => {
    project.file("refused/outside.js", "export const x = 1;\n");
    project.file(`refused/${name}`, `${line}\nexport function run() { return "ran"; }\n`);
    const ran = await agentOs(project.path, "run", `refused/${name}`, "--no-log");
    expect(ran.code).toBe(2);
    expect(ran.stdout).toBe("");
    expect(ran.stderr).toMatch(new RegExp(`^agent-os: refused/${name.replace(".", "\\.")}: the agent does not bundle:\n`));
    expect(ran.stderr).toMatch(message);
  });
});

describe("replay from the log alone", () => {
  it("replays identically after the agent's files, its package and the cache are gone, and refuses a changed agent", async () => {
    const log = join(project.path, "log");
    const ran = await agentOs(project.path, "run", "agent.js", "--task", TASK, "--log", log, "--json");
    expect(ran.code).toBe(0);
    const result = JSON.parse(ran.stdout) as RunResult;
    expect(result).toMatchObject({ status: "ok", output: OUTPUT });

    // The spawn event records the bundle's hash, and the log holds the bundle under it.
    const reader = await openLogReader(log);
    try {
      let spawn: LoggedEvent | undefined;
      for await (const e of reader.query({ runId: result.runId, type: "spawn" })) spawn = e;
      if (!spawn) throw new Error("no spawn event");
      const codeHash = spawn.data.codeHash as string;
      const bundle = await reader.getBlob(codeHash);
      expect(bundle).toBeDefined();
      expect(sha256(bundle!)).toBe(codeHash);
      const code = new TextDecoder().decode(bundle);
      expect(code).toContain('"hello " + name');
      expect(code).toContain('toUpperCase() + "!"');
    } finally {
      await reader.close();
    }

    for (const gone of ["agent.js", "lib", "node_modules", ".agent-os"]) rmSync(join(project.path, gone), { recursive: true, force: true });
    const replayed = await agentOs(project.path, "replay", result.runId, "--log", log);
    expect(replayed.stderr).toBe("");
    expect(replayed.code).toBe(0);
    expect(replayed.stdout).toMatch(new RegExp(`^identical: run ${result.runId} \\(agent agent-os-bundle-cli-\\w+\\), 1 call replayed, ended ok`));

    // The agent again elsewhere: the same files make the same code; with its package changed, not.
    const again = makeProject("agent-os-bundle-cli-");
    try {
      const same = await agentOs(project.path, "replay", result.runId, "--log", log, "--agent", again.agent);
      expect(same).toMatchObject({ code: 0, stdout: expect.stringMatching(/^identical: /) });
      again.file("node_modules/tiny-dep/index.js", "module.exports = function hello(name) { return 'bye ' + name; };\n");
      const changed = await agentOs(project.path, "replay", result.runId, "--log", log, "--agent", again.agent);
      expect(changed.code).toBe(2);
      expect(changed.stderr).toMatch(/code has changed since run/);
    } finally {
      again.remove();
    }
  });
});

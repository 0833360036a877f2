/** agent-os build, inspect and run for components: real processes, real exit codes. */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../dist/runtime/cli/main.js";
import { tempDir } from "../kernel/helpers.js";
import { AGENTS, BUILD_TIMEOUT_MS, ROOT, prebuild } from "./helpers.js";

const bin = join(ROOT, "dist/runtime/cli/bin.js");
const dir = tempDir("agent-os-component-cli-");
let built: Record<string, string>;

beforeAll(async () => {
  built = await prebuild(["hello", "runaway"]);
}, BUILD_TIMEOUT_MS);
afterAll(() => dir.remove());

/** Runs in the repository, so that the default cache (.agent-os/cache) is the tests' own. */
function agentOs(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function source(name: string, text: string): string {
  const file = join(dir.path, name);
  writeFileSync(file, text);
  return file;
}

describe("agent-os build", () => {
  it("writes the component, quietly when stdout is not a terminal", () => {
    const out = join(dir.path, "hello.wasm");
    const r = agentOs("build", AGENTS.hello, "-o", out);
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(Buffer.compare(readFileSync(out), readFileSync(built.hello))).toBe(0);
  });

  it("shows its progress on a terminal, and nothing with --quiet", async () => {
    const lines: string[] = [];
    const io = { stdout: (t: string) => lines.push(t), stderr: (t: string) => lines.push(t), isTTY: true };
    expect(await main(["build", AGENTS.hello, "-o", join(dir.path, "tty.wasm")], io)).toBe(0);
    const text = lines.join("");
    expect(text).toMatch(/bundling the agent and the guest SDK/);
    expect(text).toMatch(/taken from the cache|componentizing/);
    expect(text).toMatch(/done in \d+\.\d s/);
    expect(text).toMatch(/wrote .*tty\.wasm: \d+\.\d MiB, sha256 [0-9a-f]{64}/);
    lines.length = 0;
    expect(await main(["build", AGENTS.hello, "-o", join(dir.path, "quiet.wasm"), "--quiet"], io)).toBe(0);
    expect(lines).toEqual([]);
  });

  it("exits 1 for an agent that does not build, naming the file, line and reason", () => {
    const syntax = agentOs("build", source("syntax.js", "export function run( {\n"), "-o", join(dir.path, "x.wasm"));
    expect(syntax.code).toBe(1);
    expect(syntax.stderr).toMatch(/syntax\.js: the agent does not bundle:\n.*syntax\.js:\d+:\d+: /);
    const node = agentOs("build", source("node.js", 'import { readFileSync } from "node:fs";\nexport function run() { return String(readFileSync); }\n'), "-o", join(dir.path, "x.wasm"));
    expect(node.code).toBe(1);
    expect(node.stderr).toMatch(/node\.js:1:\d+: cannot import "node:fs": a Node built-in; an agent can import only "agent-os\/guest", "agentos:kernel\/\*", its own files and packages from node_modules/);
    const outside = agentOs("build", source("outside.js", 'import data from "/etc/hostname";\nexport function run() { return data; }\n'), "-o", join(dir.path, "x.wasm"));
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/cannot bundle \/etc\/hostname: an agent may bundle only files of its own directory/);
  });

  it("exits 2 for usage errors", () => {
    expect(agentOs("build")).toMatchObject({ code: 2 });
    expect(agentOs("build", AGENTS.hello).stderr).toMatch(/-o <agent\.wasm> is required/);
    expect(agentOs("build", "missing.js", "-o", "x.wasm")).toMatchObject({ code: 2, stderr: expect.stringMatching(/missing\.js: no such file/) });
    expect(agentOs("build", join(ROOT, "README.md"), "-o", "x.wasm").stderr).toMatch(/an agent source is a \.js, \.mjs, \.ts, \.mts file/);
  });
});

describe("agent-os inspect", () => {
  it("prints the world, imports, exports, size and hash; --json too", () => {
    const r = agentOs("inspect", built.hello);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/sha256: +[0-9a-f]{64}/);
    expect(r.stdout).toMatch(/kernel: +fits the agent world/);
    expect(r.stdout).toMatch(/imports:\n(  agentos:kernel\/\w+@0\.1\.0\n)+(  wasi:[\w-]+\/[\w-]+@0\.2\.12\n){6}exports:\n  run: func\(task: string\) -> result<string, string>\n/);
    const json = JSON.parse(agentOs("inspect", built.hello, "--json").stdout) as { size: number; imports: string[]; fits: { ok: boolean } };
    expect(json.size).toBe(readFileSync(built.hello).length);
    expect(json.imports).toContain("agentos:kernel/fs@0.1.0");
    expect(json.fits).toEqual({ ok: true });
  });

  it("exits 1 for what is not a component, 2 for a missing file", () => {
    expect(agentOs("inspect", join(ROOT, "package.json"))).toMatchObject({ code: 1, stderr: expect.stringMatching(/not a WebAssembly file/) });
    expect(agentOs("inspect", "missing.wasm")).toMatchObject({ code: 2, stderr: expect.stringMatching(/missing\.wasm: no such file/) });
  });
});

describe("agent-os run", () => {
  it("runs a component, and a source file on either engine", () => {
    expect(agentOs("run", built.hello, "--task", "wasm", "--no-log")).toMatchObject({ code: 0, stdout: "Hello from an isolate: wasm\n" });
    expect(agentOs("run", AGENTS.hello, "--engine", "component", "--task", "built", "--no-log")).toMatchObject({ code: 0, stdout: "Hello from an isolate: built\n" });
    expect(agentOs("run", AGENTS.hello, "--engine", "quickjs", "--task", "js", "--no-log")).toMatchObject({ code: 0, stdout: "Hello from an isolate: js\n" });
  });

  it("exits 137 when a component runs out of fuel, 2 for an unknown engine", () => {
    const killed = agentOs("run", built.runaway, "--fuel", "1000000", "--no-log");
    expect(killed.code).toBe(137);
    expect(killed.stderr).toMatch(/killed by SIGXCPU \(fuel\)/);
    expect(agentOs("run", AGENTS.hello, "--engine", "v8", "--no-log")).toMatchObject({ code: 2, stderr: expect.stringMatching(/--engine v8: expected quickjs or component/) });
    expect(agentOs("run", built.hello, "--engine", "quickjs", "--no-log")).toMatchObject({ code: 2, stderr: expect.stringMatching(/runs on the component engine, not quickjs/) });
  });
});

/** The agent-os command, run as a user runs it: a real process, real exit codes. */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "./kernel/helpers.js";

/** Each test spawns the command a few times: on a loaded machine that takes long, which must not fail it. */
const SLOW_MS = 300_000;

const bin = new URL("../dist/runtime/cli/bin.js", import.meta.url).pathname;
const dir = tempDir();
afterAll(() => dir.remove());

function agentOs(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir.path, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function agent(name: string, source: string): string {
  const file = join(dir.path, `${name}.js`);
  writeFileSync(file, source);
  return file;
}

describe("agent-os run", { timeout: SLOW_MS }, () => {
  it("prints the agent's output and exits 0", () => {
    const r = agentOs("run", agent("ok", `export function run(task) { return "done: " + task; }`), "--policy", "strict", "--task", "x", "--no-log");
    expect(r).toMatchObject({ code: 0, stdout: "done: x\n" });
  });

  it("prints the RunResult as JSON with --json", () => {
    const r = agentOs("run", agent("json", `export function run() { return "j"; }`), "--json", "--no-log");
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "ok", output: "j", agent: "json", denials: [] });
  });

  it("exits 1 when the agent fails", () => {
    const r = agentOs("run", agent("fail", `export function run() { throw new TypeError("nope"); }`), "--no-log");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/failed: TypeError: nope/);
  });

  it("exits 137 when the agent is killed (fuel)", () => {
    const r = agentOs("run", agent("spin", `export function run() { for (;;); }`), "--fuel", "1000000", "--no-log");
    expect(r.code).toBe(137);
    expect(r.stderr).toMatch(/killed by SIGXCPU \(fuel\)/);
  });

  it("exits 137 when the agent runs past --timeout", () => {
    const r = agentOs("run", agent("slow", `export function run() { for (;;); }`), "--timeout", "300ms", "--no-log");
    expect(r.code).toBe(137);
    expect(r.stderr).toMatch(/deadline/);
  });

  it("exits 2 for usage and configuration errors, naming what is wrong", () => {
    const ok = agent("fine", `export function run() { return ""; }`);
    const bad = join(dir.path, "bad.yaml");
    writeFileSync(bad, "version: 1\nrules:\n  - action: fs.wrte\n    effect: allow\n");
    const cases: [string[], RegExp][] = [
      [["run"], /expected exactly one agent file/],
      [["run", "missing.js"], /missing\.js: no such file/],
      [["run", ok, "--bogus"], /unknown option --bogus/],
      [["run", ok, "--policy", "nonsense"], /nonsense/],
      [["run", ok, "--policy", bad], /bad\.yaml:3/],
      [["run", ok, "--memory", "lots"], /--memory lots/],
      [["run", ok, "--mount", "/workspace=./does-not-exist"], /does-not-exist/],
      [["run", ok, "--dns", "dns.example"], /dns: expected DNS server addresses .*dns\.example/],
      [["frobnicate"], /unknown command "frobnicate"/],
    ];
    for (const [args, message] of cases) {
      const r = agentOs(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(message);
    }
  });

  it("mounts a directory and records the run in the log, which verifies", () => {
    const ws = join(dir.path, "ws");
    mkdirSync(ws);
    writeFileSync(join(ws, "notes.txt"), "one two three\nfour\n");
    const summarize = new URL("../examples/summarize/agent.js", import.meta.url).pathname;
    const r = agentOs("run", summarize, "--policy", "standard", "--mount", `/workspace=${ws}`, "--task", "/workspace/notes.txt", "--log", "logdir");
    expect(r.stderr).toBe("");
    expect(r).toMatchObject({ code: 0 });
    expect(r.stdout).toMatch(/2 lines, 4 words/);
    const v = agentOs("verify", "--log", "logdir");
    expect(v.code).toBe(0);
  });

  it("documents every command", () => {
    const help = agentOs("--help");
    expect(help.code).toBe(0);
    for (const cmd of ["run", "policy", "log", "verify"]) {
      expect(help.stdout).toContain(cmd);
      expect(agentOs(cmd, "--help").code, cmd).toBe(0);
    }
    expect(agentOs("run", "--help").stdout).toMatch(/--mount[\s\S]*--fuel[\s\S]*--timeout[\s\S]*Exit codes/);
  });
});

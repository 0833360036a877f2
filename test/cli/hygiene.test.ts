/**
 * The command's hygiene (issue 13, item 24): a reader that goes away, one strict parser for
 * --db and --mount, plain numbers, a memory limit above the cap, exit codes by error type and
 * never 70, and --help documenting every flag of every command.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../dist/runtime/cli/main.js";
import type { CliIo } from "../../dist/runtime/cli/io.js";
import { exitCodeFor, reportFailure } from "../../dist/runtime/cli/failure.js";
import { openLog } from "../../dist/runtime/episodic/index.js";
import { AgentLoadError, LogError, PolicyError, ReplayError, UsageError } from "../../dist/runtime/errors.js";
import { KernelSpace } from "../../dist/runtime/index.js";
import { BIN, agentOs, scratch } from "./helpers.js";

/** Each test spawns the command a few times: on a loaded machine that takes long, which must not fail it. */
const SLOW_MS = 300_000;

function capture(): CliIo & { out: string; err: string } {
  const io = { out: "", err: "", isTTY: false, stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
  return io;
}

async function inProcess(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = capture();
  const code = await main(argv, io);
  return { code, out: io.out, err: io.err };
}

const dir = scratch();
const EVENTS = 3000;

beforeAll(async () => {
  dir.file("ok.js", `export function run() { return "fine"; }`);
  dir.file("spin.js", `export function run() { for (;;); }`);
  // A real log large enough that its timeline overflows a pipe's buffer many times over.
  const log = await openLog({ dir: join(dir.path, "big") });
  for (let i = 0; i < EVENTS; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_v, k) => log.append({ type: "checkpoint", runId: "r1", pid: 1, agent: "writer", data: { label: `step ${i + k} ${"x".repeat(80)}` } })),
    );
  }
  await log.close();
}, SLOW_MS);
afterAll(() => dir.remove());

/** `agent-os <args> | head -1` in a real shell: what head printed, and agent-os's exit status and stderr. */
function pipedToHead(...args: string[]): Promise<{ first: string; status: number; stderr: string }> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", `${quoted} 2>agent-os.err | head -1; echo "status=\${PIPESTATUS[0]}"; cat agent-os.err`], { cwd: dir.path });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    const timer = setTimeout(() => (child.kill("SIGKILL"), reject(new Error(`the pipeline did not end: ${out}`))), 60_000);
    child.on("close", () => {
      clearTimeout(timer);
      const m = /^(.*)\nstatus=(\d+)\n([\s\S]*)$/.exec(out);
      if (!m) return reject(new Error(`unexpected pipeline output: ${out}`));
      resolve({ first: m[1], status: Number(m[2]), stderr: m[3] });
    });
  });
}

describe("a reader that goes away (agent-os log | head -1)", { timeout: SLOW_MS }, () => {
  it.each([[[]], [["--json"]], [["--follow"]]])("log %j: the first line, then a quiet exit 0", async (extra) => {
    const r = await pipedToHead("log", "--log", "big", ...extra);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.first).toMatch(/#1 .*step 0 |"seq":1,/);
  });
});

describe("run: one strict parser for --db and --mount", { timeout: SLOW_MS }, () => {
  it("a read-only database that does not exist is a usage error (exit 2), and nothing is created", async () => {
    const r = await inProcess("run", join(dir.path, "ok.js"), "--db", `main=${join(dir.path, "missing.db")}:ro`, "--no-log");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--db main: .*missing\.db does not exist \(a read-only database must\)/);
    expect(existsSync(join(dir.path, "missing.db"))).toBe(false);
  });

  it.each([
    [["--db", "main=a.db", "--db", "main=b.db"], /--db main is given twice/],
    [["--db", "__proto__=a.db"], /"__proto__" cannot name a database/],
    [["--db", "constructor=a.db"], /"constructor" cannot name a database/],
    [["--db", "bad name=a.db"], /--db expects name=path\[:ro\] with a name like "main"/],
    [["--db", "main="], /--db main: the path is empty/],
    [["--mount", `/w=${dir.path}`, "--mount", `/w=${dir.path}`], /--mount \/w is given twice/],
    [["--mount", `/w=${dir.path}`, "--mount", `/w/=${dir.path}`], /mount \/w is given twice/],
    [["--memory", "2GiB"], /--memory 2GiB: more than the kernel's heap cap of 1 GiB/],
    [["--memory", "1073741825"], /--memory 1073741825: more than the kernel's heap cap/],
    [["--timeout", "soon"], /--timeout soon: expected a duration: whole milliseconds/],
    [["-x"], /unknown option -x/],
  ])("%j is refused with exit 2", async (flags, message) => {
    const r = await inProcess("run", join(dir.path, "ok.js"), ...flags, "--no-log");
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.out).toBe("");
  });

  it("takes plain numbers as milliseconds and bytes, as the messages say", async () => {
    const r = await agentOs(dir.path, "run", "spin.js", "--timeout", "400", "--memory", "67108864", "--log", "plain");
    expect(r.code).toBe(137);
    expect(r.stderr).toMatch(/killed by SIGKILL \(deadline\): wall-time limit of 400 ms reached/);
    const spawnEvent = await agentOs(dir.path, "log", "--log", "plain", "--type", "spawn", "--json");
    expect(JSON.parse(spawnEvent.stdout).data.limits).toMatchObject({ wallTime: 400, memory: 67108864 });
  });
});

describe("exit codes by error type, 1 or 2, never 70", { timeout: SLOW_MS }, () => {
  it("the type decides, not the words", () => {
    for (const error of [new UsageError("x"), new PolicyError([{ message: "x" }]), new AgentLoadError("x"), new ReplayError("x")]) expect(exitCodeFor(error)).toBe(2);
    for (const error of [new LogError("there is no log at x"), new Error("usage: unknown option"), Object.assign(new Error("ENOENT"), { code: "ENOENT", syscall: "open" })]) {
      expect(exitCodeFor(error)).toBe(1);
    }
  });

  it("an unexpected error is reported in one line, without a stack trace, as exit 1", () => {
    const io = capture();
    expect(reportFailure(new TypeError("boom\n    at secret (/host/path.js:1:1)"), io)).toBe(1);
    expect(io.err).toBe("agent-os: internal error: boom\\n    at secret (/host/path.js:1:1)\n(set AGENT_OS_DEBUG=1 for the stack trace)\n");
  });

  it("a suggested policy that cannot be written exits 2 with a message (it exited 70 with a stack trace)", async () => {
    const logDir = join(dir.path, "audited");
    const kernel = new KernelSpace({ policy: "audit", log: { dir: logDir }, pool: { warm: 1 } });
    const result = await kernel.execute(kernel.register(async function noted(_task: string, { log }: { log: { info(m: string): Promise<void> } }) {
      await log.info("hello");
      return "ok";
    } as never), "");
    await kernel.close();
    const r = await inProcess("policy", "suggest", result.runId, "--log", logDir, "-o", join(dir.path, "no-such-dir", "p.yaml"));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^agent-os policy suggest: -o .*no-such-dir\/p\.yaml: cannot write it \(ENOENT\)\n$/);
  });
});

describe("--help documents every flag of every command", { timeout: SLOW_MS }, () => {
  const FLAGS: Record<string, string[]> = {
    run: ["policy", "task", "mount", "db", "allow-private", "dns", "fuel", "memory", "timeout", "stop-timeout", "engine", "verifier", "threshold", "verifier-timeout", "log", "no-log", "json", "help"],
    log: ["log", "run", "agent", "action", "effect", "type", "since", "until", "limit", "newest", "json", "follow", "nats", "node-log", "token", "prefix", "help"],
    verify: ["log", "json", "cluster", "nats", "node-log", "token", "nkey", "tls-ca", "prefix", "help"],
    replay: ["checkpoint", "agent", "policy", "db", "log", "json", "help"],
    build: ["output", "quiet", "cache", "no-cache", "help"],
    inspect: ["json", "help"],
    policy: ["action", "resource", "method", "sql", "operations", "tables", "agent", "json", "log", "output", "db", "name", "collapse", "any-policy", "help"],
    tools: ["mcp", "json", "help"],
    node: ["nats", "token", "nkey", "tls-ca", "prefix", "name", "capacity", "lost-after", "policy", "mount", "db", "fuel", "memory", "timeout", "log", "help"],
    submit: ["nats", "token", "nkey", "tls-ca", "prefix", "task", "wait", "json", "retry", "engine", "fuel", "memory", "timeout", "help"],
    ps: ["nats", "token", "nkey", "tls-ca", "prefix", "json", "help"],
    signal: ["nats", "token", "nkey", "tls-ca", "prefix", "json", "help"],
  };
  it.each(Object.entries(FLAGS))("%s --help and -h: every flag, and nothing a terminal acts on", async (command, flags) => {
    for (const help of ["--help", "-h"]) {
      const r = await inProcess(command, help);
      expect(r.code, `${command} ${help}: ${r.err}`).toBe(0);
      expect(r.out, `${command} ${help} prints no control or bidi character`).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
      for (const flag of flags) expect(r.out, `${command} ${help}: --${flag}`).toMatch(new RegExp(`(^|[\\s,\\[])--${flag}\\b`));
    }
  });
});

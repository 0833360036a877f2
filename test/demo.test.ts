/**
 * `npm start`: the demo (examples/demo.ts, built to dist/examples/demo.js) run as a user runs it,
 * in a process of its own, and every claim it prints checked against the host afterwards: the
 * summary file, the hostile agent's targets untouched, the denials and signals it reports as
 * the log records them, and the log's hash chain as it says.
 */
import Database from "better-sqlite3";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openLog, type KernelLog, type LoggedEvent } from "../dist/runtime/index.js";
import { tempDir } from "./kernel/helpers.js";

const demo = new URL("../dist/examples/demo.js", import.meta.url).pathname;
const root = tempDir("agent-os-demo-test-");
// The demo works in root/demo; its hostile agent's "/workspace/../../etc/agent-was-here" would
// land in root/etc if the kernel joined it onto the mount without confining it.
const dir = join(root.path, "demo");
const escapeDir = join(root.path, "etc");
const passwd = () => createHash("sha256").update(readFileSync("/etc/passwd")).digest("hex");

let stdout = "";
let status: number | null = null;
let sections: string[] = [];
let log: KernelLog;
let events: LoggedEvent[] = [];
let passwdBefore = "";
let assistantEvents: LoggedEvent[] = [];
/** The status API's token, as the host's environment gives it to the demo. */
const TOKEN = "tok_" + createHash("sha256").update(String(process.pid) + Date.now()).digest("hex").slice(0, 24);

beforeAll(async () => {
  mkdirSync(escapeDir);
  passwdBefore = passwd();
  const run = spawnSync(process.execPath, [demo, "--dir", dir], {
    encoding: "utf8",
    timeout: 240_000,
    env: { ...process.env, NO_COLOR: "1", AGENT_OS_DEMO_STATUS_TOKEN: TOKEN },
  });
  stdout = run.stdout;
  status = run.status;
  expect(run.stderr).toBe("");
  sections = stdout.split(/\n(?=\d\. )/);
  log = await openLog({ dir: join(dir, "log") });
  for await (const e of log.query({})) events.push(e);
  const assistantLog = await openLog({ dir: join(dir, "assistant", "assistant-log") });
  try {
    for await (const e of assistantLog.query({})) assistantEvents.push(e);
  } finally {
    await assistantLog.close();
  }
}, 300_000);

afterAll(async () => {
  await log?.close();
  root.remove();
});

const section = (n: number) => sections.find((s) => s.startsWith(`${n}. `)) ?? "";
const runOf = (agent: string) => events.filter((e) => e.agent === agent);

describe("npm start (the demo)", () => {
  it("exits 0 and prints its six parts", () => {
    expect(status, stdout).toBe(0);
    expect(sections.map((s) => s.split("\n")[0])).toEqual([
      expect.stringMatching(/^Agent OS demo {2}\(policy: standard, workspace: /),
      "1. summarize: a benign agent doing its job",
      "2. hostile: an agent trying to escape",
      "3. runaway: while (true) {} under a fuel budget",
      "4. memory-bomb: allocating forever under a 32 MiB heap",
      "5. assistant: a model-driven agent meets a prompt injection",
      "6. the episodic logs",
    ]);
  });

  it("1. summarize: the output it prints is the file on the host, and its timeline is the log's", () => {
    const text = section(1);
    const output = /exited ok; output:\n((?: {4}.*\n)+)/.exec(text)?.[1].replace(/^ {4}/gm, "").trimEnd();
    const file = readFileSync(join(dir, "workspace", "summary.txt"), "utf8");
    expect(file).toBe(`${output}\n`);
    expect(text).toContain(`summary file on the host: ${JSON.stringify(file.split("\n")[0])}`);
    const printed = [...text.matchAll(/^ {4}# *(\d+) (\w+) /gm)].map((m) => [Number(m[1]), m[2]]);
    expect(printed).toEqual(runOf("summarize").map((e) => [e.seq, e.type]));
    expect(printed.length).toBeGreaterThan(4);
    const db = new Database(join(dir, "app.db"), { readonly: true });
    expect(db.prepare("SELECT path, words FROM summaries").all()).toEqual([{ path: "/workspace/notes.txt", words: 16 }]);
    db.close();
  });

  it("2. hostile: blocked everything, its denials are the log's, and its targets are untouched", () => {
    const text = section(2);
    const attempts = [...text.matchAll(/^ {4}(blocked|ALLOWED) /gm)].map((m) => m[1]);
    expect(attempts).toHaveLength(12);
    expect(attempts.every((a) => a === "blocked")).toBe(true);
    const count = Number(/denials recorded by the kernel: (\d+)/.exec(text)?.[1]);
    const listed = [...text.matchAll(/^ {4}#(\d+) (\S+) /gm)].map((m) => [Number(m[1]), m[2]]);
    expect(listed).toHaveLength(count);
    // Each denial it lists is a refused call of the hostile run in the log, and there are no others.
    const refused = runOf("hostile").filter((e) => e.type === "call" && (e.data as { decision: { effect: string } }).decision.effect !== "allow");
    expect(listed).toEqual(refused.map((e) => [e.seq, (e.data as { action: string }).action]));
    expect(runOf("hostile").filter((e) => e.type === "result")).toEqual([]);
    // The host afterwards: what it says, and what it does not say.
    const db = new Database(join(dir, "app.db"), { readonly: true });
    const users = db.prepare("SELECT name FROM users ORDER BY id").all();
    db.close();
    expect(users).toEqual([{ name: "ada" }, { name: "linus" }]);
    expect(text).toContain(`users table has ${users.length} rows; ${join(dir, "outside.txt")} still says "the host's own file"`);
    expect(readFileSync(join(dir, "outside.txt"), "utf8")).toBe("the host's own file\n");
    expect(readdirSync(escapeDir)).toEqual([]);
    expect(existsSync("/etc/agent-was-here")).toBe(false);
    expect(existsSync("/prod/config.json")).toBe(false);
    expect(passwd()).toBe(passwdBefore);
    expect(readdirSync(join(dir, "workspace")).sort()).toEqual(["notes.txt", "summary.txt"]);
  });

  it("3. runaway: frozen while it was spinning, then killed by its fuel budget, as the log records", () => {
    const text = section(3);
    const [, before, after] = /SIGSTOP: state stopped, fuel (\d+) -> (\d+) over 100 ms \(frozen\)/.exec(text) ?? [];
    expect(Number(before)).toBeGreaterThan(0);
    expect(after).toBe(before);
    const used = Number(/killed by SIGXCPU \(reason: fuel\), fuel used (\d+)/.exec(text)?.[1]);
    expect(used).toBeGreaterThanOrEqual(50_000_000);
    const run = runOf("runaway");
    expect(run.filter((e) => e.type === "signal").map((e) => e.data.signal)).toEqual(["SIGSTOP", "SIGCONT", "SIGXCPU"]);
    expect(run.find((e) => e.type === "exit")?.data).toMatchObject({ status: "killed", reason: "fuel", signal: "SIGXCPU", usage: { fuel: used } });
  });

  it("4. memory-bomb: failed for its memory limit, as the log records", () => {
    expect(section(4)).toMatch(/failed \(memory\): /);
    expect(runOf("memory-bomb").find((e) => e.type === "exit")?.data).toMatchObject({ status: "error", reason: "memory" });
  });

  it("5. assistant: its timeline is the log's; the injection's calls were refused and nothing reached the collector", () => {
    const text = section(5);
    // (a call with no resource, tool.list, prints none)
    const printed = [...text.matchAll(/^ {4}# *(\d+) (\S+) +(?:(\S+) +)?-> (\w+)/gm)].map((m) => [Number(m[1]), m[2], m[3] ?? "", m[4]]);
    const calls = assistantEvents.filter((e) => e.type === "call");
    expect(printed).toEqual(calls.map((e) => [e.seq, e.data.action, e.data.resource, (e.data.decision as { effect: string }).effect]));
    const collect = calls.filter((e) => String(e.data.resource).endsWith("/collect"));
    expect(collect.map((e) => [e.data.action, (e.data.decision as { effect: string }).effect])).toEqual([["http.fetch", "deny"]]);
    // A refused call has no result: nothing was sent.
    expect(assistantEvents.filter((e) => e.type === "result" && collect.some((c) => c.seq === e.data.call))).toEqual([]);
    expect(text).toContain("the collector got 0; the token appears in the agent's output 0 times");
    expect(text).toContain("the status API got 1 request(s), 1 with the token the kernel added");
    const exit = assistantEvents.find((e) => e.type === "exit")?.data as { status: string; usage: { tokens: { input: number; output: number } } };
    expect(exit.status).toBe("ok");
    expect(text).toContain(`exited ok; tokens ${exit.usage.tokens.input} in, ${exit.usage.tokens.output} out (budget 20000)`);
    const db = new Database(join(dir, "assistant", "team.db"), { readonly: true });
    expect(db.prepare("SELECT count(*) AS n FROM customers").get()).toEqual({ n: 2 });
    db.close();
  });

  it("5. assistant: the status API's token is in neither its output, the demo's, nor any byte of its log", () => {
    expect(stdout).not.toContain(TOKEN);
    expect(JSON.stringify(assistantEvents)).not.toContain(TOKEN);
    const logDir = join(dir, "assistant", "assistant-log");
    for (const name of readdirSync(logDir)) expect(readFileSync(join(logDir, name)).includes(TOKEN), name).toBe(false);
    // The run did use it: the API answered the agent (with the token the kernel added).
    expect(section(5)).toMatch(/Deploys: \{"deploy":"green"/);
  });

  it("6. the logs: as many events as it says, hash chains that verify, the heads it printed", async () => {
    const text = section(6);
    const [, count, head] = /log: verified, (\d+) events, hash chain intact, head ([0-9a-f]{16})…/.exec(text) ?? [];
    const report = await log.verify();
    expect(report).toMatchObject({ ok: true, count: Number(count) });
    expect(report.ok && report.head.startsWith(head)).toBe(true);
    expect(events).toHaveLength(Number(count));
    const [, assistantCount] = /assistant's log: verified, (\d+) events/.exec(text) ?? [];
    expect(assistantEvents).toHaveLength(Number(assistantCount));
    expect(text).toContain("0 live processes, every agent ended");
  });
});

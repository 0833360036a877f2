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

beforeAll(async () => {
  mkdirSync(escapeDir);
  passwdBefore = passwd();
  const run = spawnSync(process.execPath, [demo, "--dir", dir], { encoding: "utf8", timeout: 240_000, env: { ...process.env, NO_COLOR: "1" } });
  stdout = run.stdout;
  status = run.status;
  expect(run.stderr).toBe("");
  sections = stdout.split(/\n(?=\d\. )/);
  log = await openLog({ dir: join(dir, "log") });
  for await (const e of log.query({})) events.push(e);
}, 300_000);

afterAll(async () => {
  await log?.close();
  root.remove();
});

const section = (n: number) => sections.find((s) => s.startsWith(`${n}. `)) ?? "";
const runOf = (agent: string) => events.filter((e) => e.agent === agent);

describe("npm start (the demo)", () => {
  it("exits 0 and prints its five parts", () => {
    expect(status, stdout).toBe(0);
    expect(sections.map((s) => s.split("\n")[0])).toEqual([
      expect.stringMatching(/^Agent OS demo {2}\(policy: standard, workspace: /),
      "1. summarize: a benign agent doing its job",
      "2. hostile: an agent trying to escape",
      "3. runaway: while (true) {} under a fuel budget",
      "4. memory-bomb: allocating forever under a 32 MiB heap",
      "5. the episodic log",
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

  it("5. the log: as many events as it says, a hash chain that verifies, the head it printed", async () => {
    const [, count, head] = /verified: (\d+) events, hash chain intact, head ([0-9a-f]{16})…/.exec(section(5)) ?? [];
    const report = await log.verify();
    expect(report).toMatchObject({ ok: true, count: Number(count) });
    expect(report.ok && report.head.startsWith(head)).toBe(true);
    expect(events).toHaveLength(Number(count));
    expect(section(5)).toContain("0 live processes, every agent ended");
  });
});

/**
 * The policy effects that act on the process, through a real kernel: `stop` denies the call
 * and SIGSTOPs the agent (state `stopped`, frozen, resumed by SIGCONT); `kill` denies it and
 * SIGKILLs the agent (status `killed`, reason `policy`; `agent-os run` exits 137). Neither
 * carries out the call, and the log says who sent the signal.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KernelSpace, type LoggedEvent } from "../../dist/runtime/index.js";
import { moduleAgent, policyWith, sleep, tempDir } from "./helpers.js";

const dir = tempDir("agent-os-effects-");
const workspace = join(dir.path, "ws");
mkdirSync(workspace);
const RULES = [
  { id: "ws", action: "fs.*", resource: "/workspace/**", effect: "allow" },
  { id: "halt", action: "fs.write", resource: "/workspace/stop-here.txt", effect: "stop", reason: "a person must look at this" },
  { id: "end", action: "fs.write", resource: "/workspace/kill-here.txt", effect: "kill", reason: "never this file" },
];
const kernel = new KernelSpace({ policy: policyWith(RULES), log: false, pool: { warm: 1 }, mounts: { "/workspace": workspace } });
afterAll(async () => {
  await kernel.close();
  dir.remove();
});

/**
 * Writes the task's file, reports what it was told, then counts (so that fuel shows whether it
 * runs), writes a second file beside it (`<task>.after`) and returns.
 */
const writer = moduleAgent(
  "writer",
  `import { fs } from "agent-os/guest";
  export async function run(task) {
    let told;
    try { await fs.write(task, "written"); told = "written"; } catch (e) { told = e.name + " " + e.rule + ": " + e.reason; }
    let sum = 0;
    for (let i = 0; i < 300000; i++) sum += i % 7;
    await fs.write(task + ".after", told);
    return told + " / " + sum;
  }`,
);

async function events(runId: string): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  for await (const e of (await kernel.log).query({ runId })) out.push(e);
  return out;
}

async function until(what: () => boolean, timeoutMs = 20_000): Promise<boolean> {
  for (let t0 = Date.now(); !what() && Date.now() - t0 < timeoutMs; ) await sleep(5);
  return what();
}

describe("effect stop", () => {
  it("denies the call and SIGSTOPs the agent: stopped and frozen until SIGCONT, then it goes on", async () => {
    const proc = kernel.spawn(writer, "/workspace/stop-here.txt");
    expect(await until(() => proc.state === "stopped")).toBe(true);
    expect(await proc.stopped(5000)).toBe(true);
    expect(kernel.ps().find((p) => p.pid === proc.pid)?.state).toBe("stopped");
    const frozen = proc.usage;
    await sleep(300);
    expect(proc.state).toBe("stopped");
    expect(proc.usage.fuel).toBe(frozen.fuel);
    expect(proc.usage.hostCalls).toBe(1);
    expect(existsSync(join(workspace, "stop-here.txt"))).toBe(false);
    expect(existsSync(join(workspace, "stop-here.txt.after"))).toBe(false);
    const whileStopped = await events(proc.runId);
    expect(whileStopped.filter((e) => e.type === "call")).toHaveLength(1);
    expect(whileStopped.filter((e) => e.type === "signal").map((e) => e.data)).toEqual([{ signal: "SIGSTOP", by: "policy (a person must look at this)" }]);

    proc.signal("SIGCONT");
    const result = await proc.wait();
    expect(result.status).toBe("ok");
    expect(result.output).toMatch(/^PermissionDenied halt: a person must look at this \/ \d+$/);
    expect(result.denials).toEqual([
      { seq: whileStopped.find((e) => e.type === "call")!.seq, action: "fs.write", resource: "/workspace/stop-here.txt", rule: "halt", reason: "a person must look at this", kind: "policy" },
    ]);
    expect(result.usage.fuel).toBeGreaterThan(frozen.fuel);
    expect(existsSync(join(workspace, "stop-here.txt"))).toBe(false);
    expect(existsSync(join(workspace, "stop-here.txt.after"))).toBe(true);
    const calls = (await events(proc.runId)).filter((e) => e.type === "call").map((e) => [(e.data as { resource: string }).resource, (e.data as { decision: { effect: string } }).decision.effect]);
    expect(calls).toEqual([
      ["/workspace/stop-here.txt", "stop"],
      ["/workspace/stop-here.txt.after", "allow"],
    ]);
  });
});

describe("effect kill", () => {
  it("denies the call and kills the agent: status killed, signal SIGKILL, reason policy, nothing after it runs", async () => {
    const result = await kernel.execute(writer, "/workspace/kill-here.txt");
    expect(result).toMatchObject({ status: "killed", signal: "SIGKILL", reason: "policy" });
    expect(result.denials).toMatchObject([{ action: "fs.write", resource: "/workspace/kill-here.txt", rule: "end", reason: "never this file", kind: "policy" }]);
    expect(result.usage.hostCalls).toBe(1);
    expect(existsSync(join(workspace, "kill-here.txt"))).toBe(false);
    expect(existsSync(join(workspace, "kill-here.txt.after"))).toBe(false);
    const log = await events(result.runId);
    expect(log.filter((e) => e.type === "call").map((e) => (e.data as { decision: { effect: string; rule: string } }).decision)).toMatchObject([{ effect: "kill", rule: "end" }]);
    expect(log.filter((e) => e.type === "result")).toEqual([]);
    expect(log.filter((e) => e.type === "signal").map((e) => e.data)).toEqual([{ signal: "SIGKILL", by: "policy" }]);
    expect(log.find((e) => e.type === "exit")?.data).toMatchObject({ status: "killed", reason: "policy", signal: "SIGKILL" });
    // The kernel goes on serving.
    expect(await kernel.execute(writer, "/workspace/fine.txt")).toMatchObject({ status: "ok" });
  });

  it("agent-os run exits 137 for an agent the policy kills, and says so", () => {
    const cliDir = join(dir.path, "cli");
    const cliWs = join(cliDir, "ws");
    mkdirSync(cliWs, { recursive: true });
    const agentFile = join(cliDir, "agent.js");
    writeFileSync(agentFile, `import { fs } from "agent-os/guest";\nexport async function run(task) { await fs.write(task, "x"); await fs.write("/workspace/after.txt", "x"); return "survived"; }\n`);
    const policyFile = join(cliDir, "policy.yaml");
    writeFileSync(
      policyFile,
      [
        "version: 1",
        "name: kill-test",
        "rules:",
        "  - { id: ws, action: fs.write, resource: /workspace/**, effect: allow }",
        "  - { id: end, action: fs.write, resource: /workspace/kill-here.txt, effect: kill, reason: never this file }",
        "",
      ].join("\n"),
    );
    const bin = new URL("../../dist/runtime/cli/bin.js", import.meta.url).pathname;
    const run = (...extra: string[]) =>
      spawnSync(process.execPath, [bin, "run", agentFile, "--policy", policyFile, "--mount", `/workspace=${cliWs}`, "--task", "/workspace/kill-here.txt", "--no-log", ...extra], {
        cwd: cliDir,
        encoding: "utf8",
        timeout: 120_000,
      });
    const plain = run();
    expect(plain.status, plain.stderr).toBe(137);
    expect(plain.stdout).not.toContain("survived");
    expect(plain.stderr).toMatch(/killed/);
    const json = run("--json");
    expect(json.status, json.stderr).toBe(137);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: "killed", signal: "SIGKILL", reason: "policy", denials: [{ rule: "end", kind: "policy" }] });
    expect(existsSync(join(cliWs, "kill-here.txt"))).toBe(false);
    expect(existsSync(join(cliWs, "after.txt"))).toBe(false);
  });
});

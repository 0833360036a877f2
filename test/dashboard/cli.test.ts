/**
 * `agent-os dashboard --log DIR`: the dashboard in a process of its own, over a log a running
 * kernel (this test's) holds: its runs and live processes from the log, signals refused with
 * the reason, held calls answered through the approvals mailbox. And its refusals: a remote host
 * without --allow-remote, no log.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDashboard } from "../../dist/runtime/cli/dashboard.js";
import { KernelSpace, type AgentProcess } from "../../dist/runtime/index.js";
import { tempDir } from "../kernel/helpers.js";
import { eventually } from "./browser.js";

const BIN = new URL("../../dist/runtime/cli/bin.js", import.meta.url).pathname;
const dir = tempDir("agent-os-dashboard-cli-");
const logDir = join(dir.path, "log");
let kernel: KernelSpace;
let child: ChildProcess | undefined;

beforeAll(() => {
  kernel = new KernelSpace({
    policy: {
      version: 1,
      name: "dashboard-cli",
      default: "deny",
      rules: [
        { id: "basics", action: ["log.write", "clock.now", "random.bytes", "process.*"], effect: "allow" },
        { id: "ask-warn", action: "log.write", resource: "warn", effect: "ask" },
      ],
    },
    log: { dir: logDir },
    pool: { warm: 1 },
    limits: { fuel: 1e13, wallTime: 600_000 },
    approvals: true,
  });
});

afterAll(async () => {
  child?.kill("SIGKILL");
  await kernel?.close();
  dir.remove();
});

function capture() {
  const out = { stdout: "", stderr: "" };
  return { out, io: { stdout: (t: string) => void (out.stdout += t), stderr: (t: string) => void (out.stderr += t), isTTY: false } };
}

/** Starts `agent-os dashboard` and resolves with its URL once it printed it. */
function startCli(args: string[]): Promise<{ url: string; base: string; token: string; stderr: () => string; exited: Promise<number | null> }> {
  const proc = spawn(process.execPath, [BIN, "dashboard", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  child = proc;
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    proc.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const url = /open (http:\/\/\S+\?token=([0-9a-f]{64}))/.exec(stderr);
      if (url) resolve({ url: url[1], base: url[1].slice(0, url[1].indexOf("?")), token: url[2], stderr: () => stderr, exited });
    });
    proc.on("exit", (code) => reject(new Error(`agent-os dashboard exited ${code}: ${stderr}`)));
  });
}

describe("agent-os dashboard", () => {
  it("refuses a host that is not loopback without --allow-remote, and a directory without a log (exit 2)", async () => {
    const remote = capture();
    expect(await runDashboard(["--host", "0.0.0.0", "--log", logDir], remote.io)).toBe(2);
    expect(remote.out.stderr).toMatch(/0\.0\.0\.0 is not a loopback address.*--allow-remote/);
    const missing = capture();
    expect(await runDashboard(["--log", join(dir.path, "nothing"), "--port", "0"], missing.io)).toBe(2);
    expect(missing.out.stderr).toMatch(/there is no log at/);
    const help = capture();
    expect(await runDashboard(["--help"], help.io)).toBe(0);
    expect(help.out.stdout).toMatch(/^Usage: agent-os dashboard/);
  });

  it("serves a log another process holds: runs, live processes, signals refused, a held call approved through the mailbox", async () => {
    const clerk = kernel.register(async function clerk(task: string) {
      return `filed ${task}`;
    } as never);
    const done = await kernel.execute(clerk, "a");
    const spinner = kernel.spawn(await kernel.load(new URL("../../examples/runaway/agent.js", import.meta.url).pathname), "spin");
    const courier = kernel.register(async function courier(task, sdk: { log: { warn(m: string): Promise<void> } }) {
      await sdk.log.warn(`shipping ${task}`);
      return `shipped ${task}`;
    } as never);
    const held: AgentProcess = kernel.spawn(courier, "box");
    await eventually(() => kernel.approvals().length, (n) => n === 1);

    const cli = await startCli(["--log", logDir, "--port", "0"]);
    expect(cli.stderr()).toContain(`serving the log at ${logDir} at ${cli.base}`);
    const auth = { authorization: `Bearer ${cli.token}` };
    const json = async (path: string, init: RequestInit = {}) => {
      const res = await fetch(cli.base + path, { ...init, headers: { ...auth, "content-type": "application/json", ...(init.headers ?? {}) } });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };
    expect((await fetch(cli.base + "api/runs")).status).toBe(401);

    const runs = await eventually(() => json("api/runs"), (r) => r.body.runs?.some((x: { runId: string; status: string }) => x.runId === done.runId && x.status === "ok"));
    expect(runs.body.runs.map((r: { runId: string }) => r.runId)).toEqual(expect.arrayContaining([done.runId, spinner.runId, held.runId]));
    const table = await json("api/processes");
    expect(table.body).toMatchObject({ mode: "log" });
    expect(table.body.live).toEqual(expect.arrayContaining([expect.objectContaining({ runId: spinner.runId, state: "live", fuel: null })]));

    const signal = await json("api/signal", { method: "POST", body: JSON.stringify({ pid: spinner.pid, signal: "SIGSTOP" }) });
    expect(signal).toMatchObject({ status: 409, body: { error: expect.stringMatching(/signals need the kernel's process/) } });
    expect(spinner.state).toBe("running");

    const approvals = await eventually(() => json("api/approvals"), (r) => r.body.pending?.length === 1);
    const [request] = approvals.body.pending;
    expect(request).toMatchObject({ runId: held.runId, action: "log.write", resource: "warn", rule: "ask-warn" });
    const approved = await json(`api/approvals/${request.id}/approve`, { method: "POST", body: JSON.stringify({ scope: "once" }) });
    expect(approved).toMatchObject({ status: 200, body: { answer: { outcome: "approved", scope: "once", by: "dashboard" } } });
    await expect(held.wait()).resolves.toMatchObject({ status: "ok", output: "shipped box" });

    spinner.signal("SIGKILL");
    child!.kill("SIGTERM");
    expect(await cli.exited).toBe(0);
    expect(cli.stderr()).toMatch(/agent-os dashboard: closed\n$/);
    expect(cli.stderr()).not.toMatch(new RegExp(`${cli.token}[\\s\\S]*${cli.token}`));
  });

  it("kernel.dashboard(): a remote host only with allowRemote (and still the token); closed with its kernel", async () => {
    const own = new KernelSpace({ log: false, pool: { warm: 1 } });
    await expect(own.dashboard({ host: "0.0.0.0", port: 0 })).rejects.toThrow(/0\.0\.0\.0 is not a loopback address/);
    await expect(own.dashboard({ port: 70_000 })).rejects.toThrow(/expected 0 to 65535/);
    const remote = await own.dashboard({ host: "0.0.0.0", port: 0, allowRemote: true });
    const base = remote.url.slice(0, remote.url.indexOf("?"));
    expect(remote.token).toMatch(/^[0-9a-f]{64}$/);
    expect((await fetch(`${base}api/info`)).status).toBe(401);
    const info = await fetch(`${base}api/info`, { headers: { authorization: `Bearer ${remote.token}` } });
    expect(await info.json()).toMatchObject({ mode: "kernel", location: "memory", policy: "strict", signals: true, approvals: false });
    await own.close();
    await expect(fetch(`${base}api/info`)).rejects.toThrow();
  });
});

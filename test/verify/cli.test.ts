/**
 * `agent-os run --verifier ... --threshold ...` as a user runs it (a real process), and
 * `agent-os log` showing the votes; the key given in the environment appears in no output.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { approve, reject, startModelServer, type ModelServer } from "./model-server.js";

// Each test starts several agent-os processes: on a loaded two-core machine that alone can take a minute.
vi.setConfig({ testTimeout: 180_000 });

const bin = new URL("../../dist/runtime/cli/bin.js", import.meta.url).pathname;
const SECRET = "sk-ant-cli-secret-5e8d2c7b1a90";
const dir = mkdtempSync(join(tmpdir(), "agent-os-cmvk-cli-"));
let server: ModelServer;

beforeAll(async () => {
  server = await startModelServer();
  writeFileSync(
    join(dir, "policy.yaml"),
    "version: 1\nname: reviewed\ndefault: deny\nrules:\n  - id: reviewed-log\n    action: log.write\n    effect: verify\n    reason: log lines are reviewed\n",
  );
  writeFileSync(
    join(dir, "agent.js"),
    `import { log } from "agent-os/guest";
export async function run(task) {
  try { await log.info(task); return "logged"; } catch (e) { return "denied: " + e.message; }
}
`,
  );
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  server.seen.length = 0;
});

/** The child's environment: the parent's without any real key, plus ANTHROPIC_API_KEY = SECRET. */
function env(): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env, ANTHROPIC_API_KEY: SECRET };
  delete out.OPENAI_API_KEY;
  return out;
}

/** Runs agent-os without blocking this process's event loop (the model server lives here). */
function agentOs(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: dir, env: env() });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const limit = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("close", (code) => {
      clearTimeout(limit);
      resolve({ code, stdout, stderr });
    });
  });
}

const verifiers = () => ["--verifier", `openai:judge-a@${server.url}/v1`, "--verifier", `anthropic:judge-c@${server.url}`];

describe("agent-os run --verifier", () => {
  it("allows the call when every verifier approves, denies it when one rejects at --threshold 1, and agent-os log shows the votes", async () => {
    server.script("judge-a", approve("a harmless log line"));
    server.script("judge-c", approve("fine"));
    const ok = await agentOs("run", "agent.js", "--policy", "policy.yaml", "--log", "logdir", "--task", "hello", ...verifiers(), "--threshold", "1");
    expect(ok).toMatchObject({ code: 0, stdout: "logged\n" });
    const claude = server.seen.find((s) => s.model === "judge-c")!;
    expect(claude.path).toBe("/v1/messages");
    expect(claude.headers["x-api-key"]).toBe(SECRET);
    expect(server.seen.find((s) => s.model === "judge-a")!.headers.authorization).toBeUndefined();

    server.script("judge-c", reject("not in the task"));
    const denied = await agentOs("run", "agent.js", "--policy", "policy.yaml", "--log", "logdir", "--task", "again", ...verifiers(), "--threshold", "1", "--json");
    expect(denied.code).toBe(0);
    const result = JSON.parse(denied.stdout) as { output: string; denials: unknown[] };
    expect(result.output).toBe("denied: denied by rule reviewed-log: log lines are reviewed: verification failed, 1 of 2 models approved (consensus 0.5, threshold 1)");
    expect(result.denials).toHaveLength(1);

    const timeline = spawnSync(process.execPath, [bin, "log", "--log", "logdir"], { cwd: dir, encoding: "utf8", timeout: 60_000 });
    expect(timeline.status).toBe(0);
    const votes = timeline.stdout.split("\n").filter((l) => l.includes("vote #"));
    expect(votes).toHaveLength(4);
    expect(votes[0]).toMatch(/openai:judge-a: approve \(0\.9\) \d+ms {2}a harmless log line$/);
    expect(votes[1]).toMatch(/anthropic:judge-c: approve \(0\.9\) \d+ms {2}fine$/);
    expect(votes[3]).toMatch(/anthropic:judge-c: reject \(0\.8\) \d+ms {2}not in the task$/);
    expect(timeline.stdout).toMatch(/call {2}log\.write {2}info {2}deny {2}reviewed-log/);

    const json = spawnSync(process.execPath, [bin, "log", "--log", "logdir", "--json"], { cwd: dir, encoding: "utf8", timeout: 60_000 });
    for (const out of [ok.stdout, ok.stderr, denied.stdout, denied.stderr, timeline.stdout, json.stdout]) expect(out).not.toContain(SECRET);
    expect(json.stdout.split("\n").filter((l) => l.includes('"type":"vote"'))).toHaveLength(4);
  });

  it("a verifier whose key is missing rejects, and the run says why in the log", async () => {
    server.script("judge-b", approve());
    const r = await agentOs("run", "agent.js", "--policy", "policy.yaml", "--log", "logdir2", "--task", "x", "--verifier", "openai:gpt-4o", "--verifier", `openai:judge-b@${server.url}/v1`, "--threshold", "0.5");
    // 1 of 2 approved reaches 0.5: the missing key is one rejection, not a veto by itself.
    expect(r).toMatchObject({ code: 0, stdout: "logged\n" });
    expect(server.seen.map((s) => s.model)).toEqual(["judge-b"]);
    const timeline = spawnSync(process.execPath, [bin, "log", "--log", "logdir2", "--type", "vote"], { cwd: dir, encoding: "utf8", timeout: 60_000 });
    expect(timeline.stdout).toMatch(/openai:gpt-4o: reject 0ms {2}no API key: the environment variable OPENAI_API_KEY is not set/);
  });

  it("exits 2 for a bad --verifier, --threshold or --verifier-timeout, naming the flag", () => {
    const cases: [string[], RegExp][] = [
      [["--verifier", "gpt-4o"], /--verifier gpt-4o: expected PROVIDER:MODEL/],
      [["--verifier", "gemini:pro"], /--verifier gemini:pro: expected PROVIDER:MODEL/],
      [["--verifier", "openai:llama3@ftp://host/v1"], /--verifier openai:llama3@ftp:\/\/host\/v1: expected/],
      [["--threshold", "1.5"], /--threshold 1\.5: expected a share of models from 0 to 1/],
      [["--threshold", "most"], /--threshold most: expected a share/],
      [["--verifier-timeout", "soon"], /--verifier-timeout soon: expected a duration/],
    ];
    for (const [flags, message] of cases) {
      const r = spawnSync(process.execPath, [bin, "run", "agent.js", "--no-log", ...flags], { cwd: dir, encoding: "utf8", timeout: 60_000, env: env() });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    const help = spawnSync(process.execPath, [bin, "run", "--help"], { cwd: dir, encoding: "utf8", timeout: 60_000 });
    expect(help.stdout).toMatch(/--verifier PROVIDER:MODEL\[@URL\]/);
    expect(help.stdout).toMatch(/--threshold SHARE/);
  });
});

/**
 * A policy `stop` no longer hangs `agent-os run` (issue 13, item 14). A real child process of
 * the command runs an agent under a policy whose rule stops it; nothing can continue it. Ctrl-C
 * (SIGINT) or SIGTERM ends the run at once, and --stop-timeout ends it on its own; each time the
 * exit code and the message say why, and the log verifies and records the agent's end.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentOs, finished, scratch, start, waitForStderr } from "./helpers.js";

/** Each test spawns the command a few times: on a loaded machine that takes long, which must not fail it. */
const SLOW_MS = 300_000;

const POLICY = `version: 1
name: stopper
default: deny
rules:
  - id: hold-logs
    action: log.write
    effect: stop
    reason: a person must look at this first
`;

// After its stopped call the agent spins: it is paused (SIGSTOP) inside the loop and never ends by itself.
const AGENT = `
import { log } from "agent-os/guest";
export async function run() {
  try { await log.info("may I?"); } catch {}
  for (;;) {}
}
`;

const STOPPED = /stopper \(pid 1\) was stopped \(SIGSTOP by policy \(a person must look at this first\)\)/;

const dir = scratch();
beforeAll(() => {
  dir.file("stopper.js", AGENT);
  dir.file("stop.yaml", POLICY);
});
afterAll(() => dir.remove());

/** The run's events as `agent-os log --json` prints them, after `agent-os verify` says ok. */
async function verifiedEvents(log: string): Promise<{ type: string; data: Record<string, unknown> }[]> {
  const verify = await agentOs(dir.path, "verify", "--log", log);
  expect(verify.stdout).toMatch(/^ok: \d+ events/);
  expect(verify.code).toBe(0);
  const events = await agentOs(dir.path, "log", "--log", log, "--json");
  return events.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> });
}

describe("agent-os run and a policy that stops the agent", { timeout: SLOW_MS }, () => {
  it.each([
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const)("%s ends the stopped run: the agent is killed, the end logged, the log closed", async (signal, code) => {
    const log = `log-${signal}`;
    const child = start(dir.path, "run", "stopper.js", "--policy", "stop.yaml", "--log", log, "--stop-timeout", "10m");
    await waitForStderr(child, STOPPED);
    expect(child.err).toMatch(/ends in 600s \(--stop-timeout\), or now with Ctrl-C/);
    child.kill(signal);
    const ran = await finished(child);
    expect(ran.code).toBe(code);
    expect(ran.stderr).toContain(`agent-os: interrupted (${signal}): stopper (pid 1) was killed; its end is in the log, which is closed`);
    const events = await verifiedEvents(log);
    expect(events.map((e) => e.type)).toEqual(["spawn", "call", "signal", "signal", "exit"]);
    expect(events[2].data).toMatchObject({ signal: "SIGSTOP", by: "policy (a person must look at this first)" });
    expect(events[3].data).toMatchObject({ signal: "SIGKILL", by: `agent-os run (${signal})` });
    expect(events[4].data).toMatchObject({ status: "killed", reason: "signal", signal: "SIGKILL" });
  });

  it("--stop-timeout ends a run stopped that long, with a status that says why", async () => {
    const ran = await agentOs(dir.path, "run", "stopper.js", "--policy", "stop.yaml", "--log", "log-timeout", "--stop-timeout", "1500");
    expect(ran.code).toBe(137);
    expect(ran.stderr).toMatch(STOPPED);
    expect(ran.stderr).toContain(
      "agent-os: stopper (pid 1) killed by SIGKILL (policy): stopped and not continued within the stop timeout of 1500ms (--stop-timeout)",
    );
    const events = await verifiedEvents("log-timeout");
    expect(events.map((e) => e.type)).toEqual(["spawn", "call", "signal", "signal", "exit"]);
    expect(events[3].data).toMatchObject({ signal: "SIGKILL", by: "agent-os run (stop timeout of 1500ms)" });
    expect(events[4].data).toMatchObject({ status: "killed", reason: "policy" });
  });

  it("refuses a stop timeout that is not a duration", async () => {
    const ran = await agentOs(dir.path, "run", "stopper.js", "--stop-timeout", "soon", "--no-log");
    expect(ran.code).toBe(2);
    expect(ran.stderr).toMatch(/--stop-timeout soon: expected a duration/);
  });
});

/**
 * `agent-os policy diff OLD NEW --log DIR`: the command as a user runs it (a child process, real
 * exit codes) on a log a real kernel wrote while running real agents, also while a kernel holds it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelSpace } from "../../dist/runtime/index.js";
import { recordBacktestLog, type BacktestLog } from "../policy/backtest-log.js";
import { agentOs } from "./helpers.js";

let recorded: BacktestLog;
let cwd: string;

beforeAll(async () => {
  recorded = await recordBacktestLog("agent-os-policy-diff-");
  cwd = recorded.world.dir;
}, 60_000);

afterAll(async () => {
  await recorded?.remove();
});

const diff = (...args: string[]) => agentOs(cwd, "policy", "diff", ...args);

describe("agent-os policy diff", () => {
  it("prints the calls whose effect changes, grouped by the rule that decides them now; exit 1", async () => {
    const out = await diff("prod.yaml", "next.yaml", "--log", "log");
    expect(out.stderr).toBe("");
    expect(out.code).toBe(1);
    const origin = recorded.world.origin;
    const { oldFetcher, fetcher, writer } = recorded.runs;
    expect(out.stdout.split("\n")).toEqual([
      "prod.yaml (prod) -> next.yaml (next): 5 of 10 calls in 3 runs change effect",
      "",
      "rule no-items (deny): 4 calls",
      expect.stringMatching(new RegExp(`^  run ${oldFetcher.runId} agent fetcher #\\d+  http\\.fetch GET ${origin}/v1/items\\?page=1  allow by api -> deny$`)),
      expect.stringMatching(new RegExp(`^  run ${oldFetcher.runId} agent fetcher #\\d+  http\\.fetch GET ${origin}/v1/items\\?page=2  allow by api -> deny$`)),
      expect.stringMatching(new RegExp(`^  run ${fetcher.runId} agent fetcher #\\d+  http\\.fetch GET ${origin}/v1/items\\?page=1  allow by api -> deny$`)),
      expect.stringMatching(new RegExp(`^  run ${fetcher.runId} agent fetcher #\\d+  http\\.fetch GET ${origin}/v1/items\\?page=2  allow by api -> deny$`)),
      "",
      "rule no-report (deny): 1 call",
      expect.stringMatching(new RegExp(`^  run ${writer.runId} agent writer #\\d+  fs\\.write /workspace/report\\.txt  allow by workspace -> deny$`)),
      "",
    ]);
  });

  it("exit 0 when nothing changes", async () => {
    const out = await diff("prod.yaml", "harmless.yaml", "--log", "log");
    expect(out).toMatchObject({ code: 0, stderr: "", stdout: "prod.yaml (prod) -> harmless.yaml (harmless): no call changes effect (10 calls in 3 runs)\n" });
    expect((await diff("next.yaml", "next.yaml", "--log", "log")).code).toBe(0);
  });

  it("--since takes a duration and selects the runs spawned since; --run and --agent select too", async () => {
    const week = await diff("prod.yaml", "next.yaml", "--log", "log", "--since", "7d");
    expect(week.code).toBe(1);
    expect(week.stdout).toContain("3 of 6 calls in 2 runs change effect");
    expect(week.stdout).not.toContain(recorded.runs.oldFetcher.runId);
    expect((await diff("prod.yaml", "next.yaml", "--log", "log", "--since", "12h")).stdout).toContain("in 2 runs");
    expect((await diff("prod.yaml", "next.yaml", "--log", "log", "--since", "30m")).stdout).toContain("in 2 runs");
    expect((await diff("prod.yaml", "next.yaml", "--log", "log", "--since", "15d")).stdout).toContain("in 3 runs");
    const one = await diff("prod.yaml", "next.yaml", "--log", "log", "--run", recorded.runs.writer.runId);
    expect(one).toMatchObject({ code: 1, stdout: expect.stringContaining("1 of 2 calls in 1 run change effect") });
    const two = await diff("prod.yaml", "next.yaml", "--log", "log", "--run", recorded.runs.writer.runId, "--run", recorded.runs.oldFetcher.runId);
    expect(two.stdout).toContain("3 of 6 calls in 2 runs");
    const writerOnly = await diff("prod.yaml", "harmless.yaml", "--log", "log", "--agent", "writer");
    expect(writerOnly).toMatchObject({ code: 0, stdout: expect.stringContaining("(2 calls in 1 run)") });
  });

  it("--json prints the report", async () => {
    const out = await diff("prod.yaml", "next.yaml", "--log", "log", "--since", "7d", "--json");
    expect(out.code).toBe(1);
    const report = JSON.parse(out.stdout);
    expect(report).toMatchObject({ policy: { name: "next" }, baseline: { name: "prod" }, runs: 2, calls: 6 });
    expect(report.changed).toHaveLength(3);
    expect(report.changed[0]).toMatchObject({
      runId: recorded.runs.fetcher.runId,
      agent: "fetcher",
      seq: expect.any(Number),
      action: "http.fetch",
      method: "GET",
      resource: `${recorded.world.origin}/v1/items?page=1`,
      before: { effect: "allow", rule: "api" },
      after: { effect: "deny", rule: "no-items" },
    });
    expect(report.byRule.map((g: { rule: string; effect: string; calls: unknown[] }) => [g.rule, g.effect, g.calls.length])).toEqual([
      ["no-items", "deny", 2],
      ["no-report", "deny", 1],
    ]);
    const none = JSON.parse((await diff("prod.yaml", "harmless.yaml", "--log", "log", "--json")).stdout);
    expect(none).toMatchObject({ runs: 3, calls: 10, changed: [], byRule: [] });
  });

  it("exit 2 with the file, line and column for a policy that does not load, old or new", async () => {
    const where = `broken.yaml:${recorded.brokenLine}:${recorded.brokenColumn}`;
    for (const args of [["prod.yaml", "broken.yaml"], ["broken.yaml", "next.yaml"]]) {
      const out = await diff(...args, "--log", "log");
      expect(out.code).toBe(2);
      expect(out.stdout).toBe("");
      expect(out.stderr).toContain("broken.yaml: the policy does not load (1 problem)");
      expect(out.stderr).toContain(`${where}: rules[3].effect: unknown effect "alow"`);
    }
    const missing = await diff("prod.yaml", "nope.yaml", "--log", "log");
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringContaining("nope.yaml") });
  });

  it("exit 2 for usage errors: flags, arguments, no log, an unknown run", async () => {
    expect((await diff("prod.yaml", "--log", "log")).code).toBe(2);
    expect((await diff("prod.yaml", "next.yaml", "--log", "log", "--bogus")).code).toBe(2);
    const since = await diff("prod.yaml", "next.yaml", "--log", "log", "--since", "seven days");
    expect(since).toMatchObject({ code: 2, stderr: expect.stringContaining("--since") });
    expect(await diff("prod.yaml", "next.yaml", "--log", "nowhere")).toMatchObject({ code: 2, stderr: expect.stringContaining("there is no log at nowhere") });
    expect(await diff("prod.yaml", "next.yaml", "--log", "log", "--run", "no-such-run")).toMatchObject({ code: 2, stderr: expect.stringContaining("no run no-such-run") });
  });

  it("--help describes the command and its exit codes; policy --help lists it", async () => {
    const help = await diff("--help");
    expect(help).toMatchObject({ code: 0, stdout: expect.stringContaining("Usage: agent-os policy diff <old> <new>") });
    expect(help.stdout).toContain("Exit codes: 0 no call changes effect, 1 some do, 2");
    expect((await agentOs(cwd, "policy", "--help")).stdout).toContain("agent-os policy diff <old> <new> [options]");
  });

  it("reads the log while a running kernel holds it", async () => {
    const kernel = new KernelSpace({ policy: recorded.prod, log: { dir: recorded.world.logDir }, mounts: { "/workspace": recorded.world.workspace }, pool: { warm: 0 } });
    try {
      // The kernel has the log open (and locked) once it has run something.
      await kernel.execute(kernel.register((async () => "held") as never, { name: "holder" }), "");
      const out = await diff("prod.yaml", "next.yaml", "--log", "log");
      expect(out.stderr).toBe("");
      expect(out.code).toBe(1);
      expect(out.stdout).toContain("5 of 10 calls in 4 runs change effect");
    } finally {
      await kernel.close();
    }
  });
});

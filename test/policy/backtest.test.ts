/**
 * The policy editor's library: backtestPolicy on a log a real kernel wrote while running real
 * agents, checkPolicyText as the loader reports problems, and explainRequest on plain requests.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openLogReader } from "../../dist/runtime/hosts/node/log/reader.js";
import {
  PolicyError,
  ReplayError,
  UsageError,
  backtestPolicy,
  checkPolicyText,
  explainRequest,
  loadPolicy,
  resolvePolicy,
  type BacktestReport,
  type KernelLog,
} from "../../dist/runtime/index.js";
import { DAY, recordBacktestLog, type BacktestLog } from "./backtest-log.js";

let recorded: BacktestLog;
let log: KernelLog;

beforeAll(async () => {
  recorded = await recordBacktestLog();
  log = await openLogReader(recorded.world.logDir);
}, 60_000);

afterAll(async () => {
  await log?.close();
  await recorded?.remove();
});

/** One line per change: "agent #seq action resource before(rule) -> after(rule)". */
function lines(report: BacktestReport): string[] {
  return report.changed.map((c) => `${c.agent} ${c.action}${c.method ? ` ${c.method}` : ""} ${c.resource.replace(recorded.world.origin, "ORIGIN")} ${c.before.effect}(${c.before.rule}) -> ${c.after.effect}(${c.after.rule})`);
}

describe("backtestPolicy", () => {
  it("recorded three runs under prod, every call allowed", () => {
    expect(Object.values(recorded.runs).map((r) => [r.status, r.error ?? r.output])).toEqual([["ok", "fetched"], ["ok", "fetched"], ["ok", "written"]]);
  });

  it("lists the allowed http and fs calls the new policy denies, grouped by the rule that denies them", async () => {
    const report = await backtestPolicy(log, { policy: recorded.next, baseline: recorded.prod });
    expect(report).toMatchObject({ policy: { name: "next" }, baseline: { name: "prod" }, runs: 3 });
    const fetches = "fetcher http.fetch GET ORIGIN/v1/items?page=";
    expect(lines(report)).toEqual([
      `${fetches}1 allow(api) -> deny(no-items)`,
      `${fetches}2 allow(api) -> deny(no-items)`,
      `${fetches}1 allow(api) -> deny(no-items)`,
      `${fetches}2 allow(api) -> deny(no-items)`,
      "writer fs.write /workspace/report.txt allow(workspace) -> deny(no-report)",
    ]);
    expect(report.byRule.map((g) => [g.rule, g.effect, g.calls.length])).toEqual([
      ["no-items", "deny", 4],
      ["no-report", "deny", 1],
    ]);
    expect(report.byRule[0].calls.map((c) => c.runId)).toEqual([recorded.runs.oldFetcher.runId, recorded.runs.oldFetcher.runId, recorded.runs.fetcher.runId, recorded.runs.fetcher.runId]);
    expect(report.changed[4]).toMatchObject({ runId: recorded.runs.writer.runId, agent: "writer", after: { reason: expect.any(String) } });
    // Every call of the three runs was decided: 4 + 4 + 2 host calls.
    expect(report.perRun.map((r) => [r.agent, r.calls, r.changed, r.recordedPolicy.name])).toEqual([
      ["fetcher", 4, 2, "prod"],
      ["fetcher", 4, 2, "prod"],
      ["writer", 2, 1, "prod"],
    ]);
    expect(report.calls).toBe(10);
    expect(report.changed[0].time).toBeLessThan(Date.now() - 9 * DAY);
  });

  it("compares with the recorded decisions by default, and takes the policy as text naming its file", async () => {
    const report = await backtestPolicy(log, { policy: recorded.nextText, file: "next.yaml" });
    expect(report.baseline).toBeNull();
    expect(lines(report)).toEqual(lines(await backtestPolicy(log, { policy: recorded.next, baseline: recorded.prod })));
    expect(report.byRule[0].calls[0].before).toEqual({ effect: "allow", rule: "api" });
  });

  it("reports nothing for a change that no recorded call meets, or for the same policy", async () => {
    const harmless = await backtestPolicy(log, { policy: recorded.harmless, baseline: recorded.prod });
    expect(harmless).toMatchObject({ runs: 3, calls: 10, changed: [], byRule: [] });
    expect((await backtestPolicy(log, { policy: recorded.prod })).changed).toEqual([]);
  });

  it("selects runs by time, id and agent", async () => {
    const recent = await backtestPolicy(log, { policy: recorded.next, since: new Date(Date.now() - 7 * DAY) });
    expect(recent.perRun.map((r) => r.runId)).toEqual([recorded.runs.fetcher.runId, recorded.runs.writer.runId]);
    expect(recent.changed).toHaveLength(3);
    const byMs = await backtestPolicy(log, { policy: recorded.next, since: Date.now() - 7 * DAY, agent: "fetcher" });
    expect(byMs.perRun.map((r) => r.runId)).toEqual([recorded.runs.fetcher.runId]);
    const byId = await backtestPolicy(log, { policy: recorded.next, runIds: [recorded.runs.writer.runId, recorded.runs.oldFetcher.runId, recorded.runs.writer.runId] });
    expect(byId.perRun.map((r) => r.runId)).toEqual([recorded.runs.oldFetcher.runId, recorded.runs.writer.runId]);
    // An id and a time: both must hold.
    const both = await backtestPolicy(log, { policy: recorded.next, runIds: [recorded.runs.oldFetcher.runId], since: Date.now() - 7 * DAY });
    expect(both).toMatchObject({ runs: 0, calls: 0, changed: [] });
  });

  it("counts rate limits at the recorded times, each run in its own windows", async () => {
    const limited = recorded.prodText.replace("name: prod", "name: limited").replace("    action: http.fetch\n", "    action: http.fetch\n    rate: 1/minute\n");
    const report = await backtestPolicy(log, { policy: limited, baseline: recorded.prod });
    // The second and third fetch of each fetcher run come within a minute of its first.
    expect(report.perRun.map((r) => r.changed)).toEqual([2, 2, 0]);
    expect(report.changed.every((c) => c.after.effect === "deny" && /rate-limit/.test(c.after.reason))).toBe(true);
  });

  it("fails closed: a policy that does not load, an unknown run, bad options", async () => {
    const error = await backtestPolicy(log, { policy: recorded.broken }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PolicyError);
    expect((error as PolicyError).problems[0]).toMatchObject({ line: recorded.brokenLine, column: recorded.brokenColumn, field: "rules[3].effect" });
    expect((error as PolicyError).message).toContain(`broken.yaml:${recorded.brokenLine}:${recorded.brokenColumn}`);
    await expect(backtestPolicy(log, { policy: recorded.next, baseline: recorded.broken })).rejects.toBeInstanceOf(PolicyError);
    await expect(backtestPolicy(log, { policy: recorded.next, runIds: ["no-such-run"] })).rejects.toBeInstanceOf(ReplayError);
    await expect(backtestPolicy(log, { policy: recorded.next, since: Number.NaN })).rejects.toBeInstanceOf(UsageError);
    await expect(backtestPolicy(log, {} as never)).rejects.toBeInstanceOf(UsageError);
  });
});

describe("checkPolicyText", () => {
  const good = "version: 1\nrules:\n  - action: fs.read\n    resource: /workspace/**\n    effect: allow\n";

  it("is empty for a policy that loads, built-ins extended included", () => {
    expect(checkPolicyText(good)).toEqual([]);
    expect(checkPolicyText("extends: [standard]\n" + good.slice("version: 1\n".length))).toEqual([]);
  });

  it("places a YAML syntax error at its line and column", () => {
    const duplicate = checkPolicyText("version: 1\nrules:\n  - action: fs.read\n    effect: allow\n    effect: deny\n", { file: "team.yaml" });
    expect(duplicate).toEqual([{ file: "team.yaml", line: 5, column: 5, message: "invalid YAML: Map keys must be unique" }]);
    const tab = checkPolicyText("version: 1\nrules:\n  - action: fs.read\n\teffect: allow\n");
    expect(tab).toEqual([{ file: "<inline>", line: 4, column: 1, message: expect.stringContaining("invalid YAML: Tabs") }]);
  });

  it("places a schema error at the bad field's value, and an unknown field at its key", () => {
    const text = "version: 1\nrules:\n  - action: fs.read\n    resource: /x\n    effect: alow\n  - action: fs.write\n    resorce: /y\n    effect: deny\n";
    const problems = checkPolicyText(text, { file: "team.yaml" });
    expect(problems).toEqual([
      expect.objectContaining({ file: "team.yaml", line: 5, column: 13, field: "rules[0].effect", message: expect.stringContaining('unknown effect "alow"') }),
      expect.objectContaining({ file: "team.yaml", line: 7, column: 5, field: "rules[1].resorce", message: expect.stringContaining('unknown field "resorce"') }),
    ]);
    // Exactly what the loader reports.
    let thrown: unknown;
    try {
      loadPolicy(text, { file: "team.yaml" });
    } catch (e) {
      thrown = e;
    }
    expect((thrown as PolicyError).problems).toEqual(problems);
  });

  it("never throws, whatever it is given", () => {
    for (const input of [undefined, null, 42, {}, "", "team.yaml", "- a\n- b\n", "a: *nope\n", "[".repeat(10_000)]) {
      const problems = checkPolicyText(input as never);
      expect(Array.isArray(problems)).toBe(true);
      expect(problems.length).toBeGreaterThan(0);
      for (const p of problems) expect(typeof p.message).toBe("string");
    }
    expect(checkPolicyText(good, null as never)).toEqual([]);
  });

  it("follows extends by path only through readPolicy", () => {
    const child = "extends: [./base.yaml]\nrules:\n  - action: fs.write\n    resource: /prod/**\n    effect: deny\n";
    expect(checkPolicyText(child)[0].message).toContain("cannot read");
    const read = (ref: string) => {
      if (ref !== "base.yaml") throw new Error(`no ${ref}`);
      return good;
    };
    expect(checkPolicyText(child, { readPolicy: read })).toEqual([]);
    const badParent = checkPolicyText(child, { readPolicy: () => "rules:\n  - action: fs.read\n    effect: alow\n" });
    expect(badParent[0]).toMatchObject({ file: "base.yaml", line: 3, column: 13 });
  });
});

describe("explainRequest", () => {
  it("decides and explains a request given as plain data, as agent-os policy explain does", () => {
    const next = resolvePolicy(recorded.next);
    const http = explainRequest(next, { action: "http.fetch", resource: `${recorded.world.origin}/v1/items?page=3`, method: "get" });
    expect(http.decision).toMatchObject({ effect: "deny", rule: "no-items" });
    expect(http.request.method).toBe("GET");
    expect(http.matched.map((r) => r.id)).toEqual(["api", "no-items"]);
    const fs = explainRequest(next, { action: "file_write", resource: "/workspace/./report.txt" });
    expect(fs.decision).toMatchObject({ effect: "deny", rule: "no-report" });
    expect(fs.request).toMatchObject({ action: "fs.write", resource: "/workspace/report.txt" });
  });

  it("takes SQL as text (operations guessed, or given) or as facts", () => {
    const strict = resolvePolicy("strict");
    const guessed = explainRequest(strict, { action: "sql", resource: "main", sql: "select 1; drop table x" });
    expect(guessed).toMatchObject({ decision: { effect: "deny", rule: "strict-sql-destructive" }, guessedOperations: true });
    const given = explainRequest(strict, { action: "sql.query", resource: "main", sql: "select 1", operations: ["select"] });
    expect(given.guessedOperations).toBeUndefined();
    const facts = explainRequest(strict, { action: "sql.query", resource: "main", sql: given.request.sql! });
    expect(facts.decision).toEqual(given.decision);
  });

  it("refuses an unknown action or a resource that cannot be canonical", () => {
    const strict = resolvePolicy("strict");
    expect(() => explainRequest(strict, { action: "fs.wirte", resource: "/x" })).toThrow(UsageError);
    expect(() => explainRequest(strict, { action: "fs.read", resource: "relative" })).toThrow(UsageError);
    expect(() => explainRequest(strict, {} as never)).toThrow(UsageError);
  });
});

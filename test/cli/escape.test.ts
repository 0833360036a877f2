/**
 * Agent text on the operator's terminal (issue 13, item 18). A real agent, run by the real
 * command, puts newlines with forged timeline lines, an OSC title sequence, a C1 CSI, bidi
 * controls, a line separator, CR and DEL into every string that reaches human-readable output:
 * an fs path, a checkpoint label, a database name, a log message, its output and its error.
 * `agent-os run`, `log`, `replay`, `replay --checkpoint` and `replay --policy` must print exactly
 * their own lines, with those characters escaped; `--json` must give the exact strings back.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPolicy } from "../../dist/runtime/policy/index.js";
import { agentOs, scratch } from "./helpers.js";

/** Each test spawns the command a few times: on a loaded machine that takes long, which must not fail it. */
const SLOW_MS = 300_000;

const FORGED_LINE = "2025-01-01T00:00:00.000Z  #99  pid 1  trusted-agent  call  fs.write  /prod/db  allow  ops-approved";
const RAW = {
  forged: `\n${FORGED_LINE}`,
  title: "\x1b]0;pwned\x07",
  csi: "\u009b2J",
  bidi: "\u202etxt.exe\u202c",
  ls: "\u2028",
};
/** The same, as the terminal must show them (written by hand: the oracle is not the escaper). */
const SHOWN = {
  forged: `\\n${FORGED_LINE}`,
  title: "\\x1b]0;pwned\\x07",
  csi: "\\x9b2J",
  bidi: "\\u202etxt.exe\\u202c",
  ls: "\\u2028",
};
const NAME = `x${RAW.forged}${RAW.title}${RAW.csi}${RAW.bidi}${RAW.ls}\r\x7f`;
const NAME_SHOWN = `x${SHOWN.forged}${SHOWN.title}${SHOWN.csi}${SHOWN.bidi}${SHOWN.ls}\\r\\x7f`;
const LABEL = `label${RAW.forged}${RAW.title}${RAW.bidi}`;
const LABEL_SHOWN = `label${SHOWN.forged}${SHOWN.title}${SHOWN.bidi}`;

const AGENT = `
import { fs, log, process as proc, sql } from "agent-os/guest";
const NAME = ${JSON.stringify(NAME)};
const LABEL = ${JSON.stringify(LABEL)};
const R = ${JSON.stringify(RAW)};
export async function run(task) {
  try { await fs.readText("/w/" + NAME); } catch {}
  await proc.checkpoint(LABEL);
  try { await sql.query("db" + R.forged + R.title, "SELECT 1"); } catch {}
  await log.info("message" + R.forged + R.title, { k: R.bidi });
  if (task === "fail") throw new Error("boom" + R.forged + R.title + R.bidi);
  return "first line\\nsecond" + R.title + R.csi + R.bidi + "\\r" + "overwritten";
}
`;

const POLICY = `version: 1
name: forge-test
default: deny
rules:
  - id: basics
    action: [log.write, "process.*", clock.now, random.bytes]
    effect: allow
  - id: workspace
    action: "fs.*"
    resource: "/w/**"
    effect: allow
  - id: any-db
    action: sql.query
    effect: allow
`;

/** Nothing a terminal acts on: no C0 but newline, no DEL, no C1, no bidi or other format character, no separators. */
function expectInert(text: string, what: string): void {
  expect(text, what).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\u2028\u2029\ufeff]/);
}

const dir = scratch();
let runId: string;
let failed: { code: number | null; stdout: string; stderr: string };

beforeAll(async () => {
  mkdirSync(join(dir.path, "ws"));
  dir.file("forge.js", AGENT);
  dir.file("forge.yaml", POLICY);
  failed = await agentOs(dir.path, "run", "forge.js", "--task", "fail", "--policy", "forge.yaml", "--mount", "/w=ws", "--log", "L");
  const spawns = await agentOs(dir.path, "log", "--log", "L", "--type", "spawn", "--json");
  runId = (JSON.parse(spawns.stdout.split("\n")[0]) as { runId: string }).runId;
}, SLOW_MS);
afterAll(() => dir.remove());

describe("agent text reaches the terminal escaped", { timeout: SLOW_MS }, () => {
  it("run: an agent's error is one escaped line", () => {
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe("");
    expect(failed.stderr).toBe(`agent-os: forge (pid 1) failed: Error: boom${SHOWN.forged}${SHOWN.title}${SHOWN.bidi}\n`);
  });

  it("run: an agent's output keeps its own lines, every other control escaped", async () => {
    const ok = await agentOs(dir.path, "run", "forge.js", "--task", "ok", "--policy", "forge.yaml", "--mount", "/w=ws", "--no-log");
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(`first line\nsecond${SHOWN.title}${SHOWN.csi}${SHOWN.bidi}\\roverwritten\n`);
  });

  it("log: one line per event, the forged path, label and database escaped; --json gives them exactly", async () => {
    const json = await agentOs(dir.path, "log", "--log", "L", "--run", runId, "--json");
    expect(json.code).toBe(0);
    expectInert(json.stdout, "log --json");
    const events = json.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> });
    const resources = events.filter((e) => e.type === "call").map((e) => e.data.resource);
    expect(resources).toEqual(expect.arrayContaining([`/w/${NAME}`, `db${RAW.forged}${RAW.title}`, "info"]));
    expect(events.find((e) => e.type === "checkpoint")?.data.label).toBe(LABEL);

    const text = await agentOs(dir.path, "log", "--log", "L", "--run", runId);
    expect(text.code).toBe(0);
    expectInert(text.stdout, "log");
    const lines = text.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(events.length);
    for (const line of lines) expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z  #\d+  pid 1  forge  (spawn|call|result|checkpoint|exit|signal)\b/);
    expect(lines).toContainEqual(expect.stringMatching(/  call  fs\.read  /));
    expect(text.stdout).toContain(`fs.read  /w/${NAME_SHOWN}  allow  workspace`);
    expect(text.stdout).toContain(`checkpoint  ${LABEL_SHOWN}`);
    expect(text.stdout).toContain(`sql.query  db${SHOWN.forged}${SHOWN.title}  allow  any-db`);
  });

  it("replay: one line per replayed call, escaped", async () => {
    const r = await agentOs(dir.path, "replay", runId, "--log", "L");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expectInert(r.stdout, "replay");
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^identical: run /);
    for (const line of lines.slice(1)) expect(line).toMatch(/^  #\d+  [a-z.-]+ /);
    expect(r.stdout).toContain(`fs.read /w/${NAME_SHOWN}  allow (workspace)`);
  });

  it("replay --checkpoint: stopped at the forged label, on one line", async () => {
    const r = await agentOs(dir.path, "replay", runId, "--checkpoint", LABEL, "--log", "L");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expectInert(r.stdout, "replay --checkpoint");
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^stopped at checkpoint "label\\n2025-01-01T00:00:00\.000Z  #99 .*\(event #\d+\): run /);
    for (const line of lines.slice(1)) expect(line).toMatch(/^(  #\d+  [a-z.-]+ |pending: #\d+  |  but the replayed agent asked for: )/);
  });

  it("replay --policy: the decisions that change, one line each, escaped", async () => {
    const r = await agentOs(dir.path, "replay", runId, "--policy", "strict", "--log", "L");
    expect(r.code).toBe(1);
    expectInert(r.stdout, "replay --policy");
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^run .* decided again under strict: \d+ of \d+ decisions would change$/);
    // One line per change, then (the forged database does not exist, so its statement was never
    // analyzed) the count of SQL decisions made without the statement's facts.
    expect(lines.at(-1)).toMatch(/^1 SQL decision was made without the statement's facts /);
    for (const line of lines.slice(1, -1)) expect(line).toMatch(/^  #\d+  [a-z.-]+ .* -> (deny|allow|audit|verify|stop|kill) by /);
    expect(r.stdout).toContain(`fs.read /w/${NAME_SHOWN}  allow by workspace -> deny by`);
  });

  it("policy suggest: the YAML on the terminal is inert, and means exactly the forged path", async () => {
    // ESC c resets the terminal; no glob characters here (suggest writes names as globs).
    const name = `y${RAW.forged}\x1bc${RAW.csi}${RAW.bidi}${RAW.ls}\x7f`;
    dir.file("reader.js", `import { fs } from "agent-os/guest";\nexport async function run() { try { await fs.readText(${JSON.stringify(`/w/${name}`)}); } catch {} return "done"; }\n`);
    const ran = await agentOs(dir.path, "run", "reader.js", "--policy", "audit", "--mount", "/w=ws", "--log", "S");
    expect(ran.code, ran.stderr).toBe(0);
    const spawned = await agentOs(dir.path, "log", "--log", "S", "--type", "spawn", "--json");
    const r = await agentOs(dir.path, "policy", "suggest", (JSON.parse(spawned.stdout) as { runId: string }).runId, "--log", "S");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expectInert(r.stdout, "policy suggest");
    const decide = (resource: string) => loadPolicy(r.stdout).decide({ action: "fs.read", resource, agent: "reader", pid: 1 }).effect;
    expect(decide(`/w/${name}`)).toBe("allow");
    expect(decide("/w/y")).toBe("deny");
  });
});

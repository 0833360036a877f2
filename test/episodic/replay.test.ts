/**
 * Replay against real recordings: runs recorded by a kernel with a LevelDB log, a real workspace,
 * a real SQLite database and a real HTTP server on 127.0.0.1, then replayed by another kernel that
 * has none of them to act on (it only reads the database's schema, to tell refused statements).
 */
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../dist/runtime/cli/main.js";
import type { CliIo } from "../../dist/runtime/cli/io.js";
import { sqlAnalyzer } from "../../dist/runtime/cli/replay.js";
import { openLogReader } from "../../dist/runtime/hosts/node/log/reader.js";
import { KernelSpace, ReplayError, bundleModule, openLog, redecideRun, type KernelLog, type LoggedEvent, type RunResult } from "../../dist/runtime/index.js";
import { editRecord, makeWorld, sha256, type World } from "./world.js";

const START = Date.parse("2026-01-15T10:00:00Z");

// Registered agents: their sources are what the kernel hashes and stores.
async function clocky(url: string, { fs, http }: any) {
  const t = Date.now();
  const r = Math.random();
  const bytes = Array.from(crypto.getRandomValues(new Uint8Array(4)));
  const notes = await fs.readText("/workspace/notes.txt");
  const response = await http.fetch(url);
  return JSON.stringify({ t, r, bytes, notes: notes.length, body: response.json() });
}

async function branchy(_task: string, { fs }: any) {
  const mode = (await fs.readText("/workspace/mode.txt")).trim();
  if (mode === "a") {
    await fs.write("/workspace/a.txt", "chose a\n");
    return "a";
  }
  return "b:" + (await fs.readText("/workspace/b.txt"));
}

async function steps(_task: string, { fs, log, process }: any) {
  await log.info("one");
  await process.checkpoint("half");
  const text = await fs.readText("/workspace/notes.txt");
  await log.info("two", { n: text.length });
  return "done";
}

function capture(): CliIo & { out: string; err: string } {
  const io = { out: "", err: "", isTTY: false, stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
  return io;
}

async function collect(events: AsyncIterable<LoggedEvent>): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

let world: World;
let policyFile: string;
let runs: Record<string, RunResult>;
let log: KernelLog;
let replayer: KernelSpace;

const EXAMPLES: [name: string, task: string, limits?: Record<string, number>][] = [
  ["hello", "world"],
  ["summarize", "/workspace/notes.txt"],
  ["hostile", ""],
  ["runaway", "", { fuel: 20_000_000 }],
  ["memory-bomb", "", { memory: 16 * 1024 * 1024 }],
];

beforeAll(async () => {
  world = await makeWorld();
  writeFileSync(join(world.workspace, "mode.txt"), "a\n");
  policyFile = join(world.dir, "policy.yaml");
  writeFileSync(
    policyFile,
    `version: 1\nname: replay-test\nextends: [standard]\nrules:\n  - id: local-api\n    action: http.fetch\n    resource: "${world.origin}/**"\n    effect: allow\n`,
  );
  let t = START;
  const kernel = new KernelSpace({
    policy: policyFile,
    log: { dir: world.logDir },
    mounts: { "/workspace": world.workspace },
    databases: { main: world.dbFile },
    allowPrivate: ["127.0.0.1"],
    pool: { warm: 1 },
    now: () => (t += 1000),
  });
  runs = {};
  try {
    for (const [name, task, limits] of EXAMPLES) {
      runs[name] = await kernel.execute(await kernel.load(`examples/${name}/agent.js`), task, { limits });
    }
    runs.clocky = await kernel.execute(kernel.register(clocky as never), `${world.origin}/items/1`);
    runs.branchy = await kernel.execute(kernel.register(branchy as never), "");
    runs.steps = await kernel.execute(kernel.register(steps as never), "");
  } finally {
    await kernel.close();
  }
  log = await openLogReader(world.logDir);
  replayer = new KernelSpace({ log: false, databases: { main: world.dbFile }, pool: { warm: 1 } });
}, 60_000);

afterAll(async () => {
  await replayer?.close();
  await log?.close();
  await world?.remove();
});

describe("recording", () => {
  it("ran the agents as expected", () => {
    expect(runs.hello).toMatchObject({ status: "ok", output: "Hello from an isolate: world" });
    expect(runs.summarize.status).toBe("ok");
    expect(runs.hostile.status).toBe("ok");
    expect(runs.runaway).toMatchObject({ status: "killed", reason: "fuel" });
    expect(runs["memory-bomb"]).toMatchObject({ status: "error", reason: "memory" });
    expect(runs.clocky.status).toBe("ok");
    expect(runs.branchy.output).toBe("a");
    expect(runs.steps.output).toBe("done");
  });

  it("the spawn event records the content hash of the agent's code (its bundle), and the log holds the code", async () => {
    const [spawn] = await collect(log.query({ runId: runs.hello.runId, type: "spawn" }));
    const { code } = await bundleModule("examples/hello/agent.js", { cache: false });
    expect(spawn.data).toMatchObject({ engine: "quickjs", kind: "module", codeHash: sha256(code), task: "world", policy: { name: "replay-test" } });
    expect(new TextDecoder().decode(await log.getBlob(sha256(code)))).toBe(code);
    expect(code).toContain("return `Hello from an isolate: ${task}`;");
  });
});

describe("replay", () => {
  it.each(EXAMPLES.map(([name]) => name))("replays the %s example identically", async (name) => {
    const run = runs[name];
    const report = await replayer.replay({ runId: run.runId, log });
    expect(report.status).toBe("identical");
    expect(report.divergence).toBeUndefined();
    expect(report.output).toBe(run.output);
    expect(report.replayed).toMatchObject({ status: run.status });
    const calls = await collect(log.query({ runId: run.runId, type: "call" }));
    expect(report.events.map((e) => e.seq)).toEqual(calls.filter((c) => c.data.redirect !== true).map((c) => c.seq));
  });

  it("answers the clock, randomness, files and HTTP from the log: the same output, nothing reached", async () => {
    const hits = world.hits();
    writeFileSync(join(world.workspace, "notes.txt"), "changed on disk since the recording\n");
    const report = await replayer.replay({ runId: runs.clocky.runId, log });
    expect(report.status).toBe("identical");
    expect(report.output).toBe(runs.clocky.output);
    expect(world.hits()).toBe(hits);
    expect(report.events.map((e) => e.action)).toEqual(expect.arrayContaining(["clock.now", "random.bytes", "fs.read", "http.fetch"]));
    expect(JSON.parse(runs.clocky.output!).t).toBeGreaterThan(START);
  });

  it("answers a call the gate refused as invalid from the log, with or without the database", async () => {
    const events = await collect(log.query({ runId: runs.hostile.runId, type: "call" }));
    const refused = events.find((e) => e.data.invalid !== undefined)!;
    expect(refused.data).toMatchObject({ op: "sql.query", args: ["main", "select 1; delete from users", []], decision: { effect: "deny", rule: null } });
    const bare = new KernelSpace({ log: false, pool: { warm: 1 } });
    try {
      const report = await bare.replay({ runId: runs.hostile.runId, log });
      expect(report).toMatchObject({ status: "identical", output: runs.hostile.output });
      expect(report.events.find((e) => e.seq === refused.seq)).toMatchObject({ action: "sql.query", outcome: "invalid" });
    } finally {
      await bare.close();
    }
  });

  it("finds the divergence at the right event when a recorded result was changed (and verify fails there)", async () => {
    const runId = runs.branchy.runId;
    const events = await collect(log.query({ runId }));
    const read = events.find((e) => e.type === "call" && e.data.resource === "/workspace/mode.txt")!;
    const result = events.find((e) => e.type === "result" && e.data.call === read.seq)!;
    const write = events.find((e) => e.type === "call" && e.data.action === "fs.write")!;
    expect(result.data.ok).toBe("a\n");

    const copy = join(world.dir, "tampered-log");
    cpSync(world.logDir, copy, { recursive: true });
    await editRecord(copy, result.seq, (body) => body.replace('"ok":"a\\n"', '"ok":"b\\n"'));
    const tampered = await openLogReader(copy);
    try {
      const report = await replayer.replay({ runId, log: tampered });
      expect(report.status).toBe("diverged");
      expect(report.divergence).toMatchObject({
        seq: write.seq,
        expected: { op: "fs.write-text", resource: "/workspace/a.txt" },
        actual: { op: "fs.read-text", resource: "/workspace/b.txt" },
      });
      expect(report.events.map((e) => e.seq)).toEqual([read.seq]);
      expect(await tampered.verify()).toMatchObject({ ok: false, firstBad: result.seq, problem: expect.stringMatching(/changed/) });
    } finally {
      await tampered.close();
    }

    const io = capture();
    expect(await main(["replay", runId, "--log", copy], io)).toBe(1);
    expect(io.out).toMatch(new RegExp(`^DIVERGED at event #${write.seq}:`));
    expect(io.out).toMatch(/expected \(recorded\): fs\.write-text \/workspace\/a\.txt/);
    expect(io.out).toMatch(/actual \(replayed\): +fs\.read-text \/workspace\/b\.txt/);

    // The untouched log replays identically, whatever the file on disk now says.
    writeFileSync(join(world.workspace, "mode.txt"), "b\n");
    expect((await replayer.replay({ runId, log })).status).toBe("identical");
  });

  it("refuses an agent whose code differs from the recorded one", async () => {
    const changed = replayer.register(async function branchy(_task: string) {
      return "another body";
    } as never);
    await expect(replayer.replay({ runId: runs.branchy.runId, log, agent: changed })).rejects.toThrow(ReplayError);
    await expect(replayer.replay({ runId: runs.branchy.runId, log, agent: changed })).rejects.toThrow(/code has changed since run .*content hash is [0-9a-f]{64}; the run recorded [0-9a-f]{64}/);
    const same = await replayer.load("examples/hello/agent.js");
    expect((await replayer.replay({ runId: runs.hello.runId, log, agent: same })).status).toBe("identical");
  });

  it("needs the agent when the log does not hold its code, and checks it", async () => {
    const agent = replayer.register(async function quiet() {
      return "x";
    } as never);
    const own = await openLog(false);
    const meta = { runId: "r-old", pid: 1, agent: "quiet" };
    await own.append({ type: "spawn", ...meta, data: { engine: "quickjs", kind: "function", codeHash: sha256(agent.source), task: "", limits: {} } });
    await own.append({ type: "exit", ...meta, data: { status: "ok", output: "x" } });
    await expect(replayer.replay({ runId: "r-old", log: own })).rejects.toThrow(/does not hold the code of run r-old's agent quiet/);
    expect(await replayer.replay({ runId: "r-old", log: own, agent })).toMatchObject({ status: "identical", output: "x", events: [] });
    await expect(replayer.replay({ runId: "r-unknown", log: own })).rejects.toThrow(/there is no run r-unknown/);
    await own.close();
  });
});

describe("checkpoints", () => {
  let events: LoggedEvent[];
  let call: (action: string, nth?: number) => LoggedEvent;
  beforeAll(async () => {
    events = await collect(log.query({ runId: runs.steps.runId }));
    call = (action, nth = 0) => events.filter((e) => e.type === "call" && e.data.action === action)[nth];
  });

  it("by label: the calls up to the checkpoint, and the call pending there", async () => {
    const checkpoint = events.find((e) => e.type === "checkpoint")!;
    const report = await replayer.replay({ runId: runs.steps.runId, checkpoint: "half", log });
    expect(report.status).toBe("stopped");
    expect(report.checkpoint).toEqual({ seq: checkpoint.seq, by: "label", label: "half" });
    expect(report.events.map((e) => e.action)).toEqual(["log.write", "process.checkpoint"]);
    expect(report.pending).toMatchObject({ seq: call("fs.read").seq, expected: { action: "fs.read", resource: "/workspace/notes.txt" }, matches: true });
    expect(report.output).toBeUndefined();
  });

  it("by sequence number", async () => {
    // (the log line is an effect-free call: its event holds its result, and the checkpoint call comes next)
    const first = call("log.write");
    expect(first.data.result).toEqual({ ok: null });
    const next = first.seq + 1;
    const report = await replayer.replay({ runId: runs.steps.runId, checkpoint: next, log });
    expect(report).toMatchObject({ status: "stopped", checkpoint: { seq: next, by: "seq" } });
    expect(report.events.map((e) => e.seq)).toEqual([first.seq]);
    expect(report.pending).toMatchObject({ seq: call("process.checkpoint").seq, expected: { action: "process.checkpoint", resource: "half" } });
    // Past the last call: the whole run, identical.
    expect((await replayer.replay({ runId: runs.steps.runId, checkpoint: events[events.length - 1].seq, log })).status).toBe("identical");
  });

  it("by time: the ISO time alone finds the run and the point", async () => {
    const read = call("fs.read");
    // Just before the read: its call event is the first one after that time.
    const iso = new Date(read.time - 500).toISOString();
    const report = await replayer.replay({ checkpoint: iso, log });
    expect(report).toMatchObject({ runId: runs.steps.runId, status: "stopped", checkpoint: { seq: read.seq - 1, by: "time" } });
    expect(report.pending?.seq).toBe(read.seq);
    expect(report.events.map((e) => e.action)).toEqual(["log.write", "process.checkpoint"]);
  });

  it("refuses a label the run does not have, a time when nothing ran, and a seq/label without a run", async () => {
    await expect(replayer.replay({ runId: runs.steps.runId, checkpoint: "nope", log })).rejects.toThrow(/has no checkpoint "nope" \(its checkpoints: "half"\)/);
    await expect(replayer.replay({ checkpoint: new Date(START - 60_000).toISOString(), log })).rejects.toThrow(/no run was going on/);
    await expect(replayer.replay({ checkpoint: "half", log })).rejects.toThrow(/must be an ISO time/);
  });

  it("through the command: --checkpoint LABEL, and --json", async () => {
    const io = capture();
    expect(await main(["replay", runs.steps.runId, "--checkpoint", "half", "--log", world.logDir], io)).toBe(0);
    expect(io.out).toMatch(/^stopped at checkpoint "half" \(event #\d+\)/);
    expect(io.out).toMatch(/pending: #\d+ +fs\.read-text \/workspace\/notes\.txt/);
    const json = capture();
    expect(await main(["replay", runs.steps.runId, "--checkpoint", String(call("fs.read").seq), "--log", world.logDir, "--json"], json)).toBe(0);
    expect(JSON.parse(json.out)).toMatchObject({ status: "stopped", events: [{ action: "log.write" }, { action: "process.checkpoint" }] });
  });
});

describe("agent-os replay", () => {
  it("exit 0 and 'identical' for an unchanged run", async () => {
    const io = capture();
    expect(await main(["replay", runs.summarize.runId, "--log", world.logDir, "--db", `main=${world.dbFile}`], io)).toBe(0);
    expect(io.out).toMatch(new RegExp(`^identical: run ${runs.summarize.runId} \\(agent summarize\\), 4 calls replayed, ended ok`));
  });

  it("exit 2 naming what is wrong: an unknown run, a changed agent, no log, bad flags", async () => {
    let io = capture();
    expect(await main(["replay", "no-such-run", "--log", world.logDir], io)).toBe(2);
    expect(io.err).toMatch(/there is no run no-such-run/);
    const changed = join(world.dir, "hello-changed.js");
    writeFileSync(changed, readFileSync("examples/hello/agent.js", "utf8") + "\nexport const changed = true;\n");
    io = capture();
    expect(await main(["replay", runs.hello.runId, "--log", world.logDir, "--agent", changed], io)).toBe(2);
    expect(io.err).toMatch(/code has changed/);
    io = capture();
    expect(await main(["replay", runs.hello.runId, "--log", join(world.dir, "nowhere")], io)).toBe(2);
    expect(io.err).toMatch(/there is no log/);
    io = capture();
    expect(await main(["replay", "--log", world.logDir], io)).toBe(2);
    expect(io.err).toMatch(/give a run id/);
    io = capture();
    expect(await main(["replay", runs.hello.runId, "--frobnicate"], io)).toBe(2);
    expect(io.err).toMatch(/unknown option --frobnicate/);
  });
});

describe("counterfactual replay", () => {
  it("re-decides every recorded call under another policy and lists the changes", async () => {
    const analyzer = sqlAnalyzer({ main: { file: world.dbFile, readOnly: true } })!;
    try {
      const report = await redecideRun(log, runs.summarize.runId, "strict", { analyzeSql: analyzer.analyze });
      expect(report).toMatchObject({ recordedPolicy: { name: "replay-test" }, policy: { name: "strict" }, calls: 4 });
      expect(report.changes.map((c) => [c.action, c.resource, c.before.effect, c.after.effect])).toEqual([
        ["fs.write", "/workspace/summary.txt", "allow", "deny"],
        ["sql.query", "main", "allow", "deny"],
      ]);
      expect(report.changes[0].before.rule).toBe("standard-workspace-write");
      expect(report.changes.every((c) => !c.withoutSqlFacts)).toBe(true);
      // The same policy changes nothing.
      expect((await redecideRun(log, runs.summarize.runId, policyFile, { analyzeSql: analyzer.analyze })).changes).toEqual([]);
    } finally {
      analyzer.close();
    }
  });

  it("decides SQL calls on the facts recorded with them, without the database", async () => {
    const calls = await collect(log.query({ runId: runs.summarize.runId, type: "call" }));
    const sqlCall = calls.find((e) => e.data.action === "sql.query");
    expect(sqlCall?.data.sql).toEqual({ operations: ["insert"], reads: [], writes: ["summaries"] });
    const report = await redecideRun(log, runs.summarize.runId, "strict");
    expect(report.changes.map((c) => [c.action, c.before.effect, c.after.effect, c.withoutSqlFacts ?? false])).toEqual([
      ["fs.write", "allow", "deny", false],
      ["sql.query", "allow", "deny", false],
    ]);
    expect((await redecideRun(log, runs.summarize.runId, policyFile)).changes).toEqual([]);
  });

  it("decides rate limits at the recorded times", async () => {
    const limited = { version: 1, extends: ["base"], rules: [{ id: "one-line", action: "log.write", rate: "1/minute", effect: "allow" }, { id: "read", action: "fs.read", effect: "allow" }] };
    const report = await redecideRun(log, runs.steps.runId, limited);
    // The two log lines are seconds apart: the second is over the rate.
    expect(report.changes).toHaveLength(1);
    expect(report.changes[0]).toMatchObject({ action: "log.write", after: { effect: "deny", rule: "one-line", reason: expect.stringMatching(/^rate-limit/) } });
  });

  it("through the command: exit 1 with the changes, 0 when nothing changes", async () => {
    let io = capture();
    expect(await main(["replay", runs.summarize.runId, "--policy", "strict", "--db", `main=${world.dbFile}`, "--log", world.logDir], io)).toBe(1);
    expect(io.out).toMatch(/recorded under replay-test, decided again under strict: 2 of 4 decisions would change/);
    expect(io.out).toMatch(/#\d+ +fs\.write \/workspace\/summary\.txt +allow by standard-workspace-write -> deny by \(default\)/);
    io = capture();
    expect(await main(["replay", runs.summarize.runId, "--policy", policyFile, "--db", `main=${world.dbFile}`, "--log", world.logDir], io)).toBe(0);
    expect(io.out).toMatch(/0 of 4 decisions would change/);
    io = capture();
    expect(await main(["replay", runs.summarize.runId, "--policy", join(world.dir, "missing.yaml"), "--log", world.logDir], io)).toBe(2);
  });
});

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { logCommand, runLog, parseTime } from "../../dist/runtime/cli/log.js";
import { verifyCommand } from "../../dist/runtime/cli/verify.js";
import type { CliIo } from "../../dist/runtime/cli/io.js";
import { openLog, type KernelLog } from "../../dist/runtime/episodic/index.js";
import type { LoggedEvent } from "../../dist/runtime/types.js";
import { callEvent, tempDir } from "./helpers.js";
import { segmentKey, withDb } from "./stored.js";

function capture(): CliIo & { out: string; err: string } {
  const io = { out: "", err: "", isTTY: false, stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
  return io;
}

let tmp: { dir: string; remove: () => Promise<void> };
let logged: LoggedEvent[];

/** A small run: spawn, an allowed write, a verified-then-denied write with two votes, its result, exit. */
async function writeRun(log: KernelLog) {
  const out: LoggedEvent[] = [];
  out.push(await log.append({ type: "spawn", runId: "r1", pid: 7, agent: "writer", data: { task: "tidy up", policy: { name: "default" } } }));
  out.push(await log.append(callEvent(1, { runId: "r1", pid: 7, agent: "writer" }, "allow", "fs.write")));
  out.push(await log.append({ type: "result", runId: "r1", pid: 7, agent: "writer", data: { callSeq: out[1].seq, ok: null } }));
  out.push(await log.append(callEvent(2, { runId: "r1", pid: 7, agent: "writer", data: { action: "fs.remove", resource: "/prod/db", args: {}, decision: { effect: "deny", rule: "no-prod", reason: "production", matched: ["no-prod"] } } })));
  out.push(await log.append({ type: "vote", runId: "r1", pid: 7, agent: "writer", data: { callSeq: out[3].seq, model: "gpt-x", verdict: "reject", confidence: 0.9, reason: "destructive", latencyMs: 12 } }));
  out.push(await log.append({ type: "result", runId: "r1", pid: 7, agent: "writer", data: { callSeq: out[3].seq, err: { tag: "denied", val: { rule: "no-prod", reason: "production" } } } }));
  out.push(await log.append({ type: "exit", runId: "r1", pid: 7, agent: "writer", data: { status: "ok", usage: { fuel: 1 } } }));
  out.push(await log.append(callEvent(3, { runId: "r2", pid: 8, agent: "reader" }, "allow", "http.fetch")));
  return out;
}

beforeEach(async () => {
  tmp = await tempDir();
  let t = Date.parse("2025-03-01T10:00:00Z");
  const log = await openLog({ dir: tmp.dir, now: () => (t += 60_000) });
  logged = await writeRun(log);
  await log.close();
});
afterEach(async () => {
  await tmp.remove();
});

describe("agent-os verify", () => {
  it("reports ok with the count and head hash, exit 0", async () => {
    const io = capture();
    expect(await verifyCommand(["--log", tmp.dir], io)).toBe(0);
    expect(io.out).toBe(`ok: 8 events, head ${logged[7].hash}\n`);
    const json = capture();
    expect(await verifyCommand(["--log", tmp.dir, "--json"], json)).toBe(0);
    expect(JSON.parse(json.out)).toEqual({ ok: true, count: 8, head: logged[7].hash });
  });

  it("exits 1 naming the first bad event when tampered", async () => {
    // (each event was appended alone: a segment of one event each)
    await withDb(tmp.dir, (db) => db.del(segmentKey(4, 4)));
    const io = capture();
    expect(await verifyCommand(["--log", tmp.dir], io)).toBe(1);
    expect(io.out).toMatch(/^TAMPERED at event 4: event 4 is missing \(3 events verified before it\)/);
  });

  it("verifies a log that a running kernel holds, without disturbing it", async () => {
    const owner = await openLog({ dir: tmp.dir });
    const io = capture();
    expect(await verifyCommand(["--log", tmp.dir], io)).toBe(0);
    expect(io.out).toMatch(/^ok: 8 events/);
    expect((await owner.append(callEvent(9))).seq).toBe(9);
    await owner.close();
  });

  it("exits 2 for a missing log, an unknown flag; --help exits 0", async () => {
    let io = capture();
    expect(await verifyCommand(["--log", tmp.dir + "/nope"], io)).toBe(2);
    expect(io.err).toMatch(/there is no log at .*nope/);
    io = capture();
    expect(await verifyCommand(["--lgo", tmp.dir], io)).toBe(2);
    expect(io.err).toMatch(/unknown option --lgo/);
    io = capture();
    expect(await verifyCommand(["--help"], io)).toBe(0);
    expect(io.out).toMatch(/^Usage: agent-os verify/);
  });
});

describe("agent-os log", () => {
  it("prints a readable timeline with votes under their call", async () => {
    const io = capture();
    expect(await logCommand(["--log", tmp.dir, "--run", "r1"], io)).toBe(0);
    const lines = io.out.trimEnd().split("\n");
    expect(lines).toHaveLength(7);
    expect(lines[0]).toBe('2025-03-01T10:01:00.000Z  #1  pid 7  writer  spawn  task "tidy up"  policy default');
    expect(lines[1]).toBe("2025-03-01T10:02:00.000Z  #2  pid 7  writer  call  fs.write  /workspace/file-1.txt  allow  workspace");
    expect(lines[3]).toBe("2025-03-01T10:04:00.000Z  #4  pid 7  writer  call  fs.remove  /prod/db  deny  no-prod");
    expect(lines[4]).toBe("    └ vote #5  gpt-x: reject (0.9) 12ms  destructive");
    expect(lines[5]).toBe("2025-03-01T10:06:00.000Z  #6  pid 7  writer  result  of #4  error denied");
    expect(lines[6]).toBe("2025-03-01T10:07:00.000Z  #7  pid 7  writer  exit  ok");
  });

  it("filters by effect, action glob, agent, since; prints JSON lines of the stored events", async () => {
    const seqs = async (...args: string[]) => {
      const io = capture();
      expect(await logCommand(["--log", tmp.dir, "--json", ...args], io)).toBe(0);
      return io.out.trimEnd().split("\n").filter(Boolean).map((l) => (JSON.parse(l) as LoggedEvent).seq);
    };
    expect(await seqs("--effect", "deny")).toEqual([4]);
    expect(await seqs("--action", "fs.*")).toEqual([2, 3, 4, 6]);
    expect(await seqs("--agent", "reader")).toEqual([8]);
    expect(await seqs("--since", "2025-03-01T10:06:00Z", "--newest")).toEqual([8, 7, 6]);
    expect(await seqs("--type", "call", "--limit", "2")).toEqual([2, 4]);
    const io = capture();
    await logCommand(["--log", tmp.dir, "--json", "--limit", "1"], io);
    expect(JSON.parse(io.out)).toEqual(logged[0]);
  });

  it("accepts relative times", () => {
    expect(parseTime("10m", () => 3_600_000)).toBe(3_000_000);
    expect(parseTime("2025-03-01T10:00:00Z")).toBe(Date.parse("2025-03-01T10:00:00Z"));
    expect(() => parseTime("yesterday")).toThrow(/not a time/);
  });

  it("exits 2 for a missing log or bad flags", async () => {
    let io = capture();
    expect(await logCommand(["--log", tmp.dir + "/nope"], io)).toBe(2);
    expect(io.err).toMatch(/there is no log/);
    for (const args of [["--effect", "maybe"], ["--since", "soon"], ["--limit", "-1"], ["--follow", "--newest"], ["--bogus"]]) {
      io = capture();
      expect(await logCommand(["--log", tmp.dir, ...args], io)).toBe(2);
    }
  });

  it("--follow prints new events as a running kernel appends them, until stopped", async () => {
    const owner = await openLog({ dir: tmp.dir });
    const io = capture();
    const stop = new AbortController();
    const following = runLog(["--log", tmp.dir, "--effect", "deny", "--json", "--follow"], io, { signal: stop.signal, pollMs: 20 });
    const waitFor = async (n: number) => {
      for (let i = 0; i < 500 && io.out.split("\n").length - 1 < n; i++) await new Promise((r) => setTimeout(r, 10));
    };
    await waitFor(1);
    await owner.append(callEvent(20, {}, "allow"));
    const denied = await owner.append(callEvent(21, {}, "deny"));
    await waitFor(2);
    stop.abort();
    expect(await following).toBe(0);
    const seqs = io.out.trimEnd().split("\n").map((l) => (JSON.parse(l) as LoggedEvent).seq);
    expect(seqs).toEqual([4, denied.seq]);
    await owner.close();
  });
});

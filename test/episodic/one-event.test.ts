/**
 * An effect-free call (a log line, a clock reading, random bytes) is recorded with its result in
 * one event, on a real LevelDB log: what it answered, an error included, is in the call event;
 * `agent-os log` shows it on the call's line; replay answers from it with the same output; and
 * the chain verifies.
 */
import { createHash } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { logCommand } from "../../dist/runtime/cli/log.js";
import { KernelSpace, openLog, type LoggedEvent } from "../../dist/runtime/index.js";
import { moduleAgent, policyWith, tempDir } from "../kernel/helpers.js";

const dir = tempDir();
afterAll(() => dir.remove());

const SOURCE = 
  `import { now } from "agentos:kernel/clock";
   import { bytes } from "agentos:kernel/random";
   export function run() {
     const t = now();
     const b = bytes(4);
     let refused = "";
     try { bytes(1 << 20); } catch (e) { refused = String(e && e.message || e); }
     return JSON.stringify({ s: String(t.seconds), b: Array.from(new Uint8Array(b)), refused });
   }`;
/** (its hash is its content's, as the kernel's own loader makes it: replay checks it) */
const AGENT = { ...moduleAgent("one-event", SOURCE), codeHash: createHash("sha256").update(SOURCE).digest("hex") };

describe("an effect-free call and its result in one event", () => {
  it("holds the result (or the error), prints it, replays from it and verifies", async () => {
    const logDir = `${dir.path}/log`;
    const kernel = new KernelSpace({ policy: policyWith(), log: { dir: logDir }, pool: false });
    let runId: string;
    let output: string | undefined;
    try {
      const result = await kernel.execute(AGENT, "");
      expect(result.status).toBe("ok");
      ({ runId, output } = result);
      expect(JSON.parse(output!).refused).toMatch(/at most 65536 bytes/);
    } finally {
      await kernel.close();
    }

    const log = await openLog({ dir: logDir });
    try {
      const events: LoggedEvent[] = [];
      for await (const e of log.query({ runId })) events.push(e);
      expect(events.map((e) => e.type)).toEqual(["spawn", "call", "call", "call", "exit"]);
      const [clock, bytes, refused] = events.slice(1, 4).map((e) => e.data.result as Record<string, unknown>);
      expect(clock).toEqual({ ok: { seconds: { $bigint: JSON.parse(output!).s }, nanoseconds: expect.any(Number) } });
      expect([...Buffer.from((bytes.ok as { $bytes: string }).$bytes, "base64")]).toEqual(JSON.parse(output!).b);
      expect(refused).toEqual({ err: { tag: "invalid", val: expect.stringMatching(/at most 65536 bytes/) } });
      expect((await log.verify()).ok).toBe(true);
    } finally {
      await log.close();
    }

    const io = { out: "", err: "", isTTY: false, stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
    expect(await logCommand(["--log", logDir, "--run", runId], io)).toBe(0);
    const calls = io.out.split("\n").filter((line) => line.includes("  call  "));
    expect(calls).toHaveLength(3);
    expect(calls[0]).toMatch(/call {2}clock\.now {2}allow {2}\S+ {2}ok$/);
    expect(calls[1]).toMatch(/call {2}random\.bytes {2}allow {2}\S+ {2}ok$/);
    expect(calls[2]).toMatch(/call {2}random\.bytes {2}allow {2}\S+ {2}error invalid$/);

    // Replay answers every call from its one event: the same output, the same error.
    const replayer = new KernelSpace({ policy: policyWith(), log: { dir: logDir }, pool: false });
    try {
      const report = await replayer.replay({ runId, agent: AGENT });
      expect(report.status).toBe("identical");
      expect(report.output).toBe(output);
      expect(report.events.map((e) => e.outcome)).toEqual(["ok", "ok", "invalid"]);
    } finally {
      await replayer.close();
    }
  });
});

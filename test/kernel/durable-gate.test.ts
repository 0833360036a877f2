/**
 * The gate under a durable log (real LevelDB): an effectful call is carried out only once its
 * call event is on disk; an allowed call with no effect outside the log (log.write, the clocks,
 * random bytes) is recorded with its result in one event, one sync. Batches are counted by
 * watching the real database's writes.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LoggedEvent } from "../../dist/runtime/index.js";
import { KernelSpace } from "../../dist/runtime/index.js";
import { moduleAgent, policyWith, tempDir } from "./helpers.js";

let syncedBatches = 0;
const batch = ClassicLevel.prototype.batch;

beforeAll(() => {
  // Count every batch written (the log writes chained batches with sync: true).
  ClassicLevel.prototype.batch = function (this: ClassicLevel, ...args: unknown[]) {
    const chained = (batch as (...a: unknown[]) => { write: (...a: unknown[]) => unknown }).apply(this, args);
    if (args.length === 0) {
      const write = chained.write;
      chained.write = function (this: unknown, ...a: unknown[]) {
        syncedBatches++;
        return write.apply(this, a);
      };
    } else syncedBatches++;
    return chained;
  } as typeof batch;
});

afterAll(() => {
  ClassicLevel.prototype.batch = batch;
});

describe("the gate and a durable log", () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it("records an effect-free call with its result in one event, one batch a call, and every event verifies", async () => {
    const ws = join(dir.path, "ws");
    mkdirSync(ws);
    writeFileSync(join(ws, "in.txt"), "x");
    const kernel = new KernelSpace({
      policy: policyWith([{ id: "ws", action: "fs.*", resource: "/workspace/**", effect: "allow" }]), // and basics: log, clock, random
      log: { dir: join(dir.path, "log") },
      mounts: { "/workspace": ws },
      pool: { warm: 1 },
    });
    const N = 40;
    try {
      const chatty = moduleAgent(
        "chatty",
        `import { write } from "agentos:kernel/log";
         import { now } from "agentos:kernel/clock";
         import { bytes } from "agentos:kernel/random";
         export function run() { for (let i = 0; i < ${N}; i++) { write("info", "line " + i, []); now(); bytes(4); } return "ok"; }`,
      );
      await kernel.execute(chatty, ""); // warm up
      syncedBatches = 0;
      const result = await kernel.execute(chatty, "");
      expect(result.status).toBe("ok");
      // 3N calls, each alone in its turn: one batch each (plus spawn and exit), where waiting for
      // the call event before carrying the call out takes two.
      expect(syncedBatches).toBeGreaterThan(0);
      expect(syncedBatches).toBeLessThanOrEqual(3 * N + 4);

      // An effectful call still waits for its call event before it is carried out: two batches.
      const writer = moduleAgent(
        "writer",
        `import { writeText } from "agentos:kernel/fs";
         export function run() { for (let i = 0; i < ${N}; i++) writeText("/workspace/out.txt", "v" + i, false); return "ok"; }`,
      );
      syncedBatches = 0;
      const wrote = await kernel.execute(writer, "");
      expect(wrote.status).toBe("ok");
      expect(syncedBatches).toBeGreaterThanOrEqual(2 * N);
      expect(readFileSync(join(ws, "out.txt"), "utf8")).toBe(`v${N - 1}`);

      const log = await kernel.log;
      const events: LoggedEvent[] = [];
      for await (const e of log.query({ runId: result.runId })) events.push(e);
      const calls = events.filter((e) => e.type === "call");
      expect(calls).toHaveLength(3 * N);
      expect(events.filter((e) => e.type === "result")).toHaveLength(0);
      // Each call event holds what the call answered: the line's null, the clock's reading, the bytes.
      const results = (action: string) => calls.filter((e) => e.data.action === action).map((e) => e.data.result as { ok: unknown });
      expect(results("log.write")).toEqual(Array(N).fill({ ok: null }));
      // (as the log encodes them: a bigint and bytes are tagged)
      for (const { ok } of results("clock.now")) expect(ok).toEqual({ seconds: { $bigint: expect.stringMatching(/^\d+$/) }, nanoseconds: expect.any(Number) });
      for (const { ok } of results("random.bytes")) expect(Buffer.from((ok as { $bytes: string }).$bytes, "base64")).toHaveLength(4);
      expect((await log.verify()).ok).toBe(true);
    } finally {
      await kernel.close();
    }
  });
});

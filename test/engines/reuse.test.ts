/**
 * Engine instances made new in place (PreparedPool.give, resetInstance): an instance that ended
 * its run idle is compared with the snapshot page by page and written back, then serves another
 * run. Nothing of the first run may be left: not in linear memory (checked byte for byte against
 * a copy made from scratch, and by searching memory for the first run's secret), and not in what
 * the next agent can see. An instance that did not end idle (killed while suspended) is never
 * given to another run.
 */
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { KernelSpace, type Agent } from "../../dist/runtime/index.js";
import { evalCodeAsync } from "../../dist/runtime/engines/quickjs-async/drive.js";
import "../../dist/runtime/hosts/node/quickjs.js";
import { PreparedPool, type PreparedInstance } from "../../dist/runtime/engines/quickjs-async/prepare.js";
import { moduleAgent, policyWith } from "../kernel/helpers.js";

vi.setConfig({ testTimeout: 120_000 });

const SDK = readFileSync(new URL("../../dist/guest-sdk/index.js", import.meta.url), "utf8");
const MAX_BYTES = 256 * 1024 * 1024;
const SECRET = "reuse-secret-7f3a9c";

/** Evaluates `code` as a script in the instance. @throws when it throws */
async function evaluate(instance: PreparedInstance, code: string): Promise<unknown> {
  const result = await evalCodeAsync(instance.glue, instance.ctx, code, "test.js", { type: "global" });
  if ("error" in result) throw new Error(`guest threw: ${JSON.stringify(instance.ctx.dump(result.error))}`);
  const value = instance.ctx.dump(result.value);
  result.value.dispose();
  return value;
}

function contains(memory: Uint8Array, text: string): boolean {
  return Buffer.from(memory.buffer, memory.byteOffset, memory.byteLength).includes(Buffer.from(text, "latin1"));
}

describe("an instance made new in place", () => {
  it("is the same instance, its memory equals a copy made from scratch byte for byte, and the first run's secret is gone", async () => {
    const pool = new PreparedPool(SDK, MAX_BYTES, 2);
    const used = await pool.take();
    // The first run leaves all it can behind: globals, a polluted prototype, a large secret.
    await evaluate(used, `globalThis.kept = "${SECRET}".repeat(1000); Object.prototype.polluted = "${SECRET}"; globalThis.keep2 = [1, 2, 3].map(String); 1`);
    expect(contains(used.glue.HEAPU8, SECRET)).toBe(true);
    used.disposeTimers();
    expect(pool.give(used, true)).toBe(true);
    // (made new a moment after its run, so that a spawn right then takes a ready instance; now here)
    pool.clean();

    const again = await pool.take();
    expect(again.glue).toBe(used.glue);
    expect(again).not.toBe(used);
    const fresh = await pool.take();
    expect(fresh.glue).not.toBe(used.glue);
    expect(again.glue.HEAPU8.length).toBe(fresh.glue.HEAPU8.length);
    expect(Buffer.compare(again.glue.HEAPU8, fresh.glue.HEAPU8)).toBe(0);
    expect(contains(again.glue.HEAPU8, SECRET)).toBe(false);
    expect(await evaluate(again, `[typeof globalThis.kept, typeof globalThis.keep2, ({}).polluted === undefined].join(",")`)).toBe("undefined,undefined,true");
    pool.clear();
  });

  it("is refused when its run did not end idle, or its memory grew", async () => {
    const pool = new PreparedPool(SDK, MAX_BYTES, 2);
    const first = await pool.take();
    expect(pool.give(first, false)).toBe(false);
    const grown = await pool.take();
    const before = grown.glue.memory.buffer.byteLength;
    await evaluate(grown, `globalThis.big = new Uint8Array(32 * 1024 * 1024).fill(1); big.length`);
    expect(grown.glue.memory.buffer.byteLength).toBeGreaterThan(before);
    grown.disposeTimers();
    pool.give(grown, true);
    pool.clean();
    // (the next instances are copies: the grown one was dropped when it was to be made new)
    const next = await Promise.all([pool.take(), pool.take(), pool.take()]);
    for (const n of next) {
      expect(n.glue).not.toBe(grown.glue);
      expect(n.glue).not.toBe(first.glue);
    }
    pool.clear();
  });

  it("at most `reserve` of them are kept", async () => {
    const pool = new PreparedPool(SDK, MAX_BYTES, 2);
    const taken = await Promise.all([pool.take(), pool.take(), pool.take()]);
    for (const t of taken) t.disposeTimers();
    expect(taken.map((t) => pool.give(t, true))).toEqual([true, true, false]);
    pool.clear();
  });
});

describe("through the kernel, in-thread", () => {
  let kernel: KernelSpace | undefined;
  afterEach(async () => {
    await kernel?.close();
    kernel = undefined;
  });

  const polluter: Agent = moduleAgent(
    "polluter",
    `import { log } from "agent-os/guest";
export async function run() {
  await log.info("about to leave things behind");
  globalThis.secret = "${SECRET}";
  Object.prototype.polluted = "${SECRET}";
  Array.prototype.map = function () { return ["${SECRET}"]; };
  return "done";
}`,
  );
  const looker: Agent = moduleAgent(
    "looker",
    `export function run() {
  return JSON.stringify({ secret: typeof globalThis.secret, polluted: ({}).polluted ?? null, map: [1].map((x) => x + 1) });
}`,
  );

  it("the next agent on a reused instance sees nothing of the one before", async () => {
    const give = vi.spyOn(PreparedPool.prototype, "give");
    const take = vi.spyOn(PreparedPool.prototype, "take");
    try {
      kernel = new KernelSpace({ pool: false, policy: policyWith([{ id: "log", action: "log.write", effect: "allow" }]), log: false });
      const first = await kernel.execute(polluter, "");
      expect(first, first.error).toMatchObject({ status: "ok", output: "done" });
      // The polluter's instance was taken back; made new now, it is the next one taken.
      expect(give.mock.results.at(-1)).toEqual({ type: "return", value: true });
      const polluted = give.mock.calls.at(-1)![0] as PreparedInstance;
      (give.mock.contexts.at(-1) as PreparedPool).clean();
      const second = await kernel.execute(looker, "");
      expect((await take.mock.results.at(-1)!.value).glue).toBe(polluted.glue);
      expect(second.status, second.error).toBe("ok");
      expect(JSON.parse(second.output!)).toEqual({ secret: "undefined", polluted: null, map: [2] });
    } finally {
      give.mockRestore();
      take.mockRestore();
    }
  });

  it("an agent killed while suspended in a host call: its instance is dropped, and the next agent runs", async () => {
    const give = vi.spyOn(PreparedPool.prototype, "give");
    try {
      kernel = new KernelSpace({ pool: false, policy: policyWith([{ id: "clock", action: "clock.*", effect: "allow" }]), log: false });
      const sleeper = moduleAgent("sleeper", `export async function run() { globalThis.secret = "${SECRET}"; await new Promise((r) => setTimeout(r, 60000)); return "woke"; }`);
      const proc = kernel.spawn(sleeper, "");
      while (proc.usage.hostCalls === 0) await new Promise((r) => setTimeout(r, 5));
      proc.signal("SIGKILL");
      expect(await proc.wait()).toMatchObject({ status: "killed" });
      await vi.waitFor(() => expect(give).toHaveBeenCalled());
      expect(give.mock.results.at(-1)).toEqual({ type: "return", value: false });
      const second = await kernel.execute(looker, "");
      expect(JSON.parse(second.output!)).toMatchObject({ secret: "undefined" });
    } finally {
      give.mockRestore();
    }
  });
});

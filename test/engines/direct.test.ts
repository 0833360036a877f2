/**
 * The kernel's functions on the asynchronous engine are called by the glue directly (direct.ts),
 * not through quickjs-emscripten's C-to-host callbacks; what the guest sees is the same. And a
 * u64 reply is made with the realm's own BigInt, captured before any guest code ran: a guest that
 * replaces `globalThis.BigInt` neither runs its code inside a host call nor changes the reply.
 */
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { KernelSpace, type KernelOptions } from "../../dist/runtime/index.js";
import { evalCodeAsync } from "../../dist/runtime/engines/quickjs-async/drive.js";
import "../../dist/runtime/hosts/node/quickjs.js";
import { PreparedPool, type PreparedInstance } from "../../dist/runtime/engines/quickjs-async/prepare.js";
import type { Reply } from "../../dist/runtime/engines/engine.js";
import { moduleAgent, policyWith } from "../kernel/helpers.js";

vi.setConfig({ testTimeout: 60_000 });

const SDK = readFileSync(new URL("../../dist/guest-sdk/index.js", import.meta.url), "utf8");
const MAX_BYTES = 256 * 1024 * 1024;

/** Evaluates `code` as a module in the instance; returns what it left in globalThis.out. */
async function moduleOut(instance: PreparedInstance, code: string): Promise<unknown> {
  const done = await evalCodeAsync(instance.glue, instance.ctx, code, "test.js", { type: "module" });
  if ("error" in done) throw new Error(`guest threw: ${JSON.stringify(instance.ctx.dump(done.error))}`);
  done.value.dispose();
  const out = instance.ctx.getProp(instance.ctx.global, "out");
  const value = instance.ctx.dump(out);
  out.dispose();
  return value;
}

/** An instance whose kernel calls are answered by `send`, counting quickjs-emscripten's callbacks. */
async function instanceWith(send: (op: string, args: unknown[]) => Reply | Promise<Reply>): Promise<{ instance: PreparedInstance; pool: PreparedPool; callbacks: () => number; sent: string[] }> {
  const pool = new PreparedPool(SDK, MAX_BYTES, 1);
  const instance = await pool.take();
  const sent: string[] = [];
  instance.slot.link = {
    send: (op, args) => {
      sent.push(op);
      return send(op, args);
    },
    pendingSignal: () => undefined,
    canWait: () => instance.glue.canSuspend(),
  };
  let counted = 0;
  const callbacks = instance.glue.callbacks as unknown as { callFunction: (...args: unknown[]) => unknown };
  const original = callbacks.callFunction;
  callbacks.callFunction = (...args: unknown[]) => {
    counted++;
    return original(...args);
  };
  return { instance, pool, callbacks: () => counted, sent };
}

describe("kernel functions called directly by the glue", () => {
  it("answer synchronously with a record holding a genuine bigint, without quickjs-emscripten's callbacks", async () => {
    const { instance, pool, callbacks, sent } = await instanceWith(() => ({ ok: { seconds: 2n ** 60n + 3n, nanoseconds: 7 } }));
    const out = await moduleOut(
      instance,
      `import { now } from "agentos:kernel/clock";
const t = now();
globalThis.out = [typeof t.seconds, String(t.seconds), t.nanoseconds, Object.keys(t).join(",")].join(" ");`,
    );
    expect(out).toBe(`bigint ${2n ** 60n + 3n} 7 seconds,nanoseconds`);
    expect(sent).toEqual(["clock.now"]);
    expect(callbacks()).toBe(0);
    instance.disposeTimers();
    pool.clear();
  });

  it("suspend the guest on a reply that comes later, and resume it with the reply", async () => {
    const { instance, pool, callbacks, sent } = await instanceWith(() => new Promise<Reply>((resolve) => setTimeout(() => resolve({ ok: 41n }), 20)));
    const out = await moduleOut(instance, `import { monotonicNow } from "agentos:kernel/clock"; globalThis.out = String(monotonicNow() + 1n);`);
    expect(out).toBe("42");
    expect(sent).toEqual(["clock.monotonic-now"]);
    expect(callbacks()).toBe(0);
    instance.disposeTimers();
    pool.clear();
  });

  it("throw a WIT error as the guest SDK expects, and a host failure as an Error, and go on after both", async () => {
    let calls = 0;
    const { instance, pool, callbacks } = await instanceWith(() => {
      calls++;
      if (calls === 1) return { err: { tag: "denied", val: { rule: "r1", reason: "no" } } };
      if (calls === 2) throw new Error("host side broke");
      return { ok: undefined };
    });
    const out = await moduleOut(
      instance,
      `import { write } from "agentos:kernel/log";
const seen = [];
for (let i = 0; i < 3; i++) {
  try { seen.push(String(write("info", "x", []))); } catch (e) { seen.push(e.name + ":" + (e.payload?.tag ?? e.message)); }
}
globalThis.out = seen.join(" | ");`,
    );
    expect(out).toMatch(/^ComponentError:denied \| Error:host side broke \| undefined$/);
    expect(callbacks()).toBe(0);
    instance.disposeTimers();
    pool.clear();
  });
});

describe("a u64 reply, when the guest has replaced BigInt", () => {
  let kernel: KernelSpace | undefined;
  afterEach(async () => {
    await kernel?.close();
    kernel = undefined;
  });

  const replacer = moduleAgent(
    "bigint-replacer",
    `import { now, monotonicNow } from "agentos:kernel/clock";
export function run() {
  let ran = 0;
  globalThis.BigInt = function () { ran++; return "forged"; };
  const wall = now().seconds;
  const mono = monotonicNow();
  return [typeof wall, typeof mono, wall > 1700000000n, ran].join(" ");
}`,
  );

  for (const [name, options] of [
    ["in-thread", { pool: false }],
    ["shared", { isolation: "shared", pool: { workers: 1 } }],
    ["dedicated", { isolation: "dedicated" }],
  ] as [string, KernelOptions][]) {
    it(`is a genuine bigint and the guest's BigInt never runs (${name})`, async () => {
      kernel = new KernelSpace({ ...options, policy: policyWith(), log: false });
      const result = await kernel.execute(replacer, "");
      expect(result.status, result.error).toBe("ok");
      expect(result.output).toBe("bigint bigint true 0");
    });
  }
});

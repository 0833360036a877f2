/**
 * On QuickJS, `Date` is the kernel's clock: a policy that refuses `clock.now` refuses
 * `Date.now()`, `new Date()`, `Date()` and every other way to the constructor, each refusal a
 * logged `clock.now` call, and no route reaches the engine's own clock.
 */
import { afterAll, describe, expect, it } from "vitest";
import { KernelSpace } from "../../dist/runtime/index.js";
import { moduleAgent } from "./helpers.js";

/** Every way to read the current time the agent knows, each reported as "denied", an error, or the time read. */
const ROUTES: Record<string, string> = {
  "Date.now()": "Date.now()",
  "new Date()": "new Date().getTime()",
  "Date() called as a function": "Date.parse(Date())",
  "the prototype's constructor": "new (Object.getPrototypeOf(new Date(0)).constructor)().getTime()",
  "an instance's constructor's now()": "new Date(0).constructor.now()",
  "Reflect.construct(Date, [])": "Reflect.construct(Date, []).getTime()",
  "globalThis.Date.now()": "globalThis.Date.now()",
  "Function('return Date.now()')": "Function('return Date.now()')()",
  "a subclass of Date": "new (class extends Date {})().getTime()",
  "Date.prototype.constructor.now()": "Date.prototype.constructor.now()",
};

const clockAgent = moduleAgent(
  "clock",
  `export function run() {
    const routes = ${JSON.stringify(ROUTES)};
    const out = {};
    for (const [name, expression] of Object.entries(routes)) {
      try {
        const value = (0, eval)(expression);
        out[name] = typeof value === "number" && !Number.isNaN(value) ? value : "no time: " + String(value);
      } catch (e) {
        out[name] = e && e.payload ? e.payload.tag : "threw " + String(e && e.message);
      }
    }
    out.epoch = new Date(0).getTime();
    return JSON.stringify(out);
  }`,
);

const withoutClock = new KernelSpace({ policy: { version: 1, name: "no-clock", default: "deny", rules: [] }, log: false, pool: { warm: 1 } });
const withClock = new KernelSpace({ policy: { version: 1, name: "clock", default: "deny", rules: [{ id: "time", action: "clock.now", effect: "allow" }] }, log: false, pool: { warm: 0 } });
afterAll(() => Promise.all([withoutClock.close(), withClock.close()]));

async function runIn(kernel: KernelSpace): Promise<{ out: Record<string, unknown>; calls: string[] }> {
  const result = await kernel.execute(clockAgent, "");
  expect(result.status, result.error).toBe("ok");
  const calls: string[] = [];
  for await (const e of (await kernel.log).query({ runId: result.runId, type: "call" })) {
    calls.push(`${(e.data as { action: string }).action} ${(e.data as { decision: { effect: string } }).decision.effect}`);
  }
  return { out: JSON.parse(result.output!) as Record<string, unknown>, calls };
}

describe("clock.now refused means Date refused", () => {
  it("control: with clock.now allowed, every route reads the kernel's time, one logged call each", async () => {
    const { out, calls } = await runIn(withClock);
    for (const name of Object.keys(ROUTES)) {
      expect(typeof out[name], name).toBe("number");
      expect(Math.abs((out[name] as number) - Date.now()), name).toBeLessThan(60_000);
    }
    expect(calls).toEqual(Object.keys(ROUTES).map(() => "clock.now allow"));
  });

  it("with clock.now refused, every route is denied, each a logged clock.now call; a date from a number still works", async () => {
    const { out, calls } = await runIn(withoutClock);
    for (const name of Object.keys(ROUTES)) expect(out[name], name).toBe("denied");
    expect(out.epoch).toBe(0);
    expect(calls).toEqual(Object.keys(ROUTES).map(() => "clock.now deny"));
  });
});

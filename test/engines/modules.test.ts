/**
 * A kernel interface imported by its plain name ("agentos:kernel/log") is the same module as
 * by its versioned one ("agentos:kernel/log@0.1.0", what the guest SDK imports), on both QuickJS
 * engines: one namespace object, and on the asynchronous engine the one already evaluated in
 * the prepared instance, so that a spawn compiles no kernel module.
 */
import { afterAll, describe, expect, it } from "vitest";
import { KernelSpace, type KernelOptions } from "../../dist/runtime/index.js";
import { moduleAgent, policyWith } from "../kernel/helpers.js";

const both = moduleAgent(
  "both-spellings",
  `import * as plain from "agentos:kernel/log";
import * as versioned from "agentos:kernel/log@0.1.0";
import { log } from "agent-os/guest";
export async function run() {
  plain.write("info", "plain", []);
  await log.info("sdk");
  return JSON.stringify({ same: plain === versioned, write: typeof plain.write });
}`,
);

const engines: [string, KernelOptions][] = [
  ["the synchronous engine (dedicated worker)", { isolation: "dedicated", pool: { warm: 1 } }],
  ["the asynchronous engine (in-thread)", { pool: false }],
];

describe.each(engines)("on %s", (_label, options) => {
  const kernel = new KernelSpace({ ...options, policy: policyWith(), log: false });
  afterAll(() => kernel.close());

  it("the plain and the versioned name are one module, and both reach the kernel", async () => {
    const result = await kernel.execute(both, "");
    expect(result.status, result.error).toBe("ok");
    expect(JSON.parse(result.output!)).toEqual({ same: true, write: "function" });
    expect(result.usage.hostCalls).toBe(2);
  });

  it("a name that is neither is still refused", async () => {
    const result = await kernel.execute(moduleAgent("bad-import", `import * as x from "agentos:kernel/nothing"; export function run() { return "ran"; }`), "");
    expect(result.status).toBe("error");
    expect(result.error).toMatch(/cannot import "agentos:kernel\/nothing"/);
  });
});

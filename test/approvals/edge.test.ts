/**
 * The EdgeKernel decides through the same gate but has no approver (and no approvals API): a
 * rule with effect `ask` denies at once, fail closed, and the agent's write never happens.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { EdgeKernel, memoryKvStore } from "../../dist/runtime/edge/index.js";
import { askPolicy, writer } from "./helpers.js";

const engine = new WebAssembly.Module(readFileSync("runtime/engines/quickjs-async/engine.wasm"));

describe("effect ask on the EdgeKernel", () => {
  it("denies at once: no approver, nothing written, no request logged", async () => {
    const store = memoryKvStore();
    const kernel = new EdgeKernel({ engine, policy: askPolicy(), fs: { mounts: { "/workspace": { store } } } });
    try {
      const result = await kernel.execute(EdgeKernel.agent("writer", writer.source), "edge.txt");
      expect(result.output).toMatch(/^PermissionDenied ask-writes: a person approves writes: approval required, and there is no approver: .*denied \(fail closed\)$/);
      const types: string[] = [];
      for await (const e of (await kernel.log).query({ runId: result.runId })) types.push(e.type);
      expect(types).toEqual(["spawn", "call", "exit"]);
      // Nothing was written into the mount's store (its keys name the files it holds).
      const entries = await store.list({ start: "", end: "\uffff" });
      expect(entries.filter(([key, value]) => key.includes("edge.txt") || String(value).includes("written by the agent"))).toEqual([]);
      expect("approve" in kernel).toBe(false);
      expect("approvals" in kernel).toBe(false);
    } finally {
      await kernel.close();
    }
  });
});

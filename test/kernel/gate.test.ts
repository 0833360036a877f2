/** The gate records every attempt, including calls refused as invalid before the policy. */
import { describe, expect, it } from "vitest";
import { kernelFor, moduleAgent, policyWith } from "./helpers.js";

describe("the gate", () => {
  it("logs a call refused as invalid (never decided, never carried out) and answers invalid", async () => {
    const kernel = kernelFor({ policy: policyWith([{ id: "net", action: "http.fetch", effect: "allow" }]) });
    try {
      const agent = moduleAgent("bad-url", `import { fetch } from "agentos:kernel/http";
        export function run() {
          try { fetch({ method: "GET", url: "not a url", headers: [], body: undefined }); return "ok"; }
          catch (e) { return e.payload.tag; } }`);
      const result = await kernel.execute(agent, "");
      expect(result.output).toBe("invalid");
      const log = await kernel.log;
      const calls = [];
      for await (const e of log.query({ runId: result.runId, type: "call" })) calls.push(e);
      expect(calls).toHaveLength(1);
      expect(calls[0].data).toMatchObject({ op: "http.fetch", action: "http.fetch", decision: { effect: "deny", rule: null } });
      expect(String((calls[0].data as { invalid: string }).invalid)).toMatch(/url/i);
      const results = [];
      for await (const e of log.query({ runId: result.runId, type: "result" })) results.push(e);
      expect(results).toHaveLength(0);
    } finally {
      await kernel.close();
    }
  });
});

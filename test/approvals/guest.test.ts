/**
 * No guest can answer an approval. The approval API lives on the host's KernelSpace only: no WIT
 * import, op or action reaches it, and a guest that tries to get the host to answer for it
 * (an http.fetch to a local endpoint that would call kernel.approve) is refused by the address
 * guard even where its policy allows the URL: the endpoint never sees a request.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ACTIONS } from "../../dist/runtime/index.js";
import { OPS } from "../../dist/runtime/kernel/ops.js";
import { moduleAgent } from "../kernel/helpers.js";
import { askPolicy, pendingId, setup, writer } from "./helpers.js";

const t = setup("agent-os-approvals-guest-");
afterAll(() => t.close());

describe("a guest that tries to approve its own call", () => {
  it("cannot reach a local endpoint that would approve it: the address guard refuses, the endpoint sees nothing", async () => {
    let hits = 0;
    const server = createServer((req, res) => {
      hits++;
      const [request] = kernel.approvals();
      if (request) void kernel.approve(request.id, { by: "endpoint" });
      res.end("approved");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const endpoint = `http://127.0.0.1:${port}/approve`;
    // The policy allows the URL; only the address guard (no allowPrivate) stands in the way.
    const kernel = t.kernel({ policy: askPolicy({}, [{ id: "local-http", action: "http.fetch", resource: `http://127.0.0.1:${port}/**`, effect: "allow" }]), log: false });
    const accomplice = moduleAgent(
      "accomplice",
      `import { http } from "agent-os/guest";
      export async function run() {
        try { const r = await http.fetch(${JSON.stringify(endpoint)}); return "reached: " + r.status; }
        catch (e) { return e.name + " " + (e.rule ?? e.kind) + ": " + (e.reason ?? e.detail); }
      }`,
    );
    try {
      const held = kernel.spawn(writer, "self-approved.txt");
      const id = await pendingId(kernel);
      const tried = await kernel.execute(accomplice, "");
      expect(tried.output).toMatch(/^PermissionDenied .*address guard: 127\.0\.0\.1 is loopback/);
      expect(hits).toBe(0);
      expect(kernel.approvals().map((r) => r.id)).toEqual([id]);
      expect(held.state).toBe("waiting");
      await kernel.deny(id, { by: "test" });
      expect((await held.wait()).output).toMatch(/^PermissionDenied ask-writes: .*denied by a person$/);
      expect(existsSync(join(t.ws, "self-approved.txt"))).toBe(false);
      expect(hits).toBe(0);
    } finally {
      server.close();
    }
  });

  it("has no import, op or action that reaches approvals", () => {
    expect(Object.keys(OPS).filter((op) => /approv|ask/i.test(op))).toEqual([]);
    expect(ACTIONS.filter((a) => /approv|ask/i.test(a))).toEqual([]);
    for (const name of readdirSync("wit")) expect(readFileSync(join("wit", name), "utf8"), name).not.toMatch(/approv/i);
    expect(readFileSync("guest-sdk/index.ts", "utf8")).not.toMatch(/approv/i);
  });

  it("cannot write the mailbox: a log whose mailbox would be inside a mount is refused", () => {
    expect(() => t.kernel({ log: { dir: join(t.ws, "agent-log") } })).toThrow(/the approvals mailbox .* and mount \/workspace .* overlap: an agent could answer its own requests/);
  });
});

/**
 * What the tools case (conformance.js `tools`) must report on every host (Node, workerd,
 * Chromium). `calls` is what the MCP server was sent during the case.
 */
import { expect } from "vitest";
import type { SeenCall } from "./tools-server.js";

export function expectToolsCase(r: Record<string, any>, calls: SeenCall[]): void {
  expect(r.status, r.error).toBe("ok");
  const o = r.outcomes;
  // The listing has what the policy could allow: not wipe, which a rule denies.
  expect(o.list).toEqual({ ok: ["stamp", "remote/echo", "remote/add"] });
  expect(o.echo).toEqual({ ok: "hello from the edge" });
  // A structured result, checked by the SDK's client against the tool's output schema (cfworker, no code generation).
  expect(o.add).toEqual({ ok: { sum: 5 } });
  expect(o.wipe).toMatchObject({ error: "PermissionDenied", rule: "no-wipe" });
  expect(o.invalid).toMatchObject({ kind: "invalid" });
  expect(o.invalid.message).toMatch(/tool "remote\/echo": \/text: /);
  expect(o.stamp).toEqual({ ok: { stamped: 7, by: "tool-user" } });
  expect(o.stampInvalid).toMatchObject({ kind: "invalid" });
  expect(o.stampInvalid.message).toMatch(/tool "stamp": \/: /);
  // The server was sent the allowed calls only: neither the denied nor the invalid one.
  expect(calls).toEqual([
    { tool: "echo", args: { text: "hello from the edge" } },
    { tool: "add", args: { a: 2, b: 3 } },
  ]);
  // Denials: the policy's, then the two calls refused before any decision (the JSON path named).
  expect(r.denials).toEqual([
    expect.objectContaining({ action: "tool.call", resource: "remote/wipe", rule: "no-wipe", kind: "policy" }),
    expect.objectContaining({ action: "tool.call", kind: "invalid", reason: expect.stringMatching(/^invalid call: tool "remote\/echo": \/text: /) }),
    expect.objectContaining({ action: "tool.call", kind: "invalid", reason: expect.stringMatching(/^invalid call: tool "stamp": \/: /) }),
  ]);
  expect(r.events).toEqual([
    "tool.list  allow list-tools",
    "tool.call remote/echo allow remote-echo",
    "tool.call remote/add allow remote-add",
    "tool.call remote/wipe deny no-wipe",
    "tool.call  deny null",
    "tool.call stamp allow stamp",
    "tool.call  deny null",
  ]);
  expect(r.verified).toBe(true);
  expect(r.replay).toEqual({ status: "identical", same: true });
}

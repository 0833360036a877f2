/**
 * What the conformance cases (conformance.js) must report on every host: the same checks for
 * workerd and Chromium. `seen` is what the stand-in server was sent during the case.
 */
import { expect } from "vitest";

export function expectConformance(r: Record<string, any>, seen: string[]): void {
  // Allowed and denied calls, with their rules; the server saw only the allowed request.
  expect(r.fetched.status).toBe("ok");
  const output = JSON.parse(r.fetched.output);
  expect(output.body).toBe("from the stand-in: /allowed/one");
  expect(output.denied).toMatch(/denied by rule no-secret/);
  expect(r.fetched.denials).toEqual([expect.objectContaining({ action: "http.fetch", rule: "no-secret", kind: "policy" })]);
  expect(seen).toEqual(["/allowed/one"]);
  expect(r.events.filter((e: { type: string }) => e.type === "call").map((e: { action: string; effect: string; rule: string }) => `${e.action} ${e.effect} ${e.rule}`)).toEqual([
    "log.write allow base-log",
    "http.fetch allow stand-in",
    "http.fetch deny no-secret",
    "clock.now allow base-clock",
    "random.bytes allow base-random",
  ]);
  // Fuel, the deadline and the memory limit end runs with their reasons.
  expect(r.fuel).toEqual({ status: "killed", reason: "fuel" });
  expect(r.deadline).toEqual({ status: "killed", reason: "deadline" });
  expect(r.memory).toMatchObject({ status: "error", reason: "memory" });
  // SIGSTOP froze a spinner (no fuel spent while stopped) while a neighbour ran to the end.
  expect(r.stop.stateWhileStopped).toBe("stopped");
  expect(r.stop.fuelWhileStopped).toBe(r.stop.stoppedFuel);
  expect(r.stop.stoppedFuel).toBeGreaterThan(0);
  expect(r.stop).toMatchObject({ neighbour: "ok", neighbourOutput: "ticked", stateAfterCont: "running", killed: "killed", killedSignal: "SIGKILL" });
  // The chain verifies; the run replays identically (clock and randomness from the log).
  expect(r.verified.ok).toBe(true);
  expect(r.verified.count).toBeGreaterThan(10);
  expect(r.replay).toEqual({ status: "identical", output: r.fetched.output, same: true });
}

export function expectGuarded(r: Record<string, any>, seen: string[]): void {
  expect(r.status).toBe("ok");
  expect(r.answers).toHaveLength(4);
  expect(r.answers[0]).toMatch(/address guard: 127\.0\.0\.1 is loopback/);
  // (the standard profile denies the metadata address by a rule, before the guard)
  expect(r.answers[1]).toMatch(/denied by rule standard-cloud-metadata/);
  expect(r.answers[2]).toMatch(/address guard: localhost names this machine/);
  expect(r.answers[3]).toMatch(/address guard: ::ffff:7f00:1|address guard: ::ffff:127\.0\.0\.1/);
  expect(seen).toEqual([]);
}

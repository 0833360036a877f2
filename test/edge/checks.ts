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

/** What the model case must report, and what the stand-in model (`requests`) must have seen. */
export function expectModelCall(r: Record<string, any>, requests: { headers: Record<string, unknown>; body: Record<string, unknown> }[]): void {
  expect(r.status).toBe("ok");
  expect(JSON.parse(r.output)).toEqual({ content: "4, from the stand-in model", usage: { inputTokens: 12, outputTokens: 5 } });
  expect(r.tokens).toEqual({ input: 12, output: 5 });
  expect(r.calls).toEqual(["llm.chat gpt allow"]);
  // The key went to the model, and nowhere the agent or the log can see.
  expect(requests).toHaveLength(1);
  expect(requests[0].headers.authorization).toBe("Bearer sk-edge-model-test-4c1d9e");
  expect(requests[0].body).toMatchObject({ model: "gpt-edge", messages: [{ role: "user", content: "What is 2 + 2?" }] });
  expect(r.keyInLog).toBe(false);
  expect(r.keyInOutput).toBe(false);
  expect(r.verified).toBe(true);
  // Replay answers the model call from the log: the model is not asked again.
  expect(r.replay).toBe("identical");
}

/** Whether `text` holds the secret `value` in a form a leak could take (as it is, escaped, encoded, base64 at any alignment). */
function leaksSecret(text: string, value: string): boolean {
  const forms = [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value), "very-secret-91c4"];
  for (let k = 0; k < 3; k++) forms.push(Buffer.from(value.slice(k)).toString("base64").slice(0, 16));
  return forms.some((f) => text.includes(f));
}

/**
 * What the secrets case must report: `seen` is what the secret's origin was sent, `otherSeen`
 * what another origin was sent.
 */
export function expectSecrets(r: Record<string, any>, seen: { path: string; authorization: string | null }[], otherSeen: { path: string; authorization: string | null }[]): void {
  expect(r.status, r.error).toBe("ok");
  const mask = "[secret:stand-in-key]";
  // The secret's origin got the value on every hop (the agent's own Authorization dropped); the
  // redirect whose location held it was not followed; the other origin got no header.
  expect(seen).toEqual(
    ["raw", "gzip", "gzip-in-gzip", "br", "leak-location"].map((p) => ({ path: `/allowed/secrets/${p}`, authorization: `Bearer ${r.value}` })),
  );
  expect(otherSeen).toEqual([{ path: "/allowed/secrets/other", authorization: null }]);
  const a = r.answers;
  // Echoes come back scrubbed: in the body and a header, and once decoded (gzip the platform
  // undid, gzip inside it the kernel undid).
  expect(a.raw).toMatchObject({ status: 200, headers: { "x-echo": mask } });
  for (const name of ["raw", "gzip", "gzipInGzip"]) {
    expect(a[name].status, name).toBe(200);
    expect(a[name].body, name).toContain(`raw: ${mask}`);
    expect(a[name].body, name).toContain(`"authorization":"${mask}"`);
    expect(a[name].headers["content-encoding"], name).toBeUndefined();
  }
  // br: the kernel cannot tell whether the platform decoded it, nor decode it: refused.
  expect(a.br).toMatchObject({ error: "KernelError", kind: "io" });
  expect(a.br.message).toMatch(/cannot decode to scrub it/);
  expect(a.redirect.error).toBe("PermissionDenied");
  expect(a.redirect.message).toMatch(/its location holds a secret|this host does not show where/);
  expect(a.other).toEqual({ status: 200, headers: expect.anything(), body: "other origin; authorization: none" });
  // The value is nowhere the agent or the log can see; the result events name the secret.
  expect(leaksSecret(r.output, r.value)).toBe(false);
  expect(leaksSecret(r.logText, r.value)).toBe(false);
  expect(r.logText).toContain(mask);
  expect(r.fetchSecrets).toEqual([...Array(5).fill(["stand-in-key"]), null]);
  expect(r.verified).toBe(true);
  expect(r.replay).toEqual({ status: "identical", same: true });
}

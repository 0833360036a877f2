/**
 * A custom `Policy` object (KernelOptions.policy) is host code the kernel cannot vouch for. When
 * it throws or answers anything but a well-formed decision, every call is denied: the agent is
 * told so, the run lists the denial, the log records a deny, and the file is not written.
 */
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KernelSpace, type Decision, type Policy, type Request } from "../../dist/runtime/index.js";
import { moduleAgent, tempDir } from "./helpers.js";

const dir = tempDir("agent-os-custom-policy-");
afterAll(() => dir.remove());

/** A Policy whose decide() is `decide`, with everything else a loaded policy has. */
function customPolicy(decide: (request: Request) => unknown): Policy {
  return { name: "custom", hash: "0".repeat(64), defaultEffect: "deny", limits: {}, decide: decide as Policy["decide"] };
}

const allow = (rule = "custom-allow"): Decision => ({ effect: "allow", rule, reason: "allowed by the custom policy", matched: [rule] });

/** The agent writes a file, then reads the clock, and reports what each call answered. */
const writer = moduleAgent(
  "writer",
  `import { fs, clock } from "agent-os/guest";
  export async function run() {
    const out = [];
    for (const call of [() => fs.write("/workspace/pwned.txt", "pwned"), () => clock.now()]) {
      try { await call(); out.push("ok"); } catch (e) { out.push(e.name === "PermissionDenied" ? "denied" : String(e.kind ?? e.name)); }
    }
    return JSON.stringify(out);
  }`,
);

async function runUnder(name: string, policy: Policy): Promise<{ told: string[]; written: boolean; denials: { action: string; rule: string | null; kind: string; reason: string }[]; logged: { effect: string; rule: unknown }[] }> {
  const workspace = join(dir.path, name);
  mkdirSync(workspace);
  const kernel = new KernelSpace({ policy, log: false, pool: { warm: 0 }, mounts: { "/workspace": workspace } });
  try {
    const result = await kernel.execute(writer, "");
    expect(result.status, `${name}: ${result.error}`).toBe("ok");
    const logged: { effect: string; rule: unknown }[] = [];
    for await (const e of (await kernel.log).query({ runId: result.runId, type: "call" })) logged.push((e.data as { decision: { effect: string; rule: unknown } }).decision);
    return { told: JSON.parse(result.output!) as string[], written: existsSync(join(workspace, "pwned.txt")), denials: result.denials, logged };
  } finally {
    await kernel.close();
  }
}

/** A decision whose effect reads "deny" the first time and "allow" every time after. */
function turncoat(): unknown {
  let reads = 0;
  return {
    get effect() {
      return reads++ === 0 ? "deny" : "allow";
    },
    rule: "turncoat",
    reason: "changes its mind",
    matched: ["turncoat"],
  };
}

const JUNK: [string, (request: Request) => unknown][] = [
  ["throws an Error", () => { throw new Error("the policy broke"); }],
  ["throws a string", () => { throw "not even an Error"; }],
  ["throws an object whose message getter throws", () => { throw { get message() { throw new Error("again"); } }; }],
  ["returns null", () => null],
  ["returns undefined", () => undefined],
  ["returns a string", () => "allow"],
  ["returns a number", () => 1],
  ["returns true", () => true],
  ["returns an array", () => ["allow"]],
  ["returns a promise of an allow", async () => allow()],
  ["returns an object without an effect", () => ({ rule: "r", reason: "no effect", matched: [] })],
  ["returns an unknown effect", () => ({ ...allow(), effect: "permit" })],
  ["spells allow ALLOW", () => ({ ...allow(), effect: "ALLOW" })],
  ["spells allow with a space", () => ({ ...allow(), effect: " allow" })],
  ["spells allow with a NUL", () => ({ ...allow(), effect: "allow\0" })],
  ["gives a String object", () => ({ ...allow(), effect: new String("allow") })],
  ["gives allow without a reason", () => ({ effect: "allow", rule: null, matched: [] })],
  ["gives allow with a numeric rule", () => ({ ...allow(), rule: 42 })],
  ["gives allow with matched not a list", () => ({ ...allow(), matched: "custom-allow" })],
  ["gives allow through a proxy that throws on every read", () => new Proxy({}, { get: () => { throw new Error("trap"); } })],
  ["gives allow through an effect getter that throws", () => ({ ...allow(), get effect(): string { throw new Error("getter"); } })],
];

describe("a custom Policy that throws or answers junk denies every call", () => {
  it("control: the same setup with a well-formed allow writes the file (so the denials below are the policy's doing)", async () => {
    const outcome = await runUnder("control", customPolicy(() => allow()));
    expect(outcome.told).toEqual(["ok", "ok"]);
    expect(outcome.written).toBe(true);
    expect(outcome.denials).toEqual([]);
  });

  it.each(JUNK)("a policy that %s: every call denied, nothing written", async (name, decide) => {
    const slug = name.replace(/\W+/g, "-");
    const outcome = await runUnder(slug, customPolicy(decide));
    expect(outcome.told, name).toEqual(["denied", "denied"]);
    expect(outcome.written, name).toBe(false);
    expect(readdirSync(join(dir.path, slug)), name).toEqual([]);
    expect(outcome.denials.map((d) => [d.action, d.rule, d.kind]), name).toEqual([
      ["fs.write", null, "policy"],
      ["clock.now", null, "policy"],
    ]);
    for (const d of outcome.denials) expect(d.reason, name).toMatch(/^the policy (failed|gave no decision)/);
    expect(outcome.logged.map((d) => [d.effect, d.rule]), name).toEqual([
      ["deny", null],
      ["deny", null],
    ]);
  });

  it("a decision is read once: an effect that says deny to the first read and allow after is a deny, logged and done as one", async () => {
    const outcome = await runUnder("turncoat", customPolicy(turncoat));
    expect(outcome.told).toEqual(["denied", "denied"]);
    expect(outcome.written).toBe(false);
    expect(outcome.denials.map((d) => [d.action, d.rule, d.kind, d.reason])).toEqual([
      ["fs.write", "turncoat", "policy", "changes its mind"],
      ["clock.now", "turncoat", "policy", "changes its mind"],
    ]);
    expect(outcome.logged.map((d) => [d.effect, d.rule])).toEqual([
      ["deny", "turncoat"],
      ["deny", "turncoat"],
    ]);
  });
});

/**
 * Secrets from the command line: `agent-os run` with a policy's `secrets:` block and with
 * `--secret`, as a user runs it (a real child process, a real server on 127.0.0.1, a LevelDB
 * log read back with `agent-os log --json`); a policy that holds a value exits 2.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { agentOs, scratch } from "../cli/helpers.js";

const ENV = "AOS_CLI_SECRET";
const VALUE = "cli-secret-Vx81/kq+Z3";

const AGENT = `import { http } from "agent-os/guest";
export async function run(url) {
  try {
    const res = await http.fetch(url, { headers: { "X-Key": "guest-chosen", authorization: "guest-chosen" } });
    return res.text();
  } catch (error) {
    return "error: " + error.name + " " + (error.detail || error.reason || error.message);
  }
}
`;

const policy = (secrets: string) => `version: 1
rules:
  - id: basics
    action: [log.write, clock.now, random.bytes, "process.*"]
    effect: allow
  - id: loopback
    action: http.fetch
    resource: "http://127.0.0.1:*/**"
    effect: allow
${secrets}`;

let server: Server;
let origin: string;
const seen: IncomingHttpHeaders[] = [];
let dir: ReturnType<typeof scratch>;

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    res.end(JSON.stringify({ auth: req.headers.authorization, key: req.headers["x-key"] }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

beforeEach(() => {
  seen.length = 0;
  dir = scratch("agent-os-secrets-");
  process.env[ENV] = VALUE; // the child inherits the environment
});

afterEach(() => {
  delete process.env[ENV];
  dir.remove();
});

async function logText(): Promise<string> {
  const printed = await agentOs(dir.path, "log", "--json", "--log", "log");
  expect(printed.code, printed.stderr).toBe(0);
  return printed.stdout.replace(/\{"\$bytes":"([A-Za-z0-9+/=]*)"\}/g, (_m, b64: string) => JSON.stringify(Buffer.from(b64, "base64").toString("latin1")));
}

describe("agent-os run: secrets", () => {
  it("the policy's secrets: block injects the value; the agent, its output and the log see [secret:NAME]", async () => {
    dir.file("agent.js", AGENT);
    dir.file("policy.yaml", policy(`secrets:\n  - name: api\n    env: ${ENV}\n    origins: ["${origin}"]\n    header: Authorization\n    format: "Bearer {value}"\n`));
    const ran = await agentOs(dir.path, "run", "agent.js", "--policy", "policy.yaml", "--allow-private", "127.0.0.1", "--task", `${origin}/x`, "--log", "log");
    expect(ran.code, ran.stderr).toBe(0);
    expect(seen.map((h) => h.authorization)).toEqual([`Bearer ${VALUE}`]);
    expect(ran.stdout).toContain('"auth":"[secret:api]"');
    expect(ran.stdout + ran.stderr).not.toContain(VALUE);
    const log = await logText();
    expect(log).toContain('"secrets":["api"]');
    expect(log).not.toContain(VALUE);
    const lines = await agentOs(dir.path, "log", "--log", "log", "--type", "result");
    expect(lines.stdout).toMatch(/result {2}of #\d+ {2}ok {2}secrets api/);
  });

  it("--secret NAME=ENV@ORIGIN:HEADER injects too, and replaces the policy's secret of that name", async () => {
    dir.file("agent.js", AGENT);
    dir.file("policy.yaml", policy(`secrets:\n  - name: api\n    env: ${ENV}\n    origins: ["https://elsewhere.example"]\n    header: Authorization\n`));
    const ran = await agentOs(dir.path, "run", "agent.js", "--policy", "policy.yaml", "--allow-private", "127.0.0.1", "--secret", `api=${ENV}@${origin}:X-Key`, "--task", `${origin}/x`, "--log", "log");
    expect(ran.code, ran.stderr).toBe(0);
    expect(seen.map((h) => [h["x-key"], h.authorization])).toEqual([[VALUE, "guest-chosen"]]);
    expect(ran.stdout).toContain('{"auth":"guest-chosen","key":"[secret:api]"}');
    expect(await logText()).not.toContain(VALUE);
  });

  it("an unset variable fails the call with io and nothing is sent", async () => {
    delete process.env[ENV];
    dir.file("agent.js", AGENT);
    const ran = await agentOs(dir.path, "run", "agent.js", "--policy", dir.file("policy.yaml", policy("")), "--allow-private", "127.0.0.1", "--secret", `api=${ENV}@${origin}`, "--task", `${origin}/x`, "--no-log");
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toContain(`${ENV} is not set`);
    expect(seen).toEqual([]);
  });

  it("a policy that holds a value, or a malformed --secret, exits 2 without printing the value", async () => {
    dir.file("agent.js", AGENT);
    dir.file("policy.yaml", policy(`secrets:\n  - name: api\n    value: ghp_literal_in_policy\n    origins: ["${origin}"]\n    header: Authorization\n`));
    const ran = await agentOs(dir.path, "run", "agent.js", "--policy", "policy.yaml", "--no-log");
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain('secret "api": "value" is not allowed');
    expect(ran.stderr).not.toContain("ghp_literal_in_policy");
    const flag = await agentOs(dir.path, "run", "agent.js", "--secret", `api=ghp_pasted_token@${origin}`, "--no-log");
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("--secret api:");
    expect(flag.stderr).not.toContain("ghp_pasted_token");
    expect(seen).toEqual([]);
  });
});

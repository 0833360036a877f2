/**
 * Rate limits across kernel restarts and agent names (issue 13, item 11), through real kernels
 * on a real LevelDB log, real `agent-os run` processes and a real HTTP server on 127.0.0.1,
 * which is asked afterwards how many requests it served.
 */
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KernelSpace, loadPolicy, type KernelOptions } from "../../dist/runtime/index.js";
import type { RunResult } from "../../dist/runtime/types.js";
import { policyWith, tempDir } from "../kernel/helpers.js";

const bin = new URL("../../dist/runtime/cli/bin.js", import.meta.url).pathname;
let server: Server;
let origin: string;
let served = 0;
let dir: { path: string; remove(): void };
let logDir: string;

beforeAll(async () => {
  server = createServer((_req, res) => {
    served++;
    res.end("served");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  served = 0;
  dir = tempDir("agent-os-rates-");
  logDir = join(dir.path, "log");
  return () => dir.remove();
});

async function fetcher(task: string, { http }: { http: { fetch(url: string): Promise<{ status: number }> } }): Promise<string> {
  try {
    return `ok ${(await http.fetch(task)).status}`;
  } catch (e) {
    return `${(e as Error).name} ${(e as Error).message}`;
  }
}

const apiRule = () => ({ id: "api", action: "http.fetch", resource: `${origin}/**`, rate: "2/minute", effect: "allow" });

/** One kernel process's worth: a KernelSpace on the log, one run per name, then close. */
async function kernelRun(policy: KernelOptions["policy"], names: string[], fn: typeof fetcher = fetcher): Promise<RunResult[]> {
  const kernel = new KernelSpace({ policy, log: { dir: logDir }, allowPrivate: ["127.0.0.1"], pool: { warm: 1 } });
  try {
    const results: RunResult[] = [];
    for (const name of names) results.push(await kernel.execute(kernel.register(fn as never, { name }), `${origin}/items`));
    return results;
  } finally {
    await kernel.close();
  }
}

describe("rate windows survive a kernel restart", () => {
  it("three kernels one after another on the same log: the third run's call is denied with rate-limit", async () => {
    const outputs: (string | undefined)[] = [];
    const denials = [];
    for (let i = 0; i < 3; i++) {
      const [result] = await kernelRun(policyWith([apiRule()]), ["fetcher"]);
      outputs.push(result.output);
      denials.push(...result.denials);
    }
    expect(outputs).toEqual(["ok 200", "ok 200", expect.stringMatching(/^PermissionDenied denied by rule api: rate-limit: /)]);
    expect(denials).toEqual([expect.objectContaining({ rule: "api", reason: 'rate-limit: rule api allows 2/minute per agent and agent "fetcher" has reached it' })]);
    expect(served).toBe(2);

    // One loaded policy reused by every kernel is primed afresh from the log each time:
    // each logged call counts once (the window above is still full).
    const shared = loadPolicy(policyWith([{ ...apiRule(), rate: "4/minute" }]));
    const first = await kernelRun(shared, ["fetcher"]);
    const second = await kernelRun(shared, ["fetcher", "fetcher"]);
    expect([...first, ...second].map((r) => r.output)).toEqual(["ok 200", "ok 200", expect.stringMatching(/rate-limit/)]);
    expect(served).toBe(4);
  }, 180_000);

  it("the same code under another name shares the window, in one kernel and after a restart", async () => {
    const before = await kernelRun(policyWith([apiRule()]), ["one", "two", "three"]);
    expect(before.map((r) => r.output)).toEqual(["ok 200", "ok 200", expect.stringMatching(/rate-limit/)]);
    expect(before[2].denials[0].reason).toMatch(/^rate-limit: rule api allows 2\/minute per agent and the code of agent "three" \(sha256 [0-9a-f]{12}…\) has reached it, under this name or another$/);
    const after = await kernelRun(policyWith([apiRule()]), ["four"]);
    expect(after[0].output).toMatch(/the code of agent \\?"four\\?"/);
    // Other code under a fresh name has a window of its own.
    const other = async function otherFetcher(task: string, sdk: Parameters<typeof fetcher>[1]): Promise<string> {
      return `other ${(await sdk.http.fetch(task)).status}`;
    };
    const fresh = await kernelRun(policyWith([apiRule()]), ["five"], other as typeof fetcher);
    expect(fresh[0].output).toBe("other 200");
    expect(served).toBe(3);
  }, 180_000);

  it("three back-to-back agent-os run processes share one window", async () => {
    const agent = join(dir.path, "fetcher.js");
    writeFileSync(
      agent,
      `import { http } from "agent-os/guest";\n` +
        `export async function run(task) {\n  try { return "ok " + (await http.fetch(task)).status; } catch (e) { return e.name + " " + e.message; }\n}\n`,
    );
    const policy = join(dir.path, "rates.yaml");
    writeFileSync(policy, `version: 1\nname: rates\nrules:\n  - id: api\n    action: http.fetch\n    resource: "${origin}/**"\n    rate: 2/minute\n    effect: allow\n`);
    const outputs: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const { stdout } = await promisify(execFile)(process.execPath, [bin, "run", agent, "--policy", policy, "--task", `${origin}/items`, "--log", logDir, "--allow-private", "127.0.0.1", "--json"], {
        cwd: dir.path,
        timeout: 90_000,
      });
      const result = JSON.parse(stdout) as RunResult;
      outputs.push(result.output);
      if (i === 2) expect(result.denials).toEqual([expect.objectContaining({ rule: "api", reason: expect.stringMatching(/^rate-limit: rule api allows 2\/minute per agent and agent "fetcher" has reached it$/) })]);
    }
    expect(outputs).toEqual(["ok 200", "ok 200", expect.stringMatching(/^PermissionDenied denied by rule api: rate-limit/)]);
    expect(served).toBe(2);
  }, 300_000);
});

/**
 * Strings cross between host and guest by length, never as C strings: a NUL character is carried
 * in both directions, for every string (task, output, arguments, results, error messages, the
 * run's error), on both engines. One agent source (test/component/agents/engines.js) runs on
 * QuickJS and, built, on the component engine.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelSpace, type Agent, type RunResult } from "../../dist/runtime/index.js";
import { AGENTS, BUILD_TIMEOUT_MS, CACHE_DIR, prebuild } from "../component/helpers.js";
import { policyWith, tempDir } from "./helpers.js";

const ENGINES = ["quickjs", "component"] as const;
type Engine = (typeof ENGINES)[number];

/** Strings that a C string would cut: 8-bit and wide, short and with a multi-byte length. */
const WITH_NUL = ["a\0b", "\0", "before\0after\0", "é\0ü", "😀\0日本", `${"x".repeat(300)}\0${"y".repeat(70_000)}`];

const dir = tempDir("agent-os-strings-");
const ws = join(dir.path, "ws");
let kernel: KernelSpace;
const agents = {} as Record<Engine, Agent>;

beforeAll(async () => {
  await prebuild(["engines"]);
  mkdirSync(join(ws, "secret"), { recursive: true });
  kernel = new KernelSpace({
    policy: policyWith([
      { id: "secret", action: "fs.*", resource: "/ws/secret/**", effect: "deny", reason: "keep\0out" },
      { id: "ws", action: "fs.*", resource: "/ws/**", effect: "allow" },
    ]),
    log: false,
    pool: { warm: 1 },
    mounts: { "/ws": ws },
    cache: { dir: CACHE_DIR },
  });
  agents.quickjs = await kernel.load(AGENTS.engines);
  agents.component = await kernel.load(join(CACHE_DIR, "test-components", "engines.wasm"));
}, BUILD_TIMEOUT_MS);

afterAll(async () => {
  await kernel.close();
  dir.remove();
});

const run = (engine: Engine, task: string) => kernel.execute(agents[engine], task);
async function calls(result: RunResult): Promise<{ action: string; args: unknown[] }[]> {
  const out: { action: string; args: unknown[] }[] = [];
  for await (const e of (await kernel.log).query({ runId: result.runId, type: "call" })) out.push(e.data as { action: string; args: unknown[] });
  return out;
}

describe("on both engines", () => {
  it("the task reaches the guest whole and the output comes back whole", async () => {
    for (const engine of ENGINES) {
      for (const text of WITH_NUL) {
        const result = await run(engine, `echo ${text}`);
        expect(result.status, `${engine}: ${result.error}`).toBe("ok");
        expect(result.output === text, `${engine}: ${JSON.stringify(result.output?.slice(0, 40))}`).toBe(true);
      }
    }
  });

  it("a file read as text reaches the guest whole", async () => {
    for (const [i, text] of WITH_NUL.entries()) writeFileSync(join(ws, `nul-${i}.txt`), text);
    for (const engine of ENGINES) {
      for (const i of WITH_NUL.keys()) {
        // The guest returns the text JSON-escaped: only the way in is tested here.
        const result = await run(engine, `read /ws/nul-${i}.txt`);
        expect(result.status, `${engine}: ${result.error}`).toBe("ok");
        expect(JSON.parse(result.output!) === WITH_NUL[i], `${engine}: ${result.output!.slice(0, 60)}`).toBe(true);
      }
    }
  });

  it("text written and log messages reach the host whole; a path with a NUL is refused, never cut", async () => {
    const before = readdirSync(dir.path);
    for (const engine of ENGINES) {
      for (const [i, text] of WITH_NUL.entries()) {
        const written = await run(engine, `write ${JSON.stringify([`/ws/out-${engine}-${i}.txt`, text])}`);
        expect(written.status, `${engine}: ${written.error}`).toBe("ok");
        expect(readFileSync(join(ws, `out-${engine}-${i}.txt`), "utf8") === text, engine).toBe(true);
      }
      const logged = await run(engine, `log ${WITH_NUL[3]}`);
      expect(logged.status, `${engine}: ${logged.error}`).toBe("ok");
      const [call] = await calls(logged);
      expect(call.action).toBe("log.write");
      expect(call.args.slice(1), engine).toEqual([WITH_NUL[3], [["field", WITH_NUL[3]]]]);
      for (const path of ["/ws/cut.txt\0/../../escape.txt", "/ws/cut.txt\0", "/ws\0/../escape.txt"]) {
        const result = await run(engine, `write ${JSON.stringify([path, "x"])}`);
        expect(result.status, engine).toBe("error");
        expect(result.error, engine).toMatch(/invalid: .*NUL/);
        expect(existsSync(join(ws, "cut.txt")), engine).toBe(false);
      }
    }
    expect(readdirSync(dir.path)).toEqual(before);
  });

  it("error messages keep their NUL: the kernel's to the guest, the guest's to the caller", async () => {
    writeFileSync(join(ws, "secret", "key.txt"), "s3cret");
    for (const engine of ENGINES) {
      const denied = await run(engine, "denied /ws/secret/key.txt");
      expect(JSON.parse(denied.output!), engine).toEqual(["denied: keep\0out", { tag: "denied", val: { rule: "secret", reason: "keep\0out" } }]);
      for (const text of WITH_NUL.slice(0, 5)) {
        expect((await run(engine, `throw-error ${text}`)).error === `Error: ${text}`, engine).toBe(true);
        expect((await run(engine, `throw-string ${text}`)).error === text, engine).toBe(true);
      }
    }
  });

  it("an unpaired surrogate becomes U+FFFD both ways, as a WIT string is Unicode scalar values", async () => {
    for (const engine of ENGINES) {
      expect((await run(engine, "echo a\ud800b\udc00")).output, engine).toBe("a\ufffdb\ufffd");
      const logged = await run(engine, "log x\udbff");
      expect((await calls(logged))[0].args[1], engine).toBe("x\ufffd");
    }
  });
});

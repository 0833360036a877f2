/**
 * One source, two engines: the example agents and every signal and limit test, run on QuickJS
 * and on the component engine (the same source built by `agent-os build`), expecting the same
 * outputs, the same allowed and denied calls in the same order, and the same exit statuses.
 * Fuel units differ between the engines (see the README), so fuel is compared within an engine.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { KernelSpace, type Agent, type KernelOptions, type RunResult } from "../../dist/runtime/index.js";
import { assistantKernelOptions, startAssistantWorld } from "../../dist/examples/assistant/world.js";
import { startStandin } from "../../dist/examples/openai-agent/standin.js";
import { expectDeadlinePausedWhileStopped, policyWith, sleep, tempDir } from "../kernel/helpers.js";
import { AGENTS, BUILD_TIMEOUT_MS, CACHE_DIR, ROOT, prebuild } from "./helpers.js";

// Guests that count to millions on a shared two-core machine: slow under load is not wrong.
vi.setConfig({ testTimeout: 180_000 });

type EngineName = "quickjs" | "component";
/** An engine and how it is placed: QuickJS runs dedicated (a worker each) or shared (many per thread). */
type Label = EngineName | "quickjs shared" | "quickjs in-thread";

/** An engine, as the suite sees it: how a kernel loads an agent source for it. */
interface EngineFactory {
  label: Label;
  name: EngineName;
  /** The kernel options that place its runs (isolation, pool). */
  placement?: KernelOptions;
  load(kernel: KernelSpace, file: string): Promise<Agent>;
  /**
   * How much more work the engine does in the same time, roughly: StarlingMonkey's JIT-less
   * interpreter still outruns QuickJS. Only used to size loops that a signal must catch midway.
   */
  speed: number;
}

const ENGINES: EngineFactory[] = [
  { label: "quickjs", name: "quickjs", load: (kernel, file) => kernel.load(file), speed: 1 },
  { label: "component", name: "component", load: (kernel, file) => kernel.load(file, { engine: "component" }), speed: 1 },
  // The asynchronous engine: many agents per worker thread, and in the kernel's own thread.
  { label: "quickjs shared", name: "quickjs", placement: { isolation: "shared" }, load: (kernel, file) => kernel.load(file), speed: 1 },
  { label: "quickjs in-thread", name: "quickjs", placement: { pool: false }, load: (kernel, file) => kernel.load(file), speed: 1 },
];

/** What a run looks like from outside, for the comparison between engines. */
interface Observed {
  status: RunResult["status"];
  output?: string;
  reason?: string;
  signal?: string;
  calls: string[];
}
const observed = new Map<string, Partial<Record<Label, Observed>>>();

const expectedSum = (n: number) => {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += i % 7;
  return String(sum);
};

beforeAll(() => prebuild(["hello", "summarize", "hostile", "runaway", "memory-bomb", "conformance", "deps", "assistant", "openai-agent"]), BUILD_TIMEOUT_MS);

describe.each(ENGINES)("$label engine", (engine) => {
  const dir = tempDir(`agent-os-conformance-${engine.label.replace(" ", "-")}-`);
  const workspace = join(dir.path, "ws");
  const dbFile = join(dir.path, "app.db");
  let kernel: KernelSpace;
  let agents: Record<string, Agent>;

  const kernelFor = (options: KernelOptions = {}) =>
    new KernelSpace({
      policy: policyWith([
        { id: "ws", action: ["fs.*"], resource: "/workspace/**", effect: "allow" },
        { id: "db", action: "sql.query", resource: "main", operations: ["insert", "select"], effect: "allow" },
      ]),
      log: false,
      pool: { warm: 1 },
      mounts: { "/workspace": workspace },
      databases: { main: dbFile },
      cache: { dir: CACHE_DIR },
      // Ten minutes of running time: a run that should meet its fuel budget must not meet the
      // default 30 s deadline first on a loaded machine (the deadline tests set their own).
      limits: { wallTime: 10 * 60_000 },
      ...options,
      ...engine.placement,
      // (a test's own pool options apply to the workers; in-thread there are none)
      ...(engine.placement?.pool === false ? {} : options.pool ? { pool: options.pool } : {}),
    });

  /** Records what the run looked like; `output: false` for outputs that are random by design. */
  async function record(key: string, result: RunResult, options: { output?: boolean; kernel?: KernelSpace } = {}): Promise<RunResult> {
    const calls: string[] = [];
    for await (const e of (await (options.kernel ?? kernel).log).query({ runId: result.runId, type: "call" })) {
      const data = e.data as { action: string; resource: string; decision: { effect: string } };
      calls.push(`${data.action} ${data.resource} ${data.decision.effect}`);
    }
    const entry = observed.get(key) ?? {};
    entry[engine.label] = {
      status: result.status,
      calls,
      ...(result.output !== undefined && options.output !== false ? { output: result.output } : {}),
      ...(result.reason ? { reason: result.reason } : {}),
      ...(result.signal ? { signal: result.signal } : {}),
    };
    observed.set(key, entry);
    return result;
  }

  async function fuelMoving(proc: { usage: { fuel: number } }): Promise<number> {
    const t0 = Date.now();
    while (proc.usage.fuel === 0 && Date.now() - t0 < 10_000) await sleep(5);
    return proc.usage.fuel;
  }

  beforeAll(async () => {
    mkdirSync(workspace);
    writeFileSync(join(workspace, "notes.txt"), "first line\nsecond line has more words\n\nlast line\n");
    mkdirSync(join(workspace, "deps"));
    writeFileSync(join(workspace, "deps", "config.yaml"), "title: Notes\ninclude: ['*.md', '*.txt']\nexclude: ['draft-*']\n");
    writeFileSync(join(workspace, "deps", "a.md"), "# A\n\nsome words here\n");
    writeFileSync(join(workspace, "deps", "b.txt"), "one two\nthree\n");
    writeFileSync(join(workspace, "deps", "draft-c.md"), "not counted\n");
    writeFileSync(join(workspace, "deps", "d.js"), "// not counted\n");
    const db = new Database(dbFile);
    db.exec("CREATE TABLE summaries (path TEXT, words INTEGER); CREATE TABLE users (name TEXT)");
    db.close();
    kernel = kernelFor();
    agents = {};
    for (const name of ["hello", "summarize", "hostile", "runaway", "memory-bomb", "conformance", "deps"] as const) {
      agents[name] = await engine.load(kernel, AGENTS[name]);
    }
    expect(agents.hello.engine).toBe(engine.name);
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await kernel.close();
    dir.remove();
  });

  const task = (name: string, t: string, limits = {}) => kernel.execute(agents[name], t, { limits });

  describe("example agents", () => {
    it("hello greets and logs", async () => {
      const result = await record("hello", await task("hello", "Agent OS"));
      expect(result).toMatchObject({ status: "ok", output: "Hello from an isolate: Agent OS" });
    });

    it("summarize reads its workspace, writes the summary and records it in SQL", async () => {
      const result = await record("summarize", await task("summarize", "/workspace/notes.txt"));
      expect(result.status).toBe("ok");
      expect(result.output).toBe("3 lines, 9 words\nfirst line: first line\nlast line: last line");
      expect(readFileSync(join(workspace, "summary.txt"), "utf8")).toBe(result.output + "\n");
      const db = new Database(dbFile, { readonly: true });
      const rows = db.prepare("SELECT path, words FROM summaries").all();
      db.close();
      expect(rows).toContainEqual({ path: "/workspace/notes.txt", words: 9 });
    });

    it("deps imports its own TypeScript module and npm packages (yaml, picomatch), and reads, writes and logs", async () => {
      const result = await record("deps", await task("deps", "/workspace/deps"));
      expect(result).toMatchObject({ status: "ok" });
      const expected = "title: Notes\nfiles:\n  - name: a.md\n    lines: 2\n    words: 5\n  - name: b.txt\n    lines: 2\n    words: 3\n";
      expect(result.output).toBe(expected);
      expect(readFileSync(join(workspace, "deps", "report.yaml"), "utf8")).toBe(expected);
      expect(observed.get("deps")?.[engine.label]?.calls).toEqual([
        "fs.read /workspace/deps/config.yaml allow",
        "fs.list /workspace/deps allow",
        "fs.read /workspace/deps/a.md allow",
        "fs.read /workspace/deps/b.txt allow",
        "fs.write /workspace/deps/report.yaml allow",
        "log.write info allow",
      ]);
    });

    it("hostile is refused everything it tries", async () => {
      const result = await record("hostile", await task("hostile", ""));
      expect(result.status).toBe("ok");
      const attempts = JSON.parse(result.output!) as { name: string; outcome: string }[];
      expect(attempts).toHaveLength(12);
      for (const a of attempts) expect(a.outcome, a.name).not.toBe("ALLOWED");
      expect(result.denials.length).toBeGreaterThan(0);
    });

    it("runaway is stopped in its tight loop, resumed, and killed by its fuel budget", async () => {
      const proc = kernel.spawn(agents.runaway, "", { limits: { fuel: 50_000_000 * engine.speed } });
      expect(await fuelMoving(proc)).toBeGreaterThan(0);
      proc.signal("SIGSTOP");
      expect(await proc.stopped(5000)).toBe(true);
      const frozen = proc.usage.fuel;
      await sleep(100);
      expect(proc.usage.fuel).toBe(frozen);
      proc.signal("SIGCONT");
      const result = await record("runaway", await proc.wait());
      expect(result).toMatchObject({ status: "killed", signal: "SIGXCPU", reason: "fuel" });
    });

    it("memory-bomb meets its memory limit, and the kernel goes on", async () => {
      const result = await record("memory-bomb", await task("memory-bomb", "", { memory: 16 * 1024 * 1024 }));
      expect(result).toMatchObject({ status: "error", reason: "memory" });
      expect(await task("hello", "after")).toMatchObject({ status: "ok", output: "Hello from an isolate: after" });
    });
  });

  describe("signals", () => {
    it("SIGKILL ends a spinning agent", async () => {
      const proc = kernel.spawn(agents.conformance, "spin");
      expect(await fuelMoving(proc)).toBeGreaterThan(0);
      proc.signal("SIGKILL");
      const result = await record("sigkill", await proc.wait());
      expect(result).toMatchObject({ status: "killed", signal: "SIGKILL", reason: "signal" });
      expect(proc.state).toBe("killed");
    });

    it("SIGSTOP freezes a spinning agent (its fuel stops moving) and SIGCONT resumes it to the right answer", async () => {
      const n = 3_000_000 * engine.speed;
      const proc = kernel.spawn(agents.conformance, `count ${n}`);
      expect(await fuelMoving(proc)).toBeGreaterThan(0);
      proc.signal("SIGSTOP");
      expect(await proc.stopped(5000)).toBe(true);
      expect(proc.state).toBe("stopped");
      expect(kernel.ps().find((p) => p.pid === proc.pid)?.state).toBe("stopped");
      const frozen = proc.usage.fuel;
      await sleep(150);
      expect(proc.usage.fuel).toBe(frozen);
      proc.signal("SIGCONT");
      expect(proc.state).toBe("running");
      const result = await proc.wait();
      expect(result).toMatchObject({ status: "ok", output: expectedSum(n) });
      expect(result.usage.fuel).toBeGreaterThan(frozen);
    });

    it("SIGTERM: the next host call reports interrupted, and the agent may finish cleanly", async () => {
      const proc = kernel.spawn(agents.conformance, "polite");
      expect(await fuelMoving(proc)).toBeGreaterThan(0);
      proc.signal("SIGTERM");
      const result = await proc.wait();
      expect(result).toMatchObject({ status: "ok", output: "terminated: interrupted" });
    });

    it("SIGTERM is followed by SIGKILL after the grace period", async () => {
      const k = kernelFor({ termGraceMs: 100 });
      try {
        const proc = k.spawn(await engine.load(k, AGENTS.conformance), "spin");
        expect(await fuelMoving(proc)).toBeGreaterThan(0);
        proc.signal("SIGTERM");
        expect(await proc.wait()).toMatchObject({ status: "killed", signal: "SIGKILL" });
      } finally {
        await k.close();
      }
    });
  });

  describe("limits", () => {
    it("fuel exhaustion kills with SIGXCPU, reason fuel", async () => {
      const result = await record("fuel", await task("conformance", "spin", { fuel: 2_000_000 }));
      expect(result).toMatchObject({ status: "killed", signal: "SIGXCPU", reason: "fuel" });
      expect(result.usage.fuel).toBeGreaterThan(2_000_000);
    });

    it("the same program under the same budget uses the same fuel on every run", async () => {
      const used = [];
      for (let i = 0; i < 3; i++) used.push((await task("conformance", "count 200000")).usage.fuel);
      expect(used[0]).toBeGreaterThan(0);
      expect(new Set(used).size).toBe(1);
      const killedAt = [];
      for (let i = 0; i < 3; i++) killedAt.push((await task("conformance", "count 100000000", { fuel: 1_000_000 })).usage.fuel);
      expect(new Set(killedAt).size).toBe(1);
    });

    it("the deadline kills a runaway, reason deadline", async () => {
      const result = await record("deadline", await task("conformance", "spin", { wallTime: 200 }));
      expect(result).toMatchObject({ status: "killed", reason: "deadline" });
      expect(result.usage.wallMs).toBeGreaterThanOrEqual(190);
    });

    it("the deadline does not run while the agent is stopped, once it is running", async () => {
      // The kernel's clock is the test's: the agent works until it sees that clock move, so its
      // running time is what the test lets it be, however loaded the machine. Not compared
      // between engines: how many times it reads the clock depends on timing.
      let clock = 1_000_000;
      const k = kernelFor({ now: () => clock, pool: { warm: 1 } });
      try {
        const proc = k.spawn(await engine.load(k, AGENTS.conformance), "until-the-clock-moves", { limits: { wallTime: 3000 } });
        await expectDeadlinePausedWhileStopped(proc, () => (clock += 1000));
      } finally {
        await k.close();
      }
    });

    it("deep recursion and a nested JSON.stringify bomb end as guest errors, and the kernel goes on serving", async () => {
      // Not compared between engines: QuickJS runs out of stack where SpiderMonkey may run out of memory.
      const deep = await task("conformance", "deep");
      expect(deep.status).toBe("error");
      expect(deep.error).toMatch(/stack overflow|too much recursion|Maximum call stack|out of memory/i);
      expect((await task("conformance", "nested")).status).toBe("error");
      expect(await task("conformance", "count 1000")).toMatchObject({ status: "ok", output: expectedSum(1000) });
    });

    it("a memory bomb is contained: the guest sees out-of-memory, uncaught it fails the run with reason memory", async () => {
      for (const kind of ["bytes", "arrays", "strings"]) {
        const result = await record(`bomb ${kind}`, await task("conformance", kind, { memory: 16 * 1024 * 1024 }));
        expect(result, kind).toMatchObject({ status: "error", reason: "memory" });
      }
      const caught = await record("careful", await task("conformance", "careful", { memory: 16 * 1024 * 1024 }));
      expect(caught).toMatchObject({ status: "ok", output: "recovered: out of memory" });
    });

    it("the host-call limit ends a flood of calls", async () => {
      const result = await record("flood", await task("conformance", "flood", { hostCalls: 50 }));
      expect(result).toMatchObject({ status: "killed", reason: "limit" });
    });

    it("the output limit fails a run whose result is too large", async () => {
      const result = await record("big", await task("conformance", "big", { output: 1000 }));
      expect(result).toMatchObject({ status: "error", reason: "limit" });
    });

    it("a thrown error and a non-string result fail the run with the same message", async () => {
      expect(await record("throws", await task("conformance", "throws"))).toMatchObject({ status: "error", error: "TypeError: thrown on purpose" });
      expect(await record("number", await task("conformance", "number"))).toMatchObject({
        status: "error",
        error: "run() must return a string (or a promise of one), not number",
      });
    });

    it("Date, Math.random and crypto read the kernel's clock and randomness, recorded in the log", async () => {
      const result = await record("time", await task("conformance", "time"), { output: false });
      const [now, year, random, length] = JSON.parse(result.output!) as number[];
      expect(Math.abs(now - Date.now())).toBeLessThan(60_000);
      expect(year).toBe(new Date().getFullYear());
      expect(random).toBeGreaterThanOrEqual(0);
      expect(random).toBeLessThan(1);
      expect(length).toBe(4);
    });
  });

  describe("the assistant example (a model-driven tool loop)", () => {
    it("asks its model, runs the tools it chose, is refused what the injection asked, and answers", async () => {
      const world = await startAssistantWorld(join(dir.path, "assistant"));
      const k = new KernelSpace({ ...assistantKernelOptions(world, join(ROOT, "examples")), log: false, pool: { warm: 1 }, cache: { dir: CACHE_DIR } });
      try {
        const agent = await engine.load(k, AGENTS.assistant);
        expect(agent.engine).toBe(engine.name);
        // The ports differ between the engines' worlds: the record compares the calls without them.
        const result = await k.execute(agent, world.question);
        const ports = (text: string) => text.replaceAll(world.statusOrigin, "STATUS").replaceAll(world.collectorUrl, "COLLECTOR");
        await record("assistant", { ...result, output: ports(result.output ?? "") }, { kernel: k });
        const entry = observed.get("assistant")![engine.label]!;
        entry.calls = entry.calls.map(ports);
        expect(result.status, result.error).toBe("ok");
        expect(entry.calls).toEqual([
          "tool.list  allow",
          "llm.chat assistant allow",
          "fs.list /workspace allow",
          "llm.chat assistant allow",
          "fs.read /workspace/inbox.txt allow",
          "fs.read /workspace/notes.txt allow",
          "llm.chat assistant allow",
          "sql.query main deny",
          "log.write warn allow",
          "http.fetch COLLECTOR deny",
          "log.write warn allow",
          "llm.chat assistant allow",
          "sql.query main allow",
          "http.fetch STATUS/api/status allow",
          "llm.chat assistant allow",
        ]);
        expect(result.output).toContain("Open tickets: Rotate the staging certificates; Upgrade the log shipper.");
        expect(world.collectorRequests).toEqual([]);
        expect(world.statusRequests.map((r) => r.headers.authorization)).toEqual([`Bearer ${world.token}`]);
        expect(result.output).not.toContain(world.token);
        expect(result.usage.tokens.input).toBeGreaterThan(0);
      } finally {
        await k.close();
        await world.close();
      }
    });
  });

  describe("the openai-agent example (the openai package on the Web platform: fetch, timers, console)", () => {
    it("runs its tools loop through the kernel's fetch with the kernel's key, and logs its console line", async () => {
      const model = await startStandin(0);
      const key = "sk-conformance-0123456789";
      process.env.AGENT_OS_CONFORMANCE_OPENAI_KEY = key;
      const k = new KernelSpace({
        policy: join(ROOT, "examples/openai-agent/policy.yaml"),
        secrets: [{ name: "openai", env: "AGENT_OS_CONFORMANCE_OPENAI_KEY", origins: [model.url], header: "Authorization", format: "Bearer {value}" }],
        allowPrivate: ["127.0.0.1"],
        log: false,
        pool: { warm: 1 },
        cache: { dir: CACHE_DIR },
      });
      try {
        const agent = await engine.load(k, AGENTS["openai-agent"]);
        expect(agent.engine).toBe(engine.name);
        const result = await k.execute(agent, JSON.stringify({ question: "What is 12 times 7?", baseURL: `${model.url}/v1` }));
        const port = (text: string) => text.replaceAll(model.url, "MODEL");
        await record("openai-agent", result, { kernel: k });
        const entry = observed.get("openai-agent")![engine.label]!;
        entry.calls = entry.calls.map(port);
        expect(result.status, result.error).toBe("ok");
        expect(result.output).toBe("12 times 7 is 84.");
        // The SDK's own clock and randomness (Date, its timeout timer, an idempotency id) are
        // kernel calls too: the comparison between the engines covers them in order.
        const effects = entry.calls.filter((c) => !/^(clock\.now|random\.bytes) /.test(c));
        expect(effects).toEqual([
          "http.fetch MODEL/v1/chat/completions allow",
          "log.write info allow",
          "http.fetch MODEL/v1/chat/completions allow",
        ]);
        expect(model.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${key}`, `Bearer ${key}`]);
        expect(result.output).not.toContain(key);
      } finally {
        await k.close();
        await model.close();
        delete process.env.AGENT_OS_CONFORMANCE_OPENAI_KEY;
      }
    });
  });

  describe("processes and resources", () => {
    it("20 agents spawned and killed at random leave no worker behind", async () => {
      const k = kernelFor({ pool: { warm: 2 } });
      const agent = await engine.load(k, AGENTS.conformance);
      const procs = Array.from({ length: 20 }, (_, i) => k.spawn(agent, i % 3 === 0 ? "count 50000" : "spin"));
      for (const proc of [...procs].sort(() => Math.random() - 0.5)) {
        await sleep(Math.random() * 10);
        proc.signal(Math.random() < 0.8 ? "SIGKILL" : "SIGTERM");
      }
      const results = await Promise.all(procs.map((p) => p.wait()));
      expect(results.every((r) => r.status === "killed" || r.status === "ok")).toBe(true);
      expect(k.ps()).toEqual([]);
      await k.close();
      expect(k.workerCount).toBe(0);
    });
  });
});

describe("every engine and placement", () => {
  it("give the same outputs, statuses and allowed and denied calls, in the same order", () => {
    expect(observed.size).toBeGreaterThan(10);
    for (const [key, byEngine] of observed) {
      expect(byEngine.quickjs, `${key} on quickjs`).toBeDefined();
      for (const label of ["component", "quickjs shared", "quickjs in-thread"] as const) {
        expect(byEngine[label], `${key} on ${label}`).toEqual(byEngine.quickjs);
      }
    }
  });
});

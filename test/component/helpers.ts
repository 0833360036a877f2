/**
 * Components for the tests, built by `agent-os build` (the library function) and prepared
 * (transpiled, instrumented) once per content hash, in the repository's `.agent-os/cache`.
 *
 * Building takes seconds and hundreds of megabytes: a lock (a directory, created atomically)
 * keeps two vitest workers from building at the same time; the second one then finds
 * everything in the cache. A lock whose owner is gone is taken over.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { KernelSpace, buildComponent } from "../../dist/runtime/index.js";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const CACHE_DIR = join(ROOT, ".agent-os", "cache");
/** Building the cold cache can take minutes on a loaded two-core machine. */
export const BUILD_TIMEOUT_MS = 20 * 60_000;

/** Every agent the component tests build: keep this list short, each is a 12 MB component. */
export const AGENTS = {
  hello: join(ROOT, "examples/hello/agent.js"),
  summarize: join(ROOT, "examples/summarize/agent.js"),
  hostile: join(ROOT, "examples/hostile/agent.js"),
  runaway: join(ROOT, "examples/runaway/agent.js"),
  "memory-bomb": join(ROOT, "examples/memory-bomb/agent.js"),
  conformance: join(ROOT, "test/component/agents/conformance.js"),
  ambient: join(ROOT, "test/component/agents/ambient.js"),
  engines: join(ROOT, "test/component/agents/engines.js"),
  /** Imports its own TypeScript module and two npm packages (yaml, picomatch). */
  deps: join(ROOT, "test/component/agents/deps.js"),
  "llm-adder": join(ROOT, "test/llm/agents/adder/agent.js"),
  /** Lists and calls tools as its task says (the tools capability). */
  toolbox: join(ROOT, "test/tools/agents/toolbox/agent.js"),
  /** setTimeout and setInterval, as its task says (the timers tests). */
  timers: join(ROOT, "test/component/agents/timers.js"),
  /** The tool-using assistant example (llm.chat, fs, sql, http). */
  assistant: join(ROOT, "examples/assistant/agent.js"),
  /** An agent written with the openai package (the Web platform: fetch, timers, console). */
  "openai-agent": join(ROOT, "examples/openai-agent/agent.js"),
} as const;

export type AgentName = keyof typeof AGENTS;

const LOCK = join(CACHE_DIR, ".test-build.lock");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(CACHE_DIR, { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, "pid"), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      let owner = NaN;
      try {
        owner = Number(readFileSync(join(LOCK, "pid"), "utf8"));
      } catch {
        // being created or removed right now
      }
      if (Number.isInteger(owner) && owner > 0 && !alive(owner)) rmSync(LOCK, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/**
 * Makes sure the named agents are built and prepared in the cache; returns the built files
 * (`<cache>/test-components/<name>.wasm`).
 */
export async function prebuild(names: AgentName[]): Promise<Record<string, string>> {
  return withLock(async () => {
    const out: Record<string, string> = {};
    const kernel = new KernelSpace({ log: false, pool: { warm: 0 }, cache: { dir: CACHE_DIR } });
    try {
      for (const name of names) {
        const built = await buildComponent(AGENTS[name], { cache: { dir: CACHE_DIR } });
        const file = join(CACHE_DIR, "test-components", `${name}.wasm`);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, built.component);
        await kernel.load(file); // prepares it (transpile, instrument) into the cache
        out[name] = file;
      }
    } finally {
      await kernel.close();
    }
    return out;
  });
}

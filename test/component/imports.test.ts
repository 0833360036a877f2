/**
 * What `agent-os build` produces imports nothing but the kernel: every component the tests
 * build is listed, import by import, and anything outside `agentos:kernel/*@0.1.0` and the six
 * WASI interfaces of StarlingMonkey's timers (which the kernel backs with its own clock) fails
 * the test.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { inspectComponent } from "../../dist/runtime/index.js";
import { AGENTS, BUILD_TIMEOUT_MS, prebuild, type AgentName } from "./helpers.js";

const KERNEL_INTERFACES = ["types", "fs", "http", "sql", "log", "clock", "random", "process", "llm", "tools"].map((i) => `agentos:kernel/${i}@0.1.0`);
/** The WASI of timers: clocks, poll, and what poll and stderr drag in (streams, error). */
const TIMER_WASI = ["io/poll", "clocks/monotonic-clock", "io/error", "io/streams", "cli/stderr", "clocks/wall-clock"].map((i) => `wasi:${i}@0.2.12`);
let built: Record<string, string>;

beforeAll(async () => {
  built = await prebuild(Object.keys(AGENTS) as AgentName[]);
}, BUILD_TIMEOUT_MS);

describe("every built component", () => {
  it("imports only agentos:kernel/* interfaces and the WASI of timers, and exports run(task)", async () => {
    expect(Object.keys(built).sort()).toEqual(Object.keys(AGENTS).sort());
    for (const [name, file] of Object.entries(built)) {
      const report = await inspectComponent(new Uint8Array(readFileSync(file)), file);
      const foreign = report.imports.filter((i) => !KERNEL_INTERFACES.includes(i) && !TIMER_WASI.includes(i));
      expect(foreign, `${name} imports something the kernel does not provide`).toEqual([]);
      // (no filesystem, sockets, environment, random or HTTP of WASI)
      expect([...report.wit.matchAll(/wasi:[\w-]+\/[\w-]+/g)].map((m) => m[0]).filter((i) => !TIMER_WASI.some((w) => w.startsWith(i + "@"))), name).toEqual([]);
      expect(report.exports, name).toEqual(["run: func(task: string) -> result<string, string>"]);
      expect(report.fits, name).toEqual({ ok: true });
      expect(report.producers.some((p) => p.startsWith("ComponentizeJS")), name).toBe(true);
    }
  });
});

/**
 * What `agent-os build` produces imports nothing but the kernel: every component the tests
 * build is listed, import by import, and anything outside `agentos:kernel/*@0.1.0` (a WASI
 * interface above all) fails the test.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { inspectComponent } from "../../dist/runtime/index.js";
import { AGENTS, BUILD_TIMEOUT_MS, prebuild, type AgentName } from "./helpers.js";

const KERNEL_INTERFACES = ["types", "fs", "http", "sql", "log", "clock", "random", "process", "llm", "tools"].map((i) => `agentos:kernel/${i}@0.1.0`);
let built: Record<string, string>;

beforeAll(async () => {
  built = await prebuild(Object.keys(AGENTS) as AgentName[]);
}, BUILD_TIMEOUT_MS);

describe("every built component", () => {
  it("imports only agentos:kernel/* interfaces and exports run(task)", async () => {
    expect(Object.keys(built).sort()).toEqual(Object.keys(AGENTS).sort());
    for (const [name, file] of Object.entries(built)) {
      const report = await inspectComponent(new Uint8Array(readFileSync(file)), file);
      const foreign = report.imports.filter((i) => !KERNEL_INTERFACES.includes(i));
      expect(foreign, `${name} imports something the kernel does not provide`).toEqual([]);
      expect(report.wit, name).not.toMatch(/wasi:/);
      expect(report.exports, name).toEqual(["run: func(task: string) -> result<string, string>"]);
      expect(report.fits, name).toEqual({ ok: true });
      expect(report.producers.some((p) => p.startsWith("ComponentizeJS")), name).toBe(true);
    }
  });
});

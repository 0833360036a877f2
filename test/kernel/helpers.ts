import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KernelSpace, type Agent, type KernelOptions } from "../../dist/runtime/index.js";

/** An agent module from source text (the same shape kernel.load() returns). */
export function moduleAgent(name: string, source: string): Agent {
  return { name, kind: "module", engine: "quickjs", source, codeHash: name };
}

/** A policy that allows what agents need to run at all, plus the given rules. */
export function policyWith(rules: Record<string, unknown>[] = []): Record<string, unknown> {
  return {
    version: 1,
    name: "test",
    default: "deny",
    rules: [{ id: "basics", action: ["log.write", "clock.now", "random.bytes", "process.*"], effect: "allow" }, ...rules],
  };
}

export function kernelFor(options: KernelOptions = {}): KernelSpace {
  return new KernelSpace({ policy: policyWith(), log: false, pool: { warm: 1 }, ...options });
}

export function tempDir(prefix = "agent-os-test-"): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The agent-os command as a user runs it: a real child process, real exit codes and streams. */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const BIN = new URL("../../dist/runtime/cli/bin.js", import.meta.url).pathname;

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `agent-os ...args` in `cwd` to its end. */
export function agentOs(cwd: string, ...args: string[]): Promise<Ran> {
  return finished(start(cwd, ...args));
}

/** Starts `agent-os ...args` in `cwd`; read it with {@link finished} and {@link waitForStderr}. */
export function start(cwd: string, ...args: string[]): ChildProcess & { out: string; err: string } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] }) as ChildProcess & { out: string; err: string };
  child.out = "";
  child.err = "";
  child.stdout!.setEncoding("utf8").on("data", (c: string) => (child.out += c));
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (child.err += c));
  // Its end is taken from the start: a child that has already closed when finished() is called is still seen.
  closes.set(child, new Promise((resolve) => child.once("close", (code, signal) => resolve({ code, signal }))));
  return child;
}

const closes = new WeakMap<ChildProcess, Promise<{ code: number | null; signal: NodeJS.Signals | null }>>();

/** Waits for the child's end (at most `timeoutMs`, then it is killed and the test fails). */
export function finished(child: ChildProcess & { out: string; err: string }, timeoutMs = 120_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`agent-os did not end within ${timeoutMs} ms; stderr: ${child.err}`));
    }, timeoutMs);
    const closed = closes.get(child) ?? new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once("close", (code, signal) => done({ code, signal })));
    void closed.then(({ code, signal }) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: child.out, stderr: child.err });
    });
  });
}

/** Resolves once the child's stderr matches `pattern` (fails after `timeoutMs`). */
export async function waitForStderr(child: { err: string; exitCode: number | null }, pattern: RegExp, timeoutMs = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!pattern.test(child.err)) {
    if (child.exitCode !== null) throw new Error(`agent-os ended (${child.exitCode}) before printing ${pattern}; stderr: ${child.err}`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`agent-os did not print ${pattern} within ${timeoutMs} ms; stderr: ${child.err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A scratch directory with helpers to write files into it. */
export function scratch(prefix = "agent-os-cli-"): { path: string; file(name: string, text: string): string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {
    path,
    file(name, text) {
      const file = join(path, name);
      writeFileSync(file, text);
      return file;
    },
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

/**
 * A nats-server with JetStream for the cluster bench: started on a free port on 127.0.0.1 with
 * a random token and file storage in a scratch directory, which `close()` removes. The cluster
 * tests start theirs with the same pieces (spawnNats, freePort).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface BenchNats {
  readonly url: string;
  readonly token: string;
  /** Stops the server (SIGTERM, SIGKILL after 5 s) and removes its storage. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts nats-server (it must be on the PATH).
 * @example const nats = await startBenchNats(); try { ... } finally { await nats.close(); }
 * @throws Error when it does not start within 20 s (its output in the message).
 */
export async function startBenchNats(): Promise<BenchNats> {
  const dir = mkdtempSync(join(tmpdir(), "agent-os-bench-nats-"));
  const token = randomBytes(16).toString("hex");
  const port = await freePort();
  const { proc, exited, ready } = spawnNats(["-js", "-sd", join(dir, "js"), "-p", String(port), "-a", "127.0.0.1", "--auth", token]);
  const close = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await ready;
  } catch (error) {
    await close();
    throw error;
  }
  return { url: `nats://127.0.0.1:${port}`, token, close };
}

/**
 * Starts nats-server with `args`: `exited` resolves when it exits, `ready` once it says it is
 * ready (rejected when it exits first or takes over 20 s, with its output).
 * @example const { proc, ready } = spawnNats(["-js", "-p", "4222"]); await ready;
 */
export function spawnNats(args: string[]): { proc: ChildProcess; exited: Promise<void>; ready: Promise<void> } {
  const proc = spawn("nats-server", args, { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  return { proc, exited, ready: whenReady(proc, exited) };
}

function whenReady(proc: ChildProcess, exited: Promise<void>): Promise<void> {
  let output = "";
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server did not start within 20 s: ${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/Server is ready/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on("data", onData);
    proc.stderr!.on("data", onData);
    proc.once("error", (error) => reject(new Error(`cannot start nats-server (is it installed?): ${error.message}`)));
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited: ${output}`));
    });
  });
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A real nats-server with JetStream for the cluster tests: started on a free port on
 * 127.0.0.1 with a token and file storage in a scratch directory; it can be stopped and started
 * again on the same port and storage (a restart).
 */
import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, spawnNats } from "../../dist/bench/cluster-nats.js";

export interface NatsServer {
  readonly url: string;
  readonly token: string;
  readonly dir: string;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** Starts it again on the same port and storage. */
  start(): Promise<void>;
  /** Stops it and removes its storage. */
  close(): Promise<void>;
}

/** Whether nats-server is installed (`.ci/run` installs it with apt-get). */
export function hasNatsServer(): boolean {
  return spawnSync("nats-server", ["--version"], { encoding: "utf8" }).status === 0;
}

/**
 * Starts a server that takes `token`, or, with `nkey` (a user's public nkey), only that user,
 * and with `tls` only TLS connections (through a configuration file: the command line has no
 * flag for nkeys).
 */
export async function startNats(options: { token?: string; nkey?: string; tls?: { cert: string; key: string } } = {}): Promise<NatsServer> {
  const token = options.token ?? "test-token-" + Math.random().toString(36).slice(2);
  const dir = mkdtempSync(join(tmpdir(), "agent-os-nats-"));
  const port = await freePort();
  const config = join(dir, "server.conf");
  const auth = options.nkey ? `authorization { users = [ { nkey: "${options.nkey}" } ] }` : `authorization { token: "${token}" }`;
  const tls = options.tls ? `tls { cert_file: "${options.tls.cert}", key_file: "${options.tls.key}" }` : "";
  if (options.nkey || options.tls) writeFileSync(config, `listen: "127.0.0.1:${port}"\njetstream { store_dir: "${join(dir, "js")}" }\n${auth}\n${tls}\n`);
  const args = options.nkey || options.tls ? ["-c", config] : ["-js", "-sd", join(dir, "js"), "-p", String(port), "-a", "127.0.0.1", "--auth", token];
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const started = spawnNats(args);
    child = started.proc;
    await started.ready;
  };
  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return {
    url: `${options.tls ? "tls" : "nats"}://127.0.0.1:${port}`,
    token,
    dir,
    stop,
    start,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The flags that reach a cluster, shared by every command that talks to one (node, submit, ps,
 * signal, policy push, verify --cluster, log --nats): the same names, help and parsing.
 */
import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";
import { openCluster, type ClusterConnectOptions, type ClusterConnection } from "../cluster/connect.js";
import type { FlagSpec } from "./args.js";

export const NATS_FLAGS: Record<string, FlagSpec> = {
  nats: { type: "string", value: "URL", help: "the cluster's NATS server, nats://HOST:PORT (several: comma-separated)" },
  token: { type: "string", value: "TOKEN", help: "the cluster's token (default: the AGENT_OS_NATS_TOKEN environment variable)" },
  nkey: { type: "string", value: "FILE", help: "authenticate with the nkey seed in FILE instead of a token" },
  "tls-ca": { type: "string", value: "FILE", help: "require TLS, trusting this CA certificate (PEM)" },
  prefix: { type: "string", value: "NAME", help: "the cluster's subject and stream prefix (default agent-os)" },
};

/**
 * The connection options from parsed flags. Errors name `command`.
 * @throws UsageError without --nats, or for an nkey file that cannot be read.
 */
export function clusterOptionsFrom(flags: Record<string, unknown>, command: string): { url: string; options: ClusterConnectOptions } {
  const url = flags.nats as string | undefined;
  if (url === undefined || url === "") throw new UsageError(`${command}: --nats URL is required (the cluster's NATS server)`);
  const options: ClusterConnectOptions = { name: `agent-os ${command}` };
  if (flags.token !== undefined) options.token = flags.token as string;
  if (flags.nkey !== undefined) {
    try {
      options.nkeySeed = readFileSync(flags.nkey as string, "utf8");
    } catch (error) {
      throw new UsageError(`${command}: --nkey ${flags.nkey as string}: cannot read the seed file (${(error as Error).message})`, { cause: error });
    }
  }
  if (flags["tls-ca"] !== undefined) options.tlsCa = flags["tls-ca"] as string;
  if (flags.prefix !== undefined) options.prefix = flags.prefix as string;
  return { url, options };
}

/** Connects with the flags' options (see clusterOptionsFrom and openCluster). */
export function openClusterFrom(flags: Record<string, unknown>, command: string): Promise<ClusterConnection> {
  const { url, options } = clusterOptionsFrom(flags, command);
  return openCluster(url, options);
}

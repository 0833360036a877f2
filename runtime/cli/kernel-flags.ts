/**
 * The kernel's flags, shared by `agent-os run` and `agent-os mcp`: the same names, the same help
 * and the same parsing into KernelOptions (run-options.ts, run-models.ts), so that both commands
 * give an agent exactly the same world for the same flags.
 */
import { dnsResolver } from "../hosts/node/net/net-dns.js";
import { LogError, UsageError } from "../errors.js";
import type { KernelOptions, KernelSpace } from "../kernel/kernel.js";
import { parseDuration } from "../policy/units.js";
import type { ModelSpec } from "../types.js";
import type { VerificationOptions } from "../verify/settings.js";
import type { FlagSpec } from "./args.js";
import { approvalsFrom, databasesFrom, limitFlag, limitsFrom, mountsFrom, secretsFrom } from "./run-options.js";
import { modelsFrom, parseProviderModel, tokensFrom } from "./run-models.js";
import { parseMcpFlags } from "./mcp-flag.js";

/** The flags that configure the kernel: policy, world, limits, models, verification, log. */
export const KERNEL_FLAGS: Record<string, FlagSpec> = {
  policy: { type: "string", value: "NAME|FILE", help: "built-in policy name or YAML file (default: strict)" },
  mount: { type: "list", value: "/GUEST=HOST[:ro|:rw][,hardlinks]", help: "map a guest path onto a host directory (repeatable, each guest path once); hardlinks: allow files with other hard links" },
  db: { type: "list", value: "NAME=FILE[:ro]", help: "name a SQLite database file; a :ro file must exist (repeatable, each name once)" },
  secret: {
    type: "list",
    value: "NAME=ENV@ORIGIN[:HEADER[:FORMAT]]",
    help: "inject the host variable ENV as a header on requests to ORIGIN (repeatable; see Secrets below)",
  },
  "allow-private": { type: "list", value: "HOST|CIDR", help: "let agents reach this private or loopback address (repeatable)" },
  dns: { type: "list", value: "SERVER[:PORT]", help: "resolve agents' host names with this DNS server, not the system's (repeatable)" },
  fuel: { type: "string", value: "N", help: "fuel budget (overrides the policy)" },
  memory: { type: "string", value: "SIZE", help: "guest heap limit, e.g. 64MiB or plain bytes, at most 1GiB (overrides the policy)" },
  timeout: { type: "string", value: "DURATION", help: "wall-time limit, e.g. 30s or plain milliseconds (overrides the policy); stopped time does not count" },
  verifier: {
    type: "list",
    value: "PROVIDER:MODEL[@URL]",
    help: "a model asked when a rule's effect is verify (repeatable; see Verification below)",
  },
  model: {
    type: "list",
    value: "ALIAS=PROVIDER:MODEL[@URL]",
    help: "a model agents may call with llm.chat by ALIAS (repeatable; overrides the policy's models: per alias; see Models below)",
  },
  tokens: { type: "string", value: "N", help: "model tokens (input + output) the run may use (overrides the policy)" },
  mcp: {
    type: "list",
    value: "NAME=URL|CMD",
    help: 'an MCP server whose tools agents may call as NAME/TOOL: NAME=URL (Streamable HTTP) or "NAME=COMMAND ARG..." (stdio; split as a shell would, no expansion; it gets only PATH of this environment); repeatable',
  },
  threshold: { type: "string", value: "SHARE", help: "share of verifier models that must approve, 0 to 1 (default: the policy's, else 1)" },
  "verifier-timeout": { type: "string", value: "DURATION", help: "time each verifier model has to answer, e.g. 10s (default: the policy's, else 10s)" },
  log: { type: "string", value: "DIR", help: "episodic log directory (default: .agent-os/log)" },
  "no-log": { type: "boolean", help: "keep the episodic log in memory only" },
  approvals: { type: "boolean", help: "let a person answer rules with effect ask (agent-os approve|deny on this log); without it, ask denies at once" },
  "approvals-policy": { type: "string", value: "FILE", help: "the YAML policy file agent-os approve --scope always adds allow rules to (implies --approvals)" },
  "approval-timeout": { type: "string", value: "DURATION", help: "how long a person has to answer when the rule does not say, e.g. 2m (default 5m; implies --approvals)" },
};

/**
 * The kernel's options from parsed flags (see KERNEL_FLAGS). Errors name `command`.
 *
 * @example new KernelSpace(kernelOptionsFrom(parseArgs(argv, FLAGS, "mcp").flags, "mcp"))
 * @throws UsageError naming the flag and what is wrong with it.
 */
export function kernelOptionsFrom(flags: Record<string, unknown>, command: string): KernelOptions {
  if (flags.log !== undefined && flags["no-log"]) throw new UsageError(`${command}: --log and --no-log cannot go together`);
  try {
    return {
      policy: (flags.policy as string | undefined) ?? "strict",
      mounts: mountsFrom(flags.mount as string[] | undefined),
      databases: databasesFrom(flags.db as string[] | undefined, command),
      allowPrivate: (flags["allow-private"] as string[] | undefined) ?? [],
      secrets: secretsFrom(flags.secret as string[] | undefined),
      ...(flags.dns !== undefined ? { resolver: dnsResolver(flags.dns as string[]) } : {}),
      limits: { ...limitsFrom(flags), ...tokensFrom(flags.tokens) },
      ...modelsFrom(flags.model as string[] | undefined),
      ...(flags.mcp !== undefined ? { mcp: parseMcpFlags(flags.mcp as string[]) } : {}),
      log: flags["no-log"] ? false : { dir: (flags.log as string | undefined) ?? ".agent-os/log" },
      pool: { warm: 1 },
      ...verificationFlags(flags),
      ...approvalsFrom(flags),
    };
  } catch (error) {
    // The shared parsers name the run command; say the one the operator typed.
    if (error instanceof UsageError && command !== "run" && error.message.startsWith("run: ")) {
      throw new UsageError(`${command}: ${error.message.slice(5)}`, { cause: error });
    }
    throw error;
  }
}

/**
 * A log that cannot be opened is a configuration error (a bad --log, a log in use), and so is
 * an MCP server (--mcp) that does not start: both are found before any agent runs.
 */
export async function openedLog(kernel: KernelSpace, flags: Record<string, unknown> = {}): Promise<void> {
  try {
    await kernel.log;
  } catch (error) {
    if (error instanceof LogError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
  if (flags.mcp !== undefined) await kernel.listTools();
}

/**
 * `--verifier openai:gpt-4o` as a model: PROVIDER:MODEL, optionally @ an http(s) base URL.
 *
 * @example parseVerifierFlag("openai:llama3@http://127.0.0.1:11434/v1") // { provider: "openai", model: "llama3", baseUrl: "http://127.0.0.1:11434/v1" }
 * @throws UsageError naming the flag and the accepted form.
 */
export function parseVerifierFlag(value: string): ModelSpec {
  const model = parseProviderModel(value);
  if (!model) {
    throw new UsageError(
      `run: --verifier ${value}: expected PROVIDER:MODEL or PROVIDER:MODEL@URL, with PROVIDER openai or anthropic and an http(s) URL (e.g. openai:gpt-4o, openai:llama3@http://127.0.0.1:11434/v1)`,
    );
  }
  return model;
}

function verificationFlags(flags: Record<string, unknown>): { verification?: VerificationOptions } {
  const verification: VerificationOptions = {};
  const models = ((flags.verifier as string[] | undefined) ?? []).map(parseVerifierFlag);
  if (models.length > 0) verification.models = models;
  const threshold = flags.threshold as string | undefined;
  if (threshold !== undefined) {
    const share = /^(0|1|0?\.\d+|1\.0*)$/.test(threshold) ? Number(threshold) : NaN;
    if (!(share >= 0 && share <= 1)) throw new UsageError(`run: --threshold ${threshold}: expected a share of models from 0 to 1 (e.g. 0.8)`);
    verification.threshold = share;
  }
  const timeout = limitFlag(flags["verifier-timeout"], parseDuration, "verifier-timeout");
  if (timeout !== undefined) verification.timeout = timeout;
  return Object.keys(verification).length > 0 ? { verification } : {};
}

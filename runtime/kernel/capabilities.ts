/**
 * Builds the capabilities of one run from the kernel's options. Each run gets its own quota
 * counters and its own SQLite handles (closed when the run ends); mounts, databases and
 * network settings are the kernel's, checked once when the kernel is created.
 */
import { resolve } from "node:path";
import type { RunCapabilities } from "../capabilities/index.js";
import { createClock } from "../capabilities/clock.js";
import { createFs, normalizeMounts, type MountSpec } from "../hosts/node/fs/fs.js";
import { createHttp } from "../hosts/node/net/http.js";
import { createLlm } from "../capabilities/llm.js";
import { parseAllowPrivate, type Resolver } from "../capabilities/net-guard.js";
import { systemResolver } from "../hosts/node/net/net-dns.js";
import { SqlProcessPool, type SqlPoolOptions } from "../hosts/node/sql/sql-process.js";
import { createRunSql } from "../hosts/node/sql/sql-run.js";
import { createTools } from "../capabilities/tools.js";
import { createMcpProvider } from "../tools/mcp-client.js";
import type { McpServerSpec } from "../tools/mcp-spec.js";
import { hostToolProvider, type ToolDefinition } from "../tools/host.js";
import { ToolRegistry } from "../tools/registry.js";
import type { ToolProvider } from "../tools/types.js";
import type { Mount, RunQuota, SqlHost } from "../capabilities/types.js";
import { UsageError } from "../errors.js";
import { authorizeHop, type GateRun } from "../gate.js";
import { checkMergedSecrets, mergeSecrets, secretsFromOptions } from "../policy/secrets.js";
import { checkModels } from "./models-option.js";
import type { ModelAlias, SecretSpec } from "../types.js";

/**
 * The kernel options that configure capabilities. Defaults: no mounts (no filesystem), no
 * databases, no private network targets.
 */
export interface CapabilityOptions {
  /** Guest path -> host directory (`"./ws"`, or `{ host: "./ws", readOnly: true, allowHardLinks: true }`). */
  mounts?: Record<string, string | MountSpec>;
  /** Database name -> SQLite file (`"./app.db"`, or `{ file: "./app.db", readOnly: true }`). */
  databases?: Record<string, string | { file: string; readOnly?: boolean }>;
  /** Private, loopback or link-local hosts or CIDRs that agents may reach anyway. */
  allowPrivate?: string[];
  /**
   * How agents' host names are resolved. Default: the operating system's resolver. Every answer
   * is checked by the address guard, and the connection goes to the address checked.
   * `dnsResolver(["10.0.0.2"])` asks given DNS servers.
   */
  resolver?: Resolver;
  /**
   * The SQL processes (one per run that uses SQL, off the kernel's thread): `warm` idle ones kept
   * ready (default 1), and the resident memory at which one running a statement is ended
   * (`memoryBytes`, default 256 MiB).
   */
  sql?: Pick<SqlPoolOptions, "warm" | "memoryBytes">;
  /**
   * Secrets the http capability injects at egress, as in a policy's `secrets:` block (`format`
   * defaults to "{value}"); one with the name of a policy's secret replaces it. Default: none.
   * Values come from the host's environment only, read at call time.
   *
   * @example secrets: [{ name: "github", env: "GITHUB_TOKEN", origins: ["https://api.github.com"], header: "Authorization", format: "Bearer {value}" }]
   */
  secrets?: (Omit<SecretSpec, "format"> & { format?: string })[];
  /**
   * Models agents may call with llm.chat, by alias: `{ fast: { provider: "openai", model:
   * "gpt-4o-mini" }, local: { provider: "openai", model: "llama3", baseUrl: "http://127.0.0.1:11434/v1" } }`.
   * They override the policy's `models:` per alias. Keys come from the environment only
   * (`apiKeyEnv`, else OPENAI_API_KEY / ANTHROPIC_API_KEY; none for an OpenAI-compatible
   * `baseUrl` without `apiKeyEnv`). `timeout` per call: milliseconds or "90s" (default 60 s).
   * Default: none (every llm.chat is `invalid`).
   */
  models?: Record<string, Omit<ModelAlias, "timeout"> & { timeout?: number | string }>;
  /**
   * Tools of the host's own code that agents may call (`tools.call(name, args)`), made with
   * `defineTool`; named `TOOL`. Bad or duplicate definitions are a UsageError. Default: none.
   */
  tools?: readonly ToolDefinition[];
  /**
   * Further tool providers (an MCP server's client, named `SERVER`: its tools are `SERVER/TOOL`).
   * The kernel lists them per run, calls them and closes them with itself. Internal-ish: the
   * MCP client plugs in here. Default: none.
   */
  toolProviders?: readonly ToolProvider[];
  /**
   * MCP servers whose tools agents may call, as `SERVER/TOOL`: a stdio server
   * (`{ command, args?, env?, cwd? }`: it gets only `env` and the host's PATH) or a Streamable
   * HTTP one (`{ url, headers? }`). Started when first listed (`kernel.listTools()` starts them
   * at once), stopped with the kernel. A bad name or spec is a UsageError. Default: none.
   *
   * @example mcp: { files: { command: "node", args: ["server.js"], env: { ROOT: "/srv" } }, remote: { url: "http://127.0.0.1:9000/mcp" } }
   */
  mcp?: Readonly<Record<string, McpServerSpec>>;
}

/** Capability settings checked once, when the kernel is created. */
export interface ResolvedCapabilities {
  mounts: Mount[];
  databases: Record<string, { file: string; readOnly: boolean }>;
  allowPrivate: string[];
  resolver: Resolver;
  /** The policy's secrets with the kernel options' over them, checked. */
  secrets: SecretSpec[];
  /** The kernel's tool providers (the host's tools first). */
  tools: ToolRegistry;
  /** Models by alias: the policy's, overridden by the kernel's options. */
  models: Record<string, ModelAlias>;
  /** The kernel's SQL processes (started with the kernel when it has databases). */
  sqlPool(): SqlProcessPool;
  /** Ends what the settings hold (the SQL processes). */
  close(): Promise<void>;
}

/** @throws UsageError naming the bad mount, database, address, secret or model alias. */
export function resolveCapabilityOptions(
  options: CapabilityOptions,
  policySecrets?: readonly SecretSpec[],
  policyModels: Readonly<Record<string, ModelAlias>> = {},
): ResolvedCapabilities {
  const mounts = normalizeMounts(options.mounts ?? {});
  const databases: ResolvedCapabilities["databases"] = {};
  for (const [name, spec] of Object.entries(options.databases ?? {})) {
    const { file, readOnly } = typeof spec === "string" ? { file: spec, readOnly: false } : { file: spec.file, readOnly: spec.readOnly === true };
    if (typeof file !== "string" || file === "") throw new UsageError(`databases.${name}: expected a file path`);
    databases[name] = { file: resolve(file), readOnly };
  }
  const allowPrivate = options.allowPrivate ?? [];
  parseAllowPrivate(allowPrivate); // throws UsageError for a bad host or CIDR
  if (options.resolver !== undefined && typeof options.resolver !== "function") throw new UsageError("resolver: expected a function (host) => Promise<{ address, family }[]>");
  const sql = checkSqlOptions(options.sql);
  const secrets = mergeSecrets(policySecrets, secretsFromOptions(options.secrets));
  checkMergedSecrets(secrets, "secrets (the policy's and the kernel's options)");
  if (options.toolProviders !== undefined && !Array.isArray(options.toolProviders)) throw new UsageError("toolProviders: expected a list of ToolProvider objects");
  if (options.mcp !== undefined && (typeof options.mcp !== "object" || options.mcp === null || Array.isArray(options.mcp))) throw new UsageError("mcp: expected a mapping of server names to { command, args, env } or { url }");
  const mcp = Object.entries(options.mcp ?? {}).map(([name, spec]) => createMcpProvider(name, spec));
  const tools = new ToolRegistry([...(options.tools !== undefined ? [hostToolProvider(options.tools)] : []), ...(options.toolProviders ?? []), ...mcp]);
  // Started with the kernel, so that a run's first statement finds a process ready.
  let pool = Object.keys(databases).length > 0 ? new SqlProcessPool(sql) : undefined;
  return {
    mounts,
    databases,
    allowPrivate,
    resolver: options.resolver ?? systemResolver,
    secrets,
    models: { ...policyModels, ...checkModels(options.models) },
    tools,
    sqlPool: () => (pool ??= new SqlProcessPool(sql)),
    close: async () => {
      await Promise.all([pool?.close(), tools.close()]);
    },
  };
}


function checkSqlOptions(sql: CapabilityOptions["sql"]): SqlPoolOptions {
  if (sql === undefined) return {};
  if (typeof sql !== "object" || sql === null) throw new UsageError("sql: expected { warm?, memoryBytes? }");
  const { warm, memoryBytes } = sql;
  if (warm !== undefined && !(Number.isInteger(warm) && warm >= 0)) throw new UsageError("sql.warm: expected a whole number of processes (0 or more)");
  if (memoryBytes !== undefined && !(Number.isFinite(memoryBytes) && memoryBytes >= 64 * 1024 * 1024)) throw new UsageError("sql.memoryBytes: expected a number of bytes, at least 64 MiB");
  return { ...(warm !== undefined ? { warm } : {}), ...(memoryBytes !== undefined ? { memoryBytes } : {}) };
}

export function createRunCapabilities(
  settings: ResolvedCapabilities,
  run: GateRun,
  base: { startedNs: bigint; now: () => number; checkpoint: (label: string) => Promise<number> },
): RunCapabilities {
  const quota: RunQuota = { limits: run.limits, fsBytesWritten: 0, fsFilesCreated: 0 };
  const sql: SqlHost | undefined = Object.keys(settings.databases).length > 0 ? createRunSql({ databases: settings.databases, limits: run.limits, pool: settings.sqlPool() }) : undefined;
  const llm = Object.keys(settings.models).length > 0 ? createLlm({ models: settings.models, limits: run.limits, tokens: run.tokens }) : undefined;
  const tools = settings.tools.empty ? undefined : createTools({ registry: settings.tools, limits: run.limits, runId: run.runId, agent: run.agent });
  const clock = createClock(base.startedNs);
  const http = createHttp({ allowPrivate: settings.allowPrivate, resolver: settings.resolver, quota, secrets: settings.secrets });
  return {
    ...base,
    tools,
    clock,
    interrupt: () => {
      tools?.interrupt();
      clock.interrupt();
    },
    fs: settings.mounts.length > 0 ? createFs({ mounts: settings.mounts, quota }) : undefined,
    http,
    sql,
    llm,
    authorizeHop: authorizeHop(run),
    close: () => {
      clock.close();
      http.close?.();
      tools?.close();
      llm?.close();
      return sql?.close();
    },
  };
}

/**
 * How the operator describes an MCP server, and the checks on that description. A spec is
 * configuration: everything wrong with it is a UsageError naming the server and the field.
 */
import { UsageError } from "../errors.js";

/** An MCP server started as a child process, spoken to over its stdin and stdout. */
export interface McpStdioSpec {
  command: string;
  args?: string[];
  /**
   * Its whole environment, besides `PATH` (see createMcpProvider). Nothing else of the host's
   * environment reaches it.
   */
  env?: Record<string, string>;
  /** Its working directory (default: the host process's). */
  cwd?: string;
}

/** An MCP server reached over Streamable HTTP. */
export interface McpHttpSpec {
  /** An `http://` or `https://` URL. */
  url: string;
  /** Sent with every request (e.g. `authorization`). */
  headers?: Record<string, string>;
}

/** One MCP server: a command to start (stdio) or a URL (Streamable HTTP). */
export type McpServerSpec = McpStdioSpec | McpHttpSpec;

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Checks a server's name: 1 to 64 letters, digits, `_` or `-` (it becomes the `SERVER/` prefix
 * of its tools' names, so it cannot hold a `/`).
 *
 * @throws UsageError naming the bad name.
 */
export function checkServerName(name: string): void {
  if (!NAME.test(name)) {
    throw new UsageError(`MCP server name ${JSON.stringify(name)} is not valid: use 1 to 64 letters, digits, "_" or "-"`);
  }
}

/** Whether a spec is the HTTP kind. */
export function isHttpSpec(spec: McpServerSpec): spec is McpHttpSpec {
  return typeof (spec as McpHttpSpec).url === "string";
}

/**
 * Checks a spec's shape (it may come from untyped JavaScript or JSON) and returns a copy that
 * later changes to the caller's object cannot affect.
 *
 * @throws UsageError naming the server and the field.
 */
export function checkServerSpec(name: string, spec: unknown): McpServerSpec {
  checkServerName(name);
  const where = `MCP server ${name}`;
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)) throw new UsageError(`${where}: expected { command, args?, env?, cwd? } or { url, headers? }`);
  const given = spec as Record<string, unknown>;
  const has = (key: string) => given[key] !== undefined;
  if (has("url") === has("command")) throw new UsageError(`${where}: give either "command" (a stdio server) or "url" (a Streamable HTTP server)`);
  if (has("url")) {
    onlyKeys(where, given, ["url", "headers"]);
    const url = given.url;
    if (typeof url !== "string" || !/^https?:\/\//i.test(url) || !URL.canParse(url)) throw new UsageError(`${where}: "url" must be an http:// or https:// URL`);
    return { url, headers: stringRecord(where, "headers", given.headers) };
  }
  onlyKeys(where, given, ["command", "args", "env", "cwd"]);
  if (typeof given.command !== "string" || given.command === "") throw new UsageError(`${where}: "command" must be a non-empty string`);
  const args = given.args ?? [];
  if (!Array.isArray(args) || args.some((a) => typeof a !== "string")) throw new UsageError(`${where}: "args" must be a list of strings`);
  if (has("cwd") && typeof given.cwd !== "string") throw new UsageError(`${where}: "cwd" must be a string`);
  const env = stringRecord(where, "env", given.env);
  return { command: given.command, args: [...(args as string[])], env, ...(has("cwd") ? { cwd: given.cwd as string } : {}) };
}

function onlyKeys(where: string, given: Record<string, unknown>, keys: string[]): void {
  const extra = Object.keys(given).find((k) => !keys.includes(k));
  if (extra !== undefined) throw new UsageError(`${where}: unknown field ${JSON.stringify(extra)} (fields: ${keys.join(", ")})`);
}

function stringRecord(where: string, field: string, value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new UsageError(`${where}: "${field}" must be an object of strings`);
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== "string") throw new UsageError(`${where}: ${field}.${key} must be a string`);
    if (key === "" || key.includes("=") || key.includes("\0") || v.includes("\0")) throw new UsageError(`${where}: ${field}.${key} is not a valid name or value`);
    out[key] = v;
  }
  return out;
}

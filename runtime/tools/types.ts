/**
 * Tools: what the host offers agents to call, from the host's own code (`defineTool`) or from MCP
 * servers. This file is the contract between the tools capability (the gate, the policy, the
 * log) and the providers that carry calls out: a provider lists its tools and calls them; the
 * kernel names, validates, decides, pins and logs.
 */
import { canonicalJson, type JsonValue } from "../episodic/encoding.js";
import { sha256Hex } from "../portable/sha256.js";

/** A JSON Schema, as a tool declares its input. */
export type JsonSchema = { [key: string]: JsonValue };

/** One tool as a provider lists it. */
export interface ToolInfo {
  /** Its name within its provider (no `SERVER/` prefix). */
  name: string;
  description: string;
  /** A JSON Schema of an object (`{ type: "object", ... }`). */
  inputSchema: JsonSchema;
}

/** What a provider's handler gets besides the arguments. */
export interface ToolContext {
  runId: string;
  /** The agent's name. */
  agent: string;
  /** Aborted when the run is killed or interrupted (SIGKILL, SIGTERM, a deadline or another limit). */
  signal: AbortSignal;
}

/**
 * Something that carries out tool calls: the host's own tools, or one MCP server. Its tools are
 * named `TOOL` for the host's provider (name "") and `SERVER/TOOL` for an MCP server's.
 */
export interface ToolProvider {
  /** "" for the host's tools; the server's name for an MCP server (letters, digits, `_`, `-`). */
  readonly name: string;
  /** Its tools (connecting first if it must); rejects with a UsageError naming the provider when it cannot start. */
  list(): Promise<ToolInfo[]>;
  /**
   * Calls one of its tools (by its name within the provider) with arguments the kernel has
   * already validated against the tool's schema. Resolves to plain JSON data; rejects with a
   * GuestError (`io` for a failure of the provider, `invalid` for arguments it refuses).
   */
  call(tool: string, args: JsonValue, context: ToolContext): Promise<JsonValue>;
  /** Stops it (ends an MCP server's process or session). */
  close(): Promise<void>;
}

/** The full name of a provider's tool: `TOOL` for the host's, `SERVER/TOOL` for an MCP server's. */
export function toolName(provider: string, tool: string): string {
  return provider === "" ? tool : `${provider}/${tool}`;
}

/**
 * The pin of a tool: `sha256:` and the hex SHA-256 of the canonical JSON (sorted keys, no
 * spaces) of `{ name, description, inputSchema }`, with `name` the full name. A policy pins a tool
 * with it (`pin: sha256:...`); a changed description or schema changes it.
 *
 * @example toolHash("files/read", { name: "read", description: "Reads a file", inputSchema: { type: "object" } })
 */
export function toolHash(fullName: string, info: Pick<ToolInfo, "description" | "inputSchema">): string {
  const json = canonicalJson({ name: fullName, description: info.description, inputSchema: info.inputSchema });
  return `sha256:${sha256Hex(json)}`;
}

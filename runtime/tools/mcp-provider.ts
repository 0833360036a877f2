/**
 * An MCP server as a ToolProvider, whatever reaches it: the kernel lists its tools and calls them
 * through the official SDK's client, over the session that `connect` opens (Node's stdio or
 * Streamable HTTP in mcp-connect.ts; the edge's HTTP with the host's fetch). Restarts, tool pins
 * and the mapping of failures to the agent's errors are here, the same on every host.
 */
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import type { JsonValue } from "../episodic/encoding.js";
import { GuestError, guestErrors, UsageError } from "../errors.js";
import { McpConnectError, type McpSession } from "./mcp-session.js";
import { mcpResultToJson } from "./mcp-content.js";
import type { McpServerSpec } from "./mcp-spec.js";
import { toolHash, toolName, type ToolContext, type ToolInfo, type ToolProvider } from "./types.js";

/**
 * Options of an MCP provider (createMcpProvider, and the edge's). Defaults: `startTimeoutMs`
 * 10,000 (spawn plus `initialize`, and each `tools/list`); `callTimeoutMs` 300,000 (a backstop: the run's own deadline and signals
 * cancel a call sooner); `maxMessageBytes` 10 MiB (one stdio message; a bigger one ends the
 * server's process and fails the call with `io`); `maxRestarts` 3.
 */
export interface McpProviderOptions {
  startTimeoutMs?: number;
  callTimeoutMs?: number;
  maxMessageBytes?: number;
  /** How many times a server that exited is started again on a later call before calls fail with `io`. */
  maxRestarts?: number;
}

/** A ToolProvider for one MCP server, which can also be started ahead of its first use. */
export interface McpProvider extends ToolProvider {
  /** Starts the server and lists its tools now (otherwise the first `list()` or `call()` does). */
  start(): Promise<void>;
}

/** A tool name the kernel can carry in `SERVER/TOOL`: letters, digits, `_`, `-`, `.`. */
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const MAX_PAGES = 100;

/** A provider's settings, defaults filled in (see McpProviderOptions). */
export interface McpProviderSettings {
  timeoutMs: number;
  callTimeoutMs: number;
  maxMessageBytes: number;
  maxRestarts: number;
}

/** Opens one session with the server (`initialize` answered within `settings.timeoutMs`). */
export type McpConnect = (spec: McpServerSpec, settings: McpProviderSettings) => Promise<McpSession>;

/**
 * The settings of McpProviderOptions, defaults filled in.
 * @example mcpSettings({ startTimeoutMs: 5000 }).callTimeoutMs === 300_000
 */
export function mcpSettings(options: McpProviderOptions): McpProviderSettings {
  return {
    timeoutMs: options.startTimeoutMs ?? 10_000,
    callTimeoutMs: options.callTimeoutMs ?? 300_000,
    maxMessageBytes: options.maxMessageBytes ?? 10 * 1024 * 1024,
    maxRestarts: options.maxRestarts ?? 3,
  };
}

/**
 * One server's provider: its session (started lazily, restarted after an exit) and its last
 * listing. Its spec must have been checked (checkServerSpec).
 *
 * @example const files = new McpServerProvider("files", spec, mcpSettings({}), connectMcp);
 */
export class McpServerProvider implements McpProvider {
  #session: McpSession | null = null;
  #starting: Promise<McpSession> | null = null;
  #started = false;
  #restarts = 0;
  #closed = false;
  /** The hash of each tool as the kernel last listed it (by `list()`, or by the first call). */
  #listed: Map<string, string> | null = null;
  /** The hash of each tool as the running process lists it (differs from #listed after a restart that changed a tool). */
  #current = new Map<string, string>();
  readonly #where: string;

  constructor(
    readonly name: string,
    private readonly spec: McpServerSpec,
    private readonly settings: McpProviderSettings,
    private readonly connect: McpConnect,
  ) {
    this.#where = `MCP server ${name}`;
  }

  async start(): Promise<void> {
    await this.list();
  }

  async list(): Promise<ToolInfo[]> {
    const first = !this.#started;
    try {
      const tools = await this.#listTools(await this.#live());
      this.#listed = this.#current;
      return tools;
    } catch (error) {
      if (error instanceof UsageError || error instanceof GuestError) throw error;
      const message = `${this.#where} did not list its tools: ${describe(error, this.settings.timeoutMs)}`;
      if (first) throw new UsageError(message, { cause: error });
      throw guestErrors.io(message);
    }
  }

  async call(tool: string, args: JsonValue, context: ToolContext): Promise<JsonValue> {
    const full = toolName(this.name, tool);
    if (context.signal.aborted) throw guestErrors.interrupted(`the call to ${full} was cancelled`);
    if (args === null || typeof args !== "object" || Array.isArray(args)) throw guestErrors.invalid(`the arguments of ${full} must be an object`);
    const s = await this.#ready();
    const before = this.#listed?.get(tool);
    const now = this.#current.get(tool);
    if (before === undefined) throw guestErrors.notFound(`tool ${full}`);
    if (now !== before) throw guestErrors.io(`${this.#where} was restarted and its tool ${tool} changed (${before} before, ${now ?? "gone"} now)`);
    // The run may have been stopped while the server started.
    if (context.signal.aborted) throw guestErrors.interrupted(`the call to ${full} was cancelled`);
    // The SDK never removes the listener it adds to a request's signal: a signal of its own per
    // call keeps a run's signal from collecting one listener (and one request) per tool call.
    const cancel = new AbortController();
    const onAbort = () => cancel.abort(context.signal.reason);
    context.signal.addEventListener("abort", onAbort, { once: true });
    try {
      const result = await s.client.callTool({ name: tool, arguments: args }, undefined, { signal: cancel.signal, timeout: this.settings.callTimeoutMs });
      return mcpResultToJson(full, result);
    } catch (error) {
      // An HTTP server that no longer knows the session (it restarted): the next call opens a new one.
      if (error instanceof StreamableHTTPError && error.code === 404) await s.close();
      throw callFailure(error, full, s, context.signal, this.settings.callTimeoutMs);
    } finally {
      context.signal.removeEventListener("abort", onAbort);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const s = this.#session ?? (await this.#starting?.catch(() => null)) ?? null;
    this.#session = null;
    await s?.close();
  }

  /**
   * The session for a call, started if need be. A new process lists its tools again (into
   * #current), so that a call can check that its tool is still the one the kernel listed.
   */
  async #ready(): Promise<McpSession> {
    try {
      const fresh = !(this.#session && !this.#session.closed);
      const s = await this.#live();
      if (fresh || this.#listed === null) await this.#listTools(s);
      this.#listed ??= this.#current;
      return s;
    } catch (error) {
      if (error instanceof GuestError) throw error;
      // Why it did not start (its command, its stderr) is the operator's to read, not the agent's.
      throw guestErrors.io(`${this.#where} is not available: ${error instanceof UsageError ? "it did not start" : describe(error, this.settings.timeoutMs)}`);
    }
  }

  /** The live session, starting (or restarting) the server when there is none. */
  async #live(): Promise<McpSession> {
    if (this.#closed) throw guestErrors.io(`${this.#where} is closed`);
    if (this.#session && !this.#session.closed) return this.#session;
    if (this.#starting) return this.#starting;
    if (this.#started && this.#restarts >= this.settings.maxRestarts) {
      throw guestErrors.io(`${this.#where} exited ${this.#restarts + 1} times; it is not started again`);
    }
    if (this.#started) this.#restarts++;
    this.#starting = this.#open().then(
      (s) => {
        this.#session = s;
        this.#started = true;
        this.#starting = null;
        return s;
      },
      (error: unknown) => {
        this.#starting = null;
        throw error;
      },
    );
    return this.#starting;
  }

  async #open(): Promise<McpSession> {
    let s: McpSession;
    try {
      s = await this.connect(this.spec, this.settings);
    } catch (error) {
      throw new UsageError(`${this.#where} did not start: ${startFailure(error, this.settings.timeoutMs)}`, { cause: error });
    }
    if (this.#closed) {
      await s.close();
      throw new UsageError(`${this.#where} was closed while it started`);
    }
    return s;
  }

  async #listTools(s: McpSession): Promise<ToolInfo[]> {
    const tools: ToolInfo[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const result = await s.client.listTools(cursor === undefined ? {} : { cursor }, { timeout: this.settings.timeoutMs });
      for (const tool of result.tools) tools.push(checkTool(this.#where, tool, tools));
      cursor = result.nextCursor;
      if (cursor === undefined) break;
    }
    this.#current = new Map(tools.map((tool) => [tool.name, toolHash(toolName(this.name, tool.name), tool)]));
    return tools;
  }
}

/** Checks one listed tool; a server listing a tool the kernel cannot name is misconfigured. */
function checkTool(where: string, tool: { name: string; description?: string; inputSchema: Record<string, unknown> }, seen: ToolInfo[]): ToolInfo {
  if (!TOOL_NAME.test(tool.name)) throw new UsageError(`${where} lists a tool named ${JSON.stringify(tool.name).slice(0, 140)}: tool names must be 1 to 128 letters, digits, "_", "-" or "."`);
  if (seen.some((t) => t.name === tool.name)) throw new UsageError(`${where} lists the tool ${tool.name} twice`);
  const inputSchema = JSON.parse(JSON.stringify(tool.inputSchema)) as ToolInfo["inputSchema"];
  return { name: tool.name, description: tool.description ?? "", inputSchema };
}

/** A failed call as the GuestError the agent gets. */
function callFailure(error: unknown, full: string, s: McpSession, signal: AbortSignal, timeoutMs: number): GuestError {
  if (error instanceof GuestError) return error;
  if (signal.aborted) return guestErrors.interrupted(`the call to ${full} was cancelled`);
  if (error instanceof McpError && error.code === ErrorCode.InvalidParams) return guestErrors.invalid(`${full}: ${error.message}`);
  // Not its stderr: that is the operator's to read (it may hold host paths or the server's secrets).
  if (s.closed || (error instanceof McpError && error.code === ErrorCode.ConnectionClosed)) return guestErrors.io(`the MCP server exited during the call to ${full}`);
  return guestErrors.io(`${full} failed: ${describe(error, timeoutMs)}`);
}

/** Why a server did not start, with the end of its stderr when it wrote any. */
function startFailure(error: unknown, timeoutMs: number): string {
  if (!(error instanceof McpConnectError)) return describe(error, timeoutMs);
  const reason = describe(error.original, timeoutMs);
  return error.stderr ? `${reason} (its stderr ends: ${error.stderr.slice(-500)})` : reason;
}

/** An error's message, with a timeout saying how long was waited. */
function describe(error: unknown, timeoutMs: number): string {
  if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) return `no answer within ${timeoutMs} ms`;
  if (error instanceof McpError && error.code === ErrorCode.ConnectionClosed) return "the connection closed (the server exited?)";
  if (error instanceof StreamableHTTPError && typeof error.code === "number") return `HTTP status ${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

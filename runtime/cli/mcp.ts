/**
 * `agent-os mcp --agent NAME=FILE [...]`: serves agents as MCP tools, over stdio (default) or
 * Streamable HTTP on 127.0.0.1 with a bearer token. Each tools/call is one run under the
 * operator's policy, mounts and limits, given by the same flags as `agent-os run`.
 */
import { existsSync, readFileSync } from "node:fs";
import { UsageError } from "../errors.js";
import type { EngineName } from "../engines/engine.js";
import { KernelSpace, type Agent } from "../kernel/kernel.js";
import type { McpServeHandle } from "../mcp/serve.js";
import { formatFlags, parseArgs, type FlagSpec } from "./args.js";
import { escapeText } from "./escape.js";
import { EXIT, type CliIo, type Subcommand } from "./io.js";
import { KERNEL_FLAGS, kernelOptionsFrom, openedLog } from "./kernel-flags.js";
import { onProcessSignals, type ProcessSignal } from "./run-supervise.js";

const FLAGS: Record<string, FlagSpec> = {
  agent: { type: "list", value: "NAME=FILE", help: "serve the agent in FILE as the tool NAME (repeatable, each NAME once)" },
  http: { type: "string", value: "PORT", help: "serve Streamable HTTP on 127.0.0.1:PORT (0: a free port) instead of stdio" },
  "token-file": { type: "string", value: "FILE", help: "with --http: the bearer token is FILE's first line (default: a random token, printed on stderr)" },
  engine: { type: "string", value: "quickjs|component", help: "the engine for source files (default quickjs; a .wasm file is a component)" },
  ...KERNEL_FLAGS,
  help: { type: "boolean", short: "h", help: "show this help" },
};

export const MCP_HELP = `Usage: agent-os mcp --agent NAME=FILE [--agent ...] [--http PORT] [options]

Serves agents as MCP tools to any MCP client. Each tools/call is one run of the agent, under
the operator's policy, mounts and limits (the same flags as agent-os run), recorded in the
episodic log. The tool's input is the run's task: {"task": "..."} unless the agent exports an
inputSchema, in which case the arguments' JSON text is the task. A denial, a kill or a limit is
a tool error (isError) naming the rule or the reason. A client's cancellation sends the run
SIGTERM. Nothing a client sends can widen the policy, the mounts or the limits.

Over stdio (the default) stdout carries the protocol and nothing else; messages go to stderr.
With --http, the server listens on 127.0.0.1 only, prints its URL and bearer token on stderr,
and answers 401 to a request without "Authorization: Bearer <token>" and 403 to a Host or Origin
that is not this loopback server (DNS rebinding).

Options:
${formatFlags(FLAGS)}

Exit codes: 0 the client closed the session, or SIGINT / SIGTERM closed the server (runs still
going are killed, their end recorded, the log closed); 2 usage or configuration error; 1 the
server could not do its work.

Examples:
  agent-os mcp --agent summarize=examples/summarize/agent.js --policy standard --mount /workspace=./ws
  agent-os mcp --agent summarize=examples/summarize/agent.js --http 8765 --token-file ./token
`;

export const mcpCommand: Subcommand = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, FLAGS, "mcp");
  if (flags.help) {
    io.stdout(MCP_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`mcp: unexpected argument ${JSON.stringify(positionals[0])} (agents are given with --agent NAME=FILE)`);
  const files = agentFlags(flags.agent as string[] | undefined);
  const http = httpFlags(flags);
  const engine = flags.engine as string | undefined;
  if (engine !== undefined && engine !== "quickjs" && engine !== "component") throw new UsageError(`mcp: --engine ${engine}: expected quickjs or component`);
  const kernel = new KernelSpace(kernelOptionsFrom(flags, "mcp"));
  let server: McpServeHandle | undefined;
  let stopping: ProcessSignal | undefined;
  const release = onProcessSignals((signal) => {
    if (stopping !== undefined) process.exit(EXIT.ok); // asked twice: go now
    stopping = signal;
    io.stderr(`agent-os mcp: ${signal}: closing the server and the log\n`);
    void server?.close();
  });
  try {
    await openedLog(kernel, flags);
    const agents: Record<string, Agent> = {};
    for (const [name, file] of files) agents[name] = await kernel.load(file, engine ? { engine: engine as EngineName } : {});
    if (stopping !== undefined) return EXIT.ok;
    server = await kernel.serveMcp({ agents, ...(http ? { http } : {}) });
    announce(server, kernel, io, http?.token !== undefined);
    if (stopping !== undefined) await server.close();
    await server.closed;
    io.stderr(`agent-os mcp: closed\n`);
  } finally {
    await server?.close();
    await kernel.close();
    release();
  }
  return EXIT.ok;
};

/** What the server serves, where, and (when the command made it up) its token: stderr only. */
function announce(server: McpServeHandle, kernel: KernelSpace, io: CliIo, tokenGiven: boolean): void {
  const what = `${server.tools.join(", ")} under the policy ${kernel.policy.name}`;
  if (server.url === undefined) return io.stderr(escapeText(`agent-os mcp: serving ${what} over stdio`) + "\n");
  io.stderr(escapeText(`agent-os mcp: serving ${what} at ${server.url}`) + "\n");
  io.stderr(tokenGiven ? "agent-os mcp: token: the one in --token-file\n" : `agent-os mcp: token: ${server.token}\n`);
}

/** `--agent NAME=FILE` flags, in order; at least one, each NAME once, each FILE present. */
function agentFlags(list: string[] | undefined): [string, string][] {
  if (!list || list.length === 0) throw new UsageError("mcp: give at least one --agent NAME=FILE (see agent-os mcp --help)");
  const out = new Map<string, string>();
  for (const item of list) {
    const eq = item.indexOf("=");
    const name = item.slice(0, Math.max(0, eq));
    if (eq <= 0 || eq === item.length - 1) throw new UsageError(`mcp: --agent ${item}: expected NAME=FILE`);
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new UsageError(`mcp: --agent ${item}: NAME must be letters, digits, _, - or . (at most 64)`);
    if (out.has(name)) throw new UsageError(`mcp: --agent ${name} is given twice`);
    const file = item.slice(eq + 1);
    if (!existsSync(file)) throw new UsageError(`mcp: --agent ${name}: ${file}: no such file`);
    out.set(name, file);
  }
  return [...out];
}

/** `--http PORT` and `--token-file FILE` as the HTTP options, or undefined for stdio. */
function httpFlags(flags: Record<string, unknown>): { port: number; token?: string } | undefined {
  const port = flags.http as string | undefined;
  const tokenFile = flags["token-file"] as string | undefined;
  if (port === undefined) {
    if (tokenFile !== undefined) throw new UsageError("mcp: --token-file goes with --http");
    return undefined;
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw new UsageError(`mcp: --http ${port}: expected a port from 0 to 65535`);
  if (tokenFile === undefined) return { port: Number(port) };
  let token: string;
  try {
    token = readFileSync(tokenFile, "utf8").split(/\r?\n/)[0].trim();
  } catch (error) {
    throw new UsageError(`mcp: --token-file ${tokenFile}: cannot read it (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
  if (token.length < 16 || /\s/.test(token)) throw new UsageError(`mcp: --token-file ${tokenFile}: the token must have at least 16 characters and no spaces`);
  return { port: Number(port), token };
}

/**
 * `agent-os tools list [--mcp NAME=...]... [--json]`: start each MCP server, list its tools with
 * the hash a policy pins (`pin: sha256:...`), and stop it again. Exit 0 when every server
 * listed, 2 for a usage error or a server that does not start (naming it).
 */
import { UsageError } from "../errors.js";
import { createMcpProvider, type McpProvider } from "../tools/mcp-client.js";
import { toolHash, toolName, type ToolInfo } from "../tools/types.js";
import { formatFlags, parseArgs, type FlagSpec } from "./args.js";
import { escapeLines, escapeText, safeJson } from "./escape.js";
import { reportFailure } from "./failure.js";
import { EXIT, type CliIo, type Subcommand } from "./io.js";
import { parseMcpFlags } from "./mcp-flag.js";

const FLAGS: Record<string, FlagSpec> = {
  mcp: { type: "list", value: "NAME=URL|CMD", help: 'an MCP server: NAME=URL (Streamable HTTP) or "NAME=COMMAND ARG..." (stdio; split as a shell would, no expansion); repeatable' },
  json: { type: "boolean", help: "print one JSON object: { tools: [{ name, server, tool, description, inputSchema, hash }] }" },
  help: { type: "boolean", short: "h", help: "show this help" },
};

export const TOOLS_HELP = `Usage: agent-os tools list [--mcp NAME=URL | --mcp "NAME=COMMAND ARG..."]... [--json]

Starts each MCP server, lists its tools as an agent would see them (SERVER/TOOL) with the hash
of each tool's name, description and input schema, and stops the servers. A policy pins a tool
with that hash (pin: sha256:...): a tool whose description or schema changes afterwards is
refused. A stdio server gets only PATH from this process's environment.

Options:
${formatFlags(FLAGS)}

Exit status: 0 listed, 1 a failure, 2 usage error or a server that does not start.
`;

/** One listed tool, as --json prints it. */
export interface ListedTool {
  /** `SERVER/TOOL`. */
  name: string;
  server: string;
  tool: string;
  description: string;
  inputSchema: ToolInfo["inputSchema"];
  /** `sha256:...`, as toolHash computes it. */
  hash: string;
}

/**
 * The `tools` subcommand (one action: `list`).
 *
 * @example await toolsCommand(["list", "--mcp", "files=node server.js", "--json"], processIo())
 */
export const toolsCommand: Subcommand = async (argv: string[], io: CliIo): Promise<number> => {
  try {
    const { flags, positionals } = parseArgs(argv, FLAGS, "tools");
    if (flags.help) {
      io.stdout(TOOLS_HELP);
      return EXIT.ok;
    }
    if (positionals[0] !== "list") {
      const got = positionals[0] === undefined ? "nothing" : escapeText(JSON.stringify(positionals[0]));
      throw new UsageError(`tools: expected the action "list", got ${got} (see agent-os tools --help)`);
    }
    if (positionals.length > 1) throw new UsageError(`tools: unexpected argument ${escapeText(JSON.stringify(positionals[1]))} (see agent-os tools --help)`);
    const servers = parseMcpFlags((flags.mcp as string[] | undefined) ?? []);
    if (Object.keys(servers).length === 0) throw new UsageError("tools list: no tool providers: give at least one --mcp NAME=URL or --mcp \"NAME=COMMAND ARG...\"");
    const tools = await listAll(Object.entries(servers).map(([name, spec]) => createMcpProvider(name, spec)));
    if (flags.json) io.stdout(safeJson({ tools }) + "\n");
    else io.stdout(formatTools(tools));
    return EXIT.ok;
  } catch (error) {
    return reportFailure(error, io, "agent-os tools");
  }
};

/** Lists every provider's tools (all servers start at once), then closes them all, whatever happened. */
async function listAll(providers: McpProvider[]): Promise<ListedTool[]> {
  try {
    const lists = await Promise.all(providers.map((p) => p.list()));
    return providers.flatMap((p, i) =>
      lists[i].map((info) => {
        const name = toolName(p.name, info.name);
        return { name, server: p.name, tool: info.name, description: info.description, inputSchema: info.inputSchema, hash: toolHash(name, info) };
      }),
    );
  } finally {
    await Promise.all(providers.map((p) => p.close().catch(() => {})));
  }
}

/** The text listing: one tool per line (name, hash), its description indented below. */
function formatTools(tools: ListedTool[]): string {
  if (tools.length === 0) return "(no tools)\n";
  const width = Math.max(...tools.map((t) => t.name.length));
  return tools
    .map((t) => {
      const head = `${escapeText(t.name).padEnd(width)}  ${t.hash}`;
      const description = t.description.trim() === "" ? "" : `\n${escapeLines(t.description.trim()).replace(/^/gm, "    ")}`;
      return head + description + "\n";
    })
    .join("");
}

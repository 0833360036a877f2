/** `agent-os tools list`, run as an operator runs it: a real process, real MCP servers. */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { toolHash } from "../../dist/runtime/tools/types.js";
import { createMcpProvider } from "../../dist/runtime/tools/mcp-client.js";
import { tempDir } from "../kernel/helpers.js";
import { startHttpServer } from "./server-tools.mjs";
import { alive, recorded, STDIO_SERVER, until } from "./helpers.js";

const bin = new URL("../../dist/runtime/cli/bin.js", import.meta.url).pathname;
const dir = tempDir("agent-os-mcp-cli-");
afterAll(() => dir.remove());

/** Runs the command asynchronously (the HTTP test server lives in this process and must keep answering). */
function agentOs(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: dir.path, env: { ...process.env, AGENT_OS_TEST_HOST_SECRET: "nope" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The server's tools with their hashes, computed here with the provider and toolHash. */
async function expectedHashes(server: string, description?: string): Promise<Map<string, string>> {
  const args = [STDIO_SERVER, ...(description ? ["--description", description] : [])];
  const provider = createMcpProvider(server, { command: process.execPath, args });
  try {
    return new Map((await provider.list()).map((t) => [`${server}/${t.name}`, toolHash(`${server}/${t.name}`, t)]));
  } finally {
    await provider.close();
  }
}

describe("agent-os tools list", { timeout: 120_000 }, () => {
  it("prints each tool of each server with its toolHash, in text and in JSON", async () => {
    const http = await startHttpServer({ description: "served over HTTP" });
    try {
      const stdioFlag = `local=${process.execPath} ${STDIO_SERVER} --description 'a changed description'`;
      const text = await agentOs("tools", "list", "--mcp", stdioFlag, "--mcp", `remote=${http.url}`);
      expect(text.stderr).toBe("");
      expect(text.code).toBe(0);
      const local = await expectedHashes("local", "a changed description");
      for (const [name, hash] of local) expect(text.stdout).toMatch(new RegExp(`^${name} +${hash}$`, "m"));
      expect(text.stdout).toMatch(/^local\/described +sha256:[0-9a-f]{64}\n {4}a changed description$/m);
      expect(text.stdout).toMatch(/^remote\/described +sha256:[0-9a-f]{64}\n {4}served over HTTP$/m);

      const json = await agentOs("tools", "list", "--mcp", stdioFlag, "--json");
      expect(json.code).toBe(0);
      const listed = JSON.parse(json.stdout) as { tools: { name: string; server: string; tool: string; description: string; hash: string }[] };
      expect(new Map(listed.tools.map((t) => [t.name, t.hash]))).toEqual(local);
      expect(listed.tools[0]).toMatchObject({ name: "local/echo", server: "local", tool: "echo", description: "Returns its text" });
    } finally {
      await http.close();
    }
  });

  it("gives a different hash to a tool whose description changed", async () => {
    const before = await agentOs("tools", "list", "--mcp", `s=${process.execPath} ${STDIO_SERVER}`, "--json");
    const after = await agentOs("tools", "list", "--mcp", `s=${process.execPath} ${STDIO_SERVER} --description "now different"`, "--json");
    const hash = (r: { stdout: string }) => (JSON.parse(r.stdout) as { tools: { name: string; hash: string }[] }).tools.find((t) => t.name === "s/described")?.hash;
    expect(hash(before)).toMatch(/^sha256:/);
    expect(hash(after)).toMatch(/^sha256:/);
    expect(hash(after)).not.toBe(hash(before));
  });

  it("exits 2 naming a server that does not start, and stops the others", async () => {
    const record = join(dir.path, "ok-server.jsonl");
    const r = await agentOs("tools", "list", "--mcp", `ok=${process.execPath} ${STDIO_SERVER} --record ${record}`, "--mcp", "broken=/nonexistent/server --flag");
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^agent-os tools: MCP server broken did not start: spawn \/nonexistent\/server ENOENT/);
    const starts = recorded(record).filter((e) => e.event === "start");
    expect(starts).toHaveLength(1);
    await until(() => !alive(starts[0].pid as number));
  });

  it("exits 2 for usage errors and 0 for --help", async () => {
    const help = await agentOs("tools", "--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: agent-os tools list/);
    for (const [args, message] of [
      [["tools"], /expected the action "list", got nothing/],
      [["tools", "show"], /expected the action "list", got "show"/],
      [["tools", "list"], /no tool providers/],
      [["tools", "list", "--mcp", "bad name=node x"], /MCP server name "bad name" is not valid/],
    ] as [string[], RegExp][]) {
      const r = await agentOs(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});

/**
 * `agent-os mcp` as an operator runs it and a client uses it: the real command in a child
 * process, the SDK's own client over stdio and over Streamable HTTP, a real workspace and /prod
 * on the host, a real LevelDB log read back once the command has closed it.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../dist/runtime/cli/main.js";
import type { CliIo } from "../../dist/runtime/cli/io.js";
import { agentOs, finished, start, waitForStderr } from "../cli/helpers.js";
import { BIN, SUMMARIZE, events, world } from "./helpers.js";

const SLOW_MS = 120_000;
const w = world();
afterAll(() => w.remove());

function text(result: unknown): string {
  return (result as CallToolResult).content.map((c) => (c.type === "text" ? c.text : "")).join("");
}

/** The kernel flags every test gives: the standard policy, the workspace, /prod, a deadline, a log. */
function kernelFlags(log: string): string[] {
  return ["--policy", "standard", "--mount", `/workspace=${w.ws}`, "--mount", `/prod=${w.prod}`, "--timeout", "1500", "--log", log];
}

describe("agent-os mcp over stdio", () => {
  it(
    "serves the agents to the SDK's client: list, a call on the real mount, a denial and a kill as tool errors, the runs in the log",
    async () => {
      const log = join(w.path, "stdio-log");
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [BIN, "mcp", "--agent", `summarize=${SUMMARIZE}`, "--agent", `writer=${w.agent("writer.js")}`, "--agent", `spin=${w.agent("spin.js")}`, "--agent", `add=${w.agent("add.js")}`, ...kernelFlags(log)],
        cwd: w.path,
        stderr: "pipe",
      });
      let stderr = "";
      transport.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const client = new Client({ name: "test", version: "1.0.0" });
      const protocolErrors: Error[] = [];
      client.onerror = (error) => protocolErrors.push(error);
      await client.connect(transport);

      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(["summarize", "writer", "spin", "add"]);
      expect(tools[0].inputSchema).toMatchObject({ type: "object", required: ["task"] });
      expect(tools[3].inputSchema).toMatchObject({ required: ["a", "b"] });

      const summary = await client.callTool({ name: "summarize", arguments: { task: "/workspace/notes.txt" } });
      expect(summary.isError).toBeFalsy();
      expect(text(summary)).toMatch(/^3 lines, 3 words/);
      expect(readFileSync(join(w.ws, "summary.txt"), "utf8")).toMatch(/^3 lines, 3 words/);

      const denied = await client.callTool({ name: "writer", arguments: { task: "/prod/evil.txt" } });
      expect(denied.isError).toBe(true);
      expect(text(denied)).toMatch(/by rule standard-prod/);
      expect(readdirSync(w.prod)).toEqual([]);

      const killed = await client.callTool({ name: "spin", arguments: { task: "" } });
      expect(killed.isError).toBe(true);
      expect(text(killed)).toMatch(/killed by SIGKILL \(deadline\)/);

      await client.close();
      // Nothing but the protocol came on stdout: every line parsed as a JSON-RPC message.
      expect(protocolErrors).toEqual([]);
      expect(stderr).toMatch(/agent-os mcp: serving summarize, writer, spin, add under the policy standard over stdio/);
      const all = await eventsWhenClosed(log);
      const spawns = all.filter((e) => e.type === "spawn").map((e) => [e.agent, e.data.task]);
      expect(spawns).toEqual([["summarize", "/workspace/notes.txt"], ["writer", "/prod/evil.txt"], ["spin", ""]]);
      const denial = all.find((e) => e.type === "call" && e.agent === "writer");
      expect(denial?.data).toMatchObject({ decision: { effect: "deny", rule: "standard-prod" } });
      expect(all.filter((e) => e.type === "exit").map((e) => e.data.status)).toEqual(["ok", "error", "killed"]);
    },
    SLOW_MS,
  );
});

/** The log's events once the command has let it go (it holds the LevelDB lock until it ends). */
async function eventsWhenClosed(dir: string) {
  for (let i = 0; ; i++) {
    try {
      return await events(dir);
    } catch (error) {
      if (i > 200) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe("agent-os mcp --http", () => {
  it(
    "prints its URL and token, serves the SDK's client with the token, answers 401 without it, and closes on SIGTERM",
    async () => {
      const log = join(w.path, "http-log");
      const child = start(w.path, "mcp", "--agent", `summarize=${SUMMARIZE}`, "--agent", `writer=${w.agent("writer.js")}`, "--http", "0", ...kernelFlags(log));
      await waitForStderr(child, /token: [0-9a-f]{64}\n/);
      const url = /at (http:\/\/127\.0\.0\.1:\d+\/mcp)\n/.exec(child.err)![1];
      const token = /token: ([0-9a-f]{64})\n/.exec(child.err)![1];
      expect(child.out).toBe("");

      const client = new Client({ name: "test", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["summarize", "writer"]);
      expect(text(await client.callTool({ name: "summarize", arguments: { task: "/workspace/notes.txt" } }))).toMatch(/^3 lines/);
      const denied = await client.callTool({ name: "writer", arguments: { task: "/prod/evil.txt" } });
      expect(denied.isError).toBe(true);
      expect(text(denied)).toMatch(/denied fs\.write \/prod\/evil\.txt by rule standard-prod/);
      expect(readdirSync(w.prod)).toEqual([]);

      const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });
      const headers = { "Content-Type": "application/json", Accept: "application/json, text/event-stream" };
      expect((await fetch(url, { method: "POST", headers, body })).status).toBe(401);
      expect((await fetch(url, { method: "POST", headers: { ...headers, Authorization: `Bearer ${token.replace(/.$/, (c) => (c === "0" ? "1" : "0"))}` }, body })).status).toBe(401);
      expect((await fetch(url, { method: "POST", headers: { ...headers, Authorization: token }, body })).status).toBe(401);

      await client.close();
      child.kill("SIGTERM");
      const ran = await finished(child, SLOW_MS);
      expect(ran.code).toBe(0);
      expect(ran.stderr).toMatch(/SIGTERM: closing the server and the log/);
      expect(ran.stdout).toBe("");
      const verified = await agentOs(w.path, "verify", "--log", log);
      expect(verified.code).toBe(0);
      const all = await events(log);
      expect(all.filter((e) => e.type === "spawn").map((e) => e.agent)).toEqual(["summarize", "writer"]);
    },
    SLOW_MS,
  );

  it(
    "takes the token from --token-file and does not print it",
    async () => {
      const token = "a-token-the-operator-chose-0123456789";
      const file = join(w.path, "token");
      writeFileSync(file, token + "\n");
      const child = start(w.path, "mcp", "--agent", `add=${w.agent("add.js")}`, "--http", "0", "--token-file", file, "--no-log");
      await waitForStderr(child, /token: the one in --token-file/);
      expect(child.err).not.toContain(token);
      const url = /at (http:\/\/127\.0\.0\.1:\d+\/mcp)\n/.exec(child.err)![1];
      const client = new Client({ name: "test", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
      expect(text(await client.callTool({ name: "add", arguments: { a: 40, b: 2 } }))).toBe("42");
      await client.close();
      child.kill("SIGINT");
      expect((await finished(child, SLOW_MS)).code).toBe(0);
    },
    SLOW_MS,
  );
});

describe("agent-os mcp: usage", () => {
  function capture(): CliIo & { out: string; err: string } {
    const io = { out: "", err: "", isTTY: false, stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
    return io;
  }
  async function run(...argv: string[]) {
    const io = capture();
    return { code: await main(["mcp", ...argv], io), out: io.out, err: io.err };
  }

  it("documents every flag in --help, including the kernel flags it shares with run", async () => {
    const help = await run("--help");
    expect(help.code).toBe(0);
    for (const flag of ["--agent", "--http", "--token-file", "--policy", "--mount", "--db", "--log", "--no-log", "--timeout", "--fuel", "--model", "--secret", "--allow-private"]) {
      expect(help.out).toContain(flag);
    }
  });

  it("exits 2 naming the problem for bad flags", async () => {
    const cases: [string[], RegExp][] = [
      [[], /give at least one --agent/],
      [["--agent", "nofile"], /--agent nofile: expected NAME=FILE/],
      [["--agent", `x=${join(w.path, "missing.js")}`], /no such file/],
      [["--agent", `a b=${SUMMARIZE}`], /NAME must be/],
      [["--agent", `a=${SUMMARIZE}`, "--agent", `a=${SUMMARIZE}`], /--agent a is given twice/],
      [["--agent", `a=${SUMMARIZE}`, "--http", "http"], /--http http: expected a port/],
      [["--agent", `a=${SUMMARIZE}`, "--token-file", "t"], /--token-file goes with --http/],
      [["--agent", `a=${SUMMARIZE}`, "--fuel", "lots"], /^agent-os: mcp: --fuel lots: expected/],
      [["--agent", `a=${SUMMARIZE}`, "--log", "x", "--no-log"], /--log and --no-log cannot go together/],
      [["--agent", `a=${SUMMARIZE}`, "--frobnicate"], /unknown option --frobnicate/],
      [["--agent", `a=${SUMMARIZE}`, "extra"], /unexpected argument/],
    ];
    for (const [argv, message] of cases) {
      const ran = await run(...argv);
      expect({ argv, code: ran.code }).toEqual({ argv, code: 2 });
      expect(ran.err).toMatch(message);
    }
    const short = join(w.path, "short-token");
    writeFileSync(short, "short\n");
    const ran = await run("--agent", `a=${SUMMARIZE}`, "--http", "0", "--token-file", short);
    expect(ran.code).toBe(2);
    expect(ran.err).toMatch(/at least 16 characters/);
  });

  it("exits 2 when the port is in use", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    try {
      const ran = await run("--agent", `a=${SUMMARIZE}`, "--http", String((taken.address() as AddressInfo).port), "--no-log");
      expect(ran.code).toBe(2);
      expect(ran.err).toMatch(/port \d+ on 127\.0\.0\.1 is in use/);
    } finally {
      taken.close();
    }
  }, SLOW_MS);

  it("exits 2 for a policy that does not load, from the real command", async () => {
    const ran = await agentOs(w.path, "mcp", "--agent", `a=${SUMMARIZE}`, "--policy", join(w.path, "nope.yaml"), "--no-log");
    expect(ran.code).toBe(2);
    expect(ran.stdout).toBe("");
  }, SLOW_MS);
});


/**
 * The test MCP server over stdio: `node test/mcp/stdio-server.mjs [--description TEXT] [--record FILE]`
 * (or MCP_TEST_DESCRIPTION / MCP_TEST_RECORD in its environment). See server-tools.mjs.
 */
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { appendFileSync } from "node:fs";
import { createTestServer, optionsFrom } from "./server-tools.mjs";

const options = optionsFrom(process.argv.slice(2), process.env);
// A "start" line in the record file lets tests see when (and how often) the server was started.
if (options.record) appendFileSync(options.record, JSON.stringify({ event: "start", pid: process.pid }) + "\n");
await createTestServer(options).connect(new StdioServerTransport());

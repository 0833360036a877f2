/**
 * The test MCP server over stdio: `node test/mcp/stdio-server.mjs [--description TEXT] [--record FILE]`
 * (or MCP_TEST_DESCRIPTION / MCP_TEST_RECORD in its environment). See server-tools.mjs.
 */
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { createTestServer, optionsFrom } from "./server-tools.mjs";

await createTestServer(optionsFrom(process.argv.slice(2), process.env)).connect(new StdioServerTransport());

/**
 * The test MCP server over Streamable HTTP on 127.0.0.1:
 * `node test/mcp/http-server.mjs [--port N] [--description TEXT] [--record FILE]`; prints its URL.
 * See server-tools.mjs.
 */
import { optionsFrom, startHttpServer } from "./server-tools.mjs";

const argv = process.argv.slice(2);
const at = argv.indexOf("--port");
const port = at === -1 ? 0 : Number(argv[at + 1]);
const server = await startHttpServer({ ...optionsFrom(argv, process.env), port });
process.stdout.write(server.url + "\n");

/** The --mcp flag: shell-like word splitting (no expansion) and NAME=URL / NAME=COMMAND ARG... */
import { describe, expect, it } from "vitest";
import { UsageError } from "../../dist/runtime/errors.js";
import { parseMcpFlag, parseMcpFlags, splitWords } from "../../dist/runtime/cli/mcp-flag.js";

describe("splitWords", () => {
  it("splits on blanks and honours quotes and backslashes as sh does", () => {
    expect(splitWords("  node  server.js\t--x ")).toEqual(["node", "server.js", "--x"]);
    expect(splitWords(`node "my server.js" --root 'a b' c\\ d`)).toEqual(["node", "my server.js", "--root", "a b", "c d"]);
    expect(splitWords(`a"b c"'d e'f`)).toEqual(["ab cd ef"]);
    expect(splitWords(`'' ""`)).toEqual(["", ""]);
    expect(splitWords(`'it\\' x`)).toEqual(["it\\", "x"]);
    expect(splitWords(`"say \\"hi\\" \\\\ \\$HOME \\n"`)).toEqual([`say "hi" \\ $HOME \\n`]);
    expect(splitWords("a\\\nb")).toEqual(["ab"]);
  });

  it("expands nothing: variables, globs, tildes and substitutions stay as written", () => {
    expect(splitWords("echo $HOME ~ *.js $(id) `id` ; rm -rf /")).toEqual(["echo", "$HOME", "~", "*.js", "$(id)", "`id`", ";", "rm", "-rf", "/"]);
  });

  it("rejects unterminated quotes and a trailing backslash, naming where", () => {
    expect(() => splitWords("node 'abc")).toThrow(/unterminated ' quote at character 6/);
    expect(() => splitWords('node "abc')).toThrow(/unterminated " quote at character 6/);
    expect(() => splitWords("node abc\\")).toThrow(/backslash at the end/);
    expect(() => splitWords("'")).toThrow(UsageError);
  });
});

describe("parseMcpFlag", () => {
  it("reads NAME=URL as a Streamable HTTP server", () => {
    expect(parseMcpFlag("remote=http://127.0.0.1:9000/mcp")).toEqual(["remote", { url: "http://127.0.0.1:9000/mcp" }]);
    expect(parseMcpFlag("r_2-x=https://example.com/mcp?a=b")).toEqual(["r_2-x", { url: "https://example.com/mcp?a=b" }]);
  });

  it("reads NAME=COMMAND ARG... as a stdio server, split into words", () => {
    expect(parseMcpFlag(`files=node "my server.js" --root=/srv`)).toEqual(["files", { command: "node", args: ["my server.js", "--root=/srv"] }]);
    expect(parseMcpFlag("x=npx -y pkg")).toEqual(["x", { command: "npx", args: ["-y", "pkg"] }]);
  });

  it("rejects bad values with a UsageError that quotes the flag", () => {
    const cases: [string, RegExp][] = [
      ["nothing", /--mcp "nothing": expected NAME=URL or NAME=COMMAND ARG/],
      ["=node s.js", /MCP server name "" is not valid/],
      ["a/b=node", /MCP server name "a\/b" is not valid/],
      ["a b=node", /is not valid/],
      ["x=", /the server x has no URL or command/],
      ["x=   ", /has no URL or command/],
      ["x=http://a/mcp extra", /a URL takes no arguments \(found "extra"/],
      ["x=http://", /is not a valid URL/],
      ["x=ftp://host/mcp", /only http:\/\/ and https:\/\/ URLs/],
      ["x=node 'open", /--mcp "x=node 'open": unterminated ' quote/],
    ];
    for (const [value, message] of cases) {
      expect(() => parseMcpFlag(value), value).toThrow(UsageError);
      expect(() => parseMcpFlag(value), value).toThrow(message);
    }
  });

  it("rejects a name given twice", () => {
    expect(parseMcpFlags(["a=node a.js", "b=http://127.0.0.1:1/mcp"])).toEqual({ a: { command: "node", args: ["a.js"] }, b: { url: "http://127.0.0.1:1/mcp" } });
    expect(() => parseMcpFlags(["a=node a.js", "a=node b.js"])).toThrow(/the server name a is given twice/);
  });
});

/**
 * The `--mcp` flag: `NAME=URL` for a Streamable HTTP server, `NAME=COMMAND ARG...` for a stdio
 * server. The command is split into words as a POSIX shell would split it (quotes and
 * backslashes), with no expansion of any kind: no variables, globs, `~` or command substitution,
 * and no shell is ever run.
 */
import { UsageError } from "../errors.js";
import { checkServerName, type McpServerSpec } from "../tools/mcp-spec.js";

/**
 * Splits `text` into words as `sh` does, without expansions: blanks separate words; `'...'`
 * keeps everything literally; `"..."` keeps everything but `\` before `"`, `\`, `$` or a
 * backquote; an unquoted `\` keeps the next character (and `\` before a newline joins lines).
 *
 * @example splitWords(`node "my server.js" --root 'a b' c\\ d`) // ["node", "my server.js", "--root", "a b", "c d"]
 * @throws UsageError for an unterminated quote or a trailing backslash, naming its position.
 */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === " " || c === "\t" || c === "\n") {
      if (word !== null) words.push(word);
      word = null;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end === -1) throw new UsageError(`unterminated ' quote at character ${i + 1}`);
      word = (word ?? "") + text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      const [value, end] = doubleQuoted(text, i);
      word = (word ?? "") + value;
      i = end;
    } else if (c === "\\") {
      if (i + 1 >= text.length) throw new UsageError(`a backslash at the end has nothing to escape`);
      i++;
      if (text[i] !== "\n") word = (word ?? "") + text[i];
    } else {
      word = (word ?? "") + c;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

/** The value of the double-quoted string that opens at `start`, and the index of its closing quote. */
function doubleQuoted(text: string, start: number): [string, number] {
  let value = "";
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '"') return [value, i];
    if (c === "\\" && i + 1 < text.length && '"\\$`\n'.includes(text[i + 1])) {
      i++;
      if (text[i] !== "\n") value += text[i];
    } else value += c;
  }
  throw new UsageError(`unterminated " quote at character ${start + 1}`);
}

/**
 * Parses one `--mcp` value into the server's name and spec. A value whose first word is an
 * `http://` or `https://` URL (and nothing after it) is a Streamable HTTP server; anything else
 * is a command to start as a stdio server, with an empty environment (see createMcpProvider).
 *
 * @example parseMcpFlag("files=node server.js --root /srv") // ["files", { command: "node", args: ["server.js", "--root", "/srv"] }]
 * @example parseMcpFlag("remote=http://127.0.0.1:9000/mcp") // ["remote", { url: "http://127.0.0.1:9000/mcp" }]
 * @throws UsageError naming the flag's value and what is wrong with it.
 */
export function parseMcpFlag(value: string): [string, McpServerSpec] {
  const where = `--mcp ${JSON.stringify(value)}`;
  const eq = value.indexOf("=");
  if (eq === -1) throw new UsageError(`${where}: expected NAME=URL or NAME=COMMAND ARG...`);
  const name = value.slice(0, eq);
  try {
    checkServerName(name);
  } catch (error) {
    throw new UsageError(`${where}: ${(error as Error).message}`);
  }
  let words: string[];
  try {
    words = splitWords(value.slice(eq + 1));
  } catch (error) {
    throw new UsageError(`${where}: ${(error as Error).message}`);
  }
  if (words.length === 0) throw new UsageError(`${where}: the server ${name} has no URL or command after "="`);
  if (/^https?:\/\//i.test(words[0])) {
    if (words.length > 1) throw new UsageError(`${where}: a URL takes no arguments (found ${JSON.stringify(words[1])} after it)`);
    try {
      new URL(words[0]);
    } catch {
      throw new UsageError(`${where}: ${JSON.stringify(words[0])} is not a valid URL`);
    }
    return [name, { url: words[0] }];
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(words[0])) throw new UsageError(`${where}: only http:// and https:// URLs are MCP servers (got ${JSON.stringify(words[0])})`);
  const [command, ...args] = words;
  return [name, { command, args }];
}

/**
 * Parses every `--mcp` value of a command into a record of servers.
 *
 * @throws UsageError for a bad value or a name given twice.
 */
export function parseMcpFlags(values: readonly string[]): Record<string, McpServerSpec> {
  const servers: Record<string, McpServerSpec> = Object.create(null) as Record<string, McpServerSpec>;
  for (const value of values) {
    const [name, spec] = parseMcpFlag(value);
    if (Object.hasOwn(servers, name)) throw new UsageError(`--mcp: the server name ${name} is given twice`);
    servers[name] = spec;
  }
  return servers;
}

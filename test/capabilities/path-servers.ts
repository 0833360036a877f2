/**
 * HTTP servers on 127.0.0.1 that read a request path the way real servers do, for the tests of
 * paths whose meaning depends on the server. Each logs every request line it receives and
 * answers `served <path>` with the path it resolved (or 400 where the real server refuses); the
 * two written here also redirect `/allowed/redirect?to=X` to X.
 *
 * - `decoding`: what Python's http.server, many proxies and lenient frameworks do, all at once:
 *   decode %XX (also %uXXXX, overlong UTF-8, and again while anything is left), turn `\` into
 *   `/`, fold Unicode compatibility forms (NFKC), drop the spaces of a segment made of dots and
 *   spaces (Windows), collapse `//` and resolve `.` and `..`.
 * - `tomcat`: Tomcat's CoyoteAdapter: drop each segment's `;` path parameters, decode once as
 *   UTF-8 (an encoded `/` is refused with 400, as by default), collapse `//`, resolve `.`, `..`.
 * - `python`: the real `python3 -m http.server` over a directory, when python3 is installed.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join, posix } from "node:path";

export interface PathServer {
  name: string;
  port: number;
  /** Every request line received: "GET /raw/path?query". */
  log: string[];
  /** Resolves once every request made before it is in `log`. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

const SYNC_PATH = "/__sync__";

/** Makes a request of its own and waits until the server has logged it (then drops it). */
async function syncLog(port: number, log: string[]): Promise<void> {
  await fetch(`http://127.0.0.1:${port}${SYNC_PATH}`).then((r) => r.arrayBuffer());
  for (let i = 0; i < 500 && !log.includes(`GET ${SYNC_PATH}`); i++) await new Promise((r) => setTimeout(r, 10));
  const at = log.indexOf(`GET ${SYNC_PATH}`);
  if (at === -1) throw new Error("the server did not log the sync request");
  log.splice(at, 1);
}

/** Resolves `.`, `..` and empty segments, as servers normalize after decoding. */
export function normalizeSegments(path: string): string {
  return posix.resolve("/", path);
}

/** Decodes bytes as UTF-8 the lenient way: overlong forms give their ASCII character. */
function lenientUtf8(bytes: number[]): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b >= 0xc0 && b < 0xe0 && i + 1 < bytes.length) {
      out += String.fromCodePoint(((b & 0x1f) << 6) | (bytes[++i] & 0x3f));
    } else if (b >= 0xe0 && b < 0xf0 && i + 2 < bytes.length) {
      out += String.fromCodePoint(((b & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f));
      i += 2;
    } else out += String.fromCharCode(b);
  }
  return out;
}

function decodeLeniently(text: string): string {
  const withU = text.replace(/%u([0-9a-fA-F]{4})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  const bytes: number[] = [];
  const raw = Buffer.from(withU, "utf8");
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x25 && /^[0-9a-fA-F]{2}$/.test(raw.subarray(i + 1, i + 3).toString("latin1"))) {
      bytes.push(parseInt(raw.subarray(i + 1, i + 3).toString("latin1"), 16));
      i += 2;
    } else bytes.push(raw[i]);
  }
  return lenientUtf8(bytes);
}

/** The path a lenient, decoding server serves for a raw request path. */
export function decodingServerPath(rawPath: string): string {
  let path = rawPath;
  for (let i = 0; i < 10; i++) {
    const next = decodeLeniently(path);
    if (next === path) break;
    path = next;
  }
  path = path.normalize("NFKC").replace(/\\/g, "/").replace(/\0.*$/s, "");
  // Windows drops trailing spaces: a segment of dots and spaces is a dot segment there.
  const trimmed = path.split("/").map((s) => (/^[.\s]+$/.test(s) ? s.replace(/\s/g, "") : s));
  return normalizeSegments(trimmed.join("/"));
}

/** The path Tomcat serves for a raw request path, or null where it answers 400. */
export function tomcatPath(rawPath: string): string | null {
  const stripped = rawPath
    .split("/")
    .map((s) => s.split(";")[0])
    .join("/");
  if (/%2f|%5c|%00/i.test(stripped)) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(stripped);
  } catch {
    return null;
  }
  return normalizeSegments(decoded);
}

async function startNodeServer(name: string, resolvePath: (raw: string) => string | null): Promise<PathServer> {
  const log: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const raw = req.url ?? "/";
    log.push(`${req.method} ${raw}`);
    const to = new URL(raw, "http://x").searchParams.get("to");
    if (raw.startsWith("/allowed/redirect?") && to) {
      res.writeHead(302, { location: to });
      res.end();
      return;
    }
    const served = resolvePath(raw.split("?")[0]);
    if (served === null) {
      res.writeHead(400);
      res.end("bad request");
      return;
    }
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
    res.end(`served ${served}`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    name,
    port: (server.address() as AddressInfo).port,
    log,
    sync: () => syncLog((server.address() as AddressInfo).port, log),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export const startDecodingServer = () => startNodeServer("decoding", decodingServerPath);
export const startTomcatLikeServer = () => startNodeServer("tomcat", tomcatPath);

/** Whether `python3` runs here. */
export function hasPython(): boolean {
  return spawnSync("python3", ["--version"], { encoding: "utf8" }).status === 0;
}

/**
 * The real `python3 -m http.server` over a directory holding `allowed/ok.txt`,
 * `allowed/private/key` and `secret/x`, each file's content its own path.
 */
export async function startPythonServer(root: string): Promise<PathServer> {
  for (const file of ["allowed/ok.txt", "allowed/private/key", "secret/x"]) {
    mkdirSync(join(root, file, ".."), { recursive: true });
    writeFileSync(join(root, file), `served /${file}`);
  }
  const child: ChildProcess = spawn("python3", ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", root], { stdio: ["ignore", "pipe", "pipe"] });
  const log: string[] = [];
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    for (const m of chunk.matchAll(/"([A-Z]+ \S+) HTTP\/1\.[01]"/g)) log.push(m[1]);
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      const m = /port (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`python3 http.server exited (${code})`)));
  });
  return {
    name: "python",
    port,
    log,
    sync: () => syncLog(port, log),
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

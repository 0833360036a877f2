/**
 * The page and its files, served from the package's runtime/dashboard/ui/ (plain HTML, CSS and
 * ES modules: no build step). The path is resolved from this module, so it is the same from the
 * sources and from dist/ (dist/runtime/dashboard/ -> ../../../runtime/dashboard/ui/).
 */
import { readFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import { BASE_HEADERS, HttpError } from "./http.js";

const UI_DIR = fileURLToPath(new URL("../../../runtime/dashboard/ui/", import.meta.url));

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** A file name the page may ask for: letters, digits, - and _, with a known extension; nothing else. */
const SAFE_NAME = /^[a-z0-9_-]+\.(js|css|svg)$/i;

/** Where the UI files are (for tests and the package's "files"). */
export function uiDir(): string {
  return UI_DIR;
}

/**
 * Sends the page, with the token in a meta tag for its scripts (they send it in a header with
 * every state-changing request; the session cookie is HttpOnly).
 */
export async function sendPage(res: ServerResponse, token: string, headers: Record<string, string>): Promise<void> {
  const html = await readFile(UI_DIR + "index.html", "utf8");
  res.writeHead(200, { ...BASE_HEADERS, "content-type": "text/html; charset=utf-8", ...headers }).end(html.replace("__AGENT_OS_TOKEN__", token));
}

/** Sends one file of ui/. @throws HttpError 404 for any other name. */
export async function sendUiFile(res: ServerResponse, name: string): Promise<void> {
  if (!SAFE_NAME.test(name)) throw new HttpError(404, "not found");
  const ext = name.slice(name.lastIndexOf(".")).toLowerCase();
  let body: Buffer;
  try {
    body = await readFile(UI_DIR + name);
  } catch {
    throw new HttpError(404, "not found");
  }
  res.writeHead(200, { ...BASE_HEADERS, "content-type": TYPES[ext] }).end(body);
}

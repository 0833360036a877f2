/**
 * Canonical resources: the one spelling of a path or URL that the policy decides on and the
 * capability then uses. Two spellings of the same thing must decide the same.
 */
import { GuestError } from "./errors.js";
import { assertServerIndependentPath } from "./url-path.js";
import { utf8Length } from "./portable/utf8.js";

/** The longest guest path accepted, in bytes. */
export const MAX_PATH_BYTES = 4096;

/**
 * Normalizes a guest path: absolute, `/`-separated, no `.` or `..` segments, no doubled or
 * trailing slashes. `..` above the root stays at the root (as in POSIX). Backslashes are
 * ordinary characters on the guest side, so they are refused rather than guessed at.
 *
 * @example canonicalPath("/workspace/./a//b/../c") === "/workspace/a/c"
 * @throws GuestError `invalid` for a NUL byte, a backslash, a relative or over-long path.
 */
export function canonicalPath(path: string): string {
  if (typeof path !== "string") throw invalid("a path must be a string");
  if (path.includes("\0")) throw invalid("a path must not contain a NUL byte");
  if (path.includes("\\")) throw invalid("a path must not contain a backslash");
  if (!path.startsWith("/")) throw invalid(`a path must be absolute: ${JSON.stringify(clip(path))}`);
  if (utf8Length(path) > MAX_PATH_BYTES) throw invalid(`a path must be at most ${MAX_PATH_BYTES} bytes`);
  const out: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") out.pop();
    else out.push(segment);
  }
  return "/" + out.join("/");
}

/** Whether `path` (canonical) is `prefix` (canonical) or lies below it. */
export function isWithin(path: string, prefix: string): boolean {
  if (prefix === "/") return true;
  return path === prefix || path.startsWith(prefix + "/");
}

const UNRESERVED = /%([0-9A-Fa-f]{2})/g;

/**
 * Normalizes an http(s) URL: lower-case scheme and host, IDN hosts as punycode, IPv4 in
 * dotted decimal (the WHATWG parser turns `0x7f.1`, `2130706433` and `0177.0.0.1` into
 * `127.0.0.1`), the default port dropped, an empty path as `/`, no fragment, percent-encoding
 * of unreserved characters decoded and of the rest in upper case, and `.`/`..` resolved.
 * User info is refused: it has no business in an agent's request and hides the real host. A path
 * whose meaning depends on the server (an encoded `/` or `\`, a dot segment once decoded or
 * before `;` parameters, `//`, overlong UTF-8: see url-path.ts) is refused too.
 *
 * @example canonicalUrl("HTTPS://Example.COM:443/a/../%7euser") === "https://example.com/~user"
 * @throws GuestError `invalid` for anything that is not an absolute http or https URL, or for a
 * path that a server may read as another path.
 */
export function canonicalUrl(input: string): string {
  if (typeof input !== "string") throw invalid("a URL must be a string");
  if (input.includes("\0")) throw invalid("a URL must not contain a NUL byte");
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw invalid(`not an absolute URL: ${JSON.stringify(clip(input))}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw invalid(`only http and https URLs are allowed, not ${url.protocol.slice(0, -1)}`);
  }
  if (url.username !== "" || url.password !== "") throw invalid("a URL must not carry user info");
  if (url.hostname === "") throw invalid("a URL must name a host");
  url.hash = "";
  assertServerIndependentPath(url.pathname);
  const path = url.pathname.replace(UNRESERVED, normalizeEscape);
  const search = url.search.replace(UNRESERVED, normalizeEscape);
  const host = url.hostname.endsWith(".") ? url.hostname.slice(0, -1) : url.hostname;
  const port = url.port === "" ? "" : `:${url.port}`;
  return `${url.protocol}//${host}${port}${path}${search}`;
}

function normalizeEscape(_match: string, hex: string): string {
  const code = parseInt(hex, 16);
  const ch = String.fromCharCode(code);
  return /[A-Za-z0-9\-._~]/.test(ch) ? ch : `%${hex.toUpperCase()}`;
}

function clip(text: string): string {
  return text.length > 200 ? text.slice(0, 200) + "…" : text;
}

function invalid(message: string): GuestError {
  return new GuestError({ tag: "invalid", val: message });
}

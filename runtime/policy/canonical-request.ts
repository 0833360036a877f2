/**
 * The request as the policy decides it. The gate already hands the policy canonical requests,
 * but `policy.decide` is also called directly (the library API, `agent-os policy explain`, a
 * dashboard, a gateway), so the engine canonicalizes what it is given itself: the action's
 * alias to its canonical name, fs paths with canonicalPath, http URLs with canonicalUrl, the
 * method in upper case. A resource that cannot be made canonical is refused (the decision is a
 * fail-closed deny naming why). Canonical input, the gate's, passes a cheap check and is used
 * as it is, without a copy.
 */
import { canonicalPath, canonicalUrl } from "../canonical.js";
import { GuestError } from "../errors.js";
import type { Action, Request } from "../types.js";
import { ACTION_NAMES, canonicalAction, resourceKind, type ResourceKind } from "./actions.js";

/**
 * The canonical form of `request` (the same object when it already is canonical), or a string
 * saying why it cannot be decided.
 *
 * @example canonicalizeRequest({ action: "file_read", resource: "/a/../b", agent: "x", pid: 0 }) // { action: "fs.read", resource: "/b", ... }
 */
export function canonicalizeRequest(request: Request): Request | string {
  if (typeof request !== "object" || request === null) return "not an object";
  const given = request.action;
  const known = typeof given === "string" ? ACTIONS_BY_NAME.get(given) : undefined;
  if (known === undefined) return `unknown action ${String(JSON.stringify(given))}`;
  const resource = request.resource;
  if (typeof resource !== "string") return "the resource is not a string";
  const method = request.method;
  if (method !== undefined && typeof method !== "string") return "the method is not a string";

  let canonical = resource;
  if (known.kind === "path" && !isCanonicalPath(resource)) {
    try {
      canonical = canonicalPath(resource);
    } catch (error) {
      return `the path cannot be made canonical (${why(error)})`;
    }
  } else if (known.kind === "url" && !isCanonicalUrl(resource)) {
    try {
      canonical = canonicalUrl(resource);
    } catch (error) {
      return `the URL cannot be made canonical (${why(error)})`;
    }
  }
  const upper = method !== undefined && !isUpperCase(method) ? method.toUpperCase() : method;
  if (known.action === given && canonical === resource && upper === method) return request;
  const copy: Request = { ...request, action: known.action, resource: canonical };
  if (upper !== undefined) copy.method = upper;
  return copy;
}

/** Every action name a request may carry (canonical names and aliases): its canonical action and resource kind. */
const ACTIONS_BY_NAME: ReadonlyMap<string, { action: Action; kind: ResourceKind }> = new Map(
  ACTION_NAMES.map((name) => {
    const action = canonicalAction(name)!;
    return [name, { action, kind: resourceKind(action) }];
  }),
);

function isUpperCase(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) return false;
    if (c > 0x7f) return text === text.toUpperCase();
  }
  return true;
}

function why(error: unknown): string {
  if (error instanceof GuestError) return typeof error.error.val === "string" ? error.error.val : error.error.val.reason;
  return error instanceof Error ? error.message : "unknown error";
}

/** At most 4096 UTF-8 bytes (MAX_PATH_BYTES): a UTF-16 code unit is at most 3 of them. */
const SHORT_PATH = Math.floor(4096 / 3);

/**
 * A cheap, conservative test that canonicalPath would return `path` unchanged: absolute, short
 * enough, no doubled or trailing slash, no segment starting with a dot (so no `.` or `..`; a
 * dotfile merely takes the slow way), no backslash, no NUL. False means "not sure".
 */
export function isCanonicalPath(path: string): boolean {
  const n = path.length;
  if (n === 0 || n > SHORT_PATH || path.charCodeAt(0) !== 0x2f) return false;
  if (n > 1 && path.charCodeAt(n - 1) === 0x2f) return false;
  return !NOT_CANONICAL_PATH.test(path);
}

/** `//`, a segment starting with a dot, a backslash, a NUL. */
const NOT_CANONICAL_PATH = /\/[/.]|[\\\0]/;

// Characters no URL parser encodes or decodes in a path (bit 1) or a query (bit 2): no `%`,
// `;`, quotes, spaces, `#`, backslash, controls or non-ASCII.
const IN_PATH = 1;
const IN_QUERY = 2;
const URL_CHARS = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&()*+,=:@") URL_CHARS[c.charCodeAt(0)] = IN_PATH | IN_QUERY;
URL_CHARS["/".charCodeAt(0)] = IN_QUERY;
URL_CHARS["?".charCodeAt(0)] = IN_QUERY;

/**
 * A cheap, conservative test that canonicalUrl would return `url` unchanged. False means "not
 * sure" (the full canonicalization then decides): it refuses far more than it needs to, and
 * never accepts a spelling that canonicalUrl would change or refuse.
 *
 * Accepted: `http` or `https`; a host of lower-case DNS labels (letters, digits, inner hyphens,
 * no punycode, whose validity is the parser's to say) whose last label starts with a letter (so
 * that no parser reads the host as an IPv4 number), or a dotted-decimal IPv4 address without
 * leading zeros; a port that is not the default; a path whose segments use only characters no
 * parser encodes or decodes, none empty inside it or starting with a dot (so no `.`, `..`,
 * `//`); a query that is not empty; no fragment.
 */
export function isCanonicalUrl(url: string): boolean {
  const n = url.length;
  if (n > 2048) return false;
  const https = url.startsWith("https://");
  if (!https && !url.startsWith("http://")) return false;
  const defaultPort = https ? 443 : 80;
  let i = scanHost(url, https ? 8 : 7);
  if (i < 0) return false;
  if (url.charCodeAt(i) === 0x3a) {
    const start = ++i;
    while (i < n && i - start <= 5 && isDigit(url.charCodeAt(i))) i++;
    const port = Number(url.slice(start, i));
    if (i === start || url.charCodeAt(start) === 0x30 || port > 65535 || port === defaultPort) return false;
  }
  if (url.charCodeAt(i) !== 0x2f) return false;
  for (; i < n; i++) {
    const c = url.charCodeAt(i);
    if (c === 0x3f) break;
    if (c === 0x2f) {
      const next = url.charCodeAt(i + 1);
      if (next === 0x2f || next === 0x2e) return false;
    } else if (c >= 128 || !(URL_CHARS[c] & IN_PATH)) return false;
  }
  if (i === n) return true;
  if (i === n - 1) return false; // an empty query is dropped
  for (i++; i < n; i++) {
    const c = url.charCodeAt(i);
    if (c >= 128 || !(URL_CHARS[c] & IN_QUERY)) return false;
  }
  return true;
}

/** The index just past a host isCanonicalUrl accepts, starting at `i`, or -1. */
function scanHost(url: string, i: number): number {
  const start = i;
  let labels = 0;
  let label = i;
  let numeric = true;
  for (; ; i++) {
    const c = i < url.length ? url.charCodeAt(i) : 0x2f;
    if (c === 0x2e || c === 0x2f || c === 0x3a) {
      const length = i - label;
      if (length === 0 || length > 63 || url.charCodeAt(label) === 0x2d || url.charCodeAt(i - 1) === 0x2d) return -1;
      if (length > 3 && url.charCodeAt(label + 2) === 0x2d && url.charCodeAt(label + 3) === 0x2d) return -1; // xn--, and any other ??--
      labels++;
      if (c !== 0x2e) break;
      label = i + 1;
      numeric = true;
    } else if (isDigit(c)) continue;
    else if ((c >= 0x61 && c <= 0x7a) || c === 0x2d) numeric = false;
    else return -1;
  }
  // The last label starts with a letter: a domain name. Otherwise only dotted decimal will do.
  const first = url.charCodeAt(label);
  if (first >= 0x61 && first <= 0x7a) return i;
  return numeric && labels === 4 && isDottedDecimal(url.slice(start, i)) ? i : -1;
}

function isDottedDecimal(host: string): boolean {
  return host.split(".").every((octet) => /^(?:0|[1-9][0-9]{0,2})$/.test(octet) && Number(octet) <= 255);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

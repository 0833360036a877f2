/**
 * URL paths whose meaning depends on the server. The policy decides on the path as the URL
 * spells it, but servers decode and normalize paths in different ways before they serve one:
 * Python's http.server and many proxies decode `%2f` and then resolve `..`; Tomcat, Jetty and
 * Spring drop `;` path parameters before they resolve `..`; some decode twice, map fullwidth or
 * overlong-UTF-8 dots to `.`, strip trailing spaces, or collapse `//`. A path that any of them
 * would read as another path is refused, so that the policy never sees a path other than the
 * one a server may serve.
 *
 * The query string is not checked: servers split it off before they decode the path and never
 * resolve dot segments in it, and encoded slashes there are everyday data (a URL as a parameter).
 */
import { GuestError } from "./errors.js";

/** Decoding rounds looked through (`%252e` is two); a path encoded more deeply is refused. */
const MAX_LAYERS = 8;
const ESCAPE = /%[0-9A-Fa-f]{2}/;

/**
 * Refuses a URL path (as the WHATWG parser serializes it: `.` and `..` already resolved, `\`
 * already `/`) whose meaning depends on the server. Refused, in every segment:
 * - a `%` that does not start a `%XX` escape, and IIS-style `%uXXXX` escapes, at any depth;
 * - a raw `;` (path parameters: Tomcat and Spring drop them, so `/admin;x/k` is `/admin/k` there;
 *   a literal semicolon is `%3B`);
 * - an empty segment inside the path (`//`, which many servers collapse);
 * - after decoding once, twice or more: `/` or `\`, a control character, bytes that are not
 *   UTF-8 (overlong `%c0%ae` is `.` to lenient decoders), or a segment made only of dots and
 *   spaces (`..`, `.%2e`, `%252e%252e`, `.. `), also before a `;` (`..;x`) and after Unicode
 *   compatibility folding (fullwidth `．．`, `‥`, fullwidth `／` and `＼`).
 *
 * @example assertServerIndependentPath("/allowed/a%20b") // passes
 * @example assertServerIndependentPath("/allowed/..%2fsecret") // throws: an encoded "/"
 * @throws GuestError `invalid` naming the segment and why.
 */
export function assertServerIndependentPath(pathname: string): void {
  const segments = pathname.split("/").slice(1);
  segments.forEach((segment, i) => {
    if (segment === "" && i < segments.length - 1) refuse(segment, "an empty segment (//), which many servers collapse");
    // The serialized path is ASCII with spaces encoded: without % or ; only a dot segment could mislead.
    if (!segment.includes("%") && !segment.includes(";") && !/^\.+$/.test(segment)) return;
    if (/%(?![0-9A-Fa-f]{2})/.test(segment)) refuse(segment, "a % that is not a %XX escape");
    if (segment.includes(";")) refuse(segment, 'a ";", which starts path parameters that Tomcat and Spring drop (send %3B for a literal semicolon)');
    checkLayer(segment, segment);
    let layer = segment;
    for (let depth = 1; ESCAPE.test(layer); depth++) {
      if (depth > MAX_LAYERS) refuse(segment, `percent-encoded more than ${MAX_LAYERS} times`);
      layer = decodeOnce(layer, segment);
      if (/[/\\]/.test(layer)) refuse(segment, `an encoded "${layer.includes("/") ? "/" : "\\"}", which servers that decode it read as a separator`);
      if (/[\x00-\x1f\x7f]/.test(layer)) refuse(segment, "an encoded control character");
      checkLayer(layer, segment);
    }
  });
}

/** The checks every spelling of a segment must pass: as given and as each decoding gives it. */
function checkLayer(layer: string, segment: string): void {
  if (/%u[0-9A-Fa-f]{4}/.test(layer)) refuse(segment, "a %uXXXX escape, which IIS decodes");
  // ASCII is its own compatibility form: only decoded non-ASCII text needs folding.
  const forms = /^[\x00-\x7f]*$/.test(layer) ? [layer] : [layer, layer.normalize("NFKC")];
  for (const form of forms) {
    if (form !== layer && /[/\\]/.test(form)) refuse(segment, 'a character that Unicode folding turns into "/" or "\\"');
    const base = form.split(";")[0];
    if (/^[.\s]*\.[.\s]*$/.test(base)) refuse(segment, "only dots once decoded (a . or .. segment), which servers resolve");
  }
}

/**
 * Decodes the `%XX` escapes of one layer. Each run of escapes must be UTF-8 by itself (a
 * character's encoding never starts with a continuation byte, so this is the same as decoding
 * the layer's bytes); characters between runs are already decoded and stay as they are.
 */
function decodeOnce(text: string, segment: string): string {
  let out = "";
  for (let i = 0; i < text.length; ) {
    if (!isEscapeAt(text, i)) {
      out += text[i++];
      continue;
    }
    const bytes: number[] = [];
    for (; isEscapeAt(text, i); i += 3) bytes.push((hexValue(text.charCodeAt(i + 1)) << 4) | hexValue(text.charCodeAt(i + 2)));
    out += strictUtf8(bytes, segment);
  }
  return out;
}

function isEscapeAt(text: string, i: number): boolean {
  return text.charCodeAt(i) === 0x25 && hexValue(text.charCodeAt(i + 1)) >= 0 && hexValue(text.charCodeAt(i + 2)) >= 0;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

/** UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates, nothing above U+10FFFF. */
function strictUtf8(bytes: number[], segment: string): string {
  const bad = () => refuse(segment, 'escapes that are not UTF-8 (overlong or malformed: lenient decoders read %c0%ae as ".")');
  let out = "";
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i];
    const need = lead < 0x80 ? 0 : lead >= 0xc2 && lead <= 0xdf ? 1 : lead >= 0xe0 && lead <= 0xef ? 2 : lead >= 0xf0 && lead <= 0xf4 ? 3 : -1;
    if (need < 0) bad();
    let cp = need === 0 ? lead : lead & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const next = bytes[i + k];
      if (next === undefined || (next & 0xc0) !== 0x80) bad();
      cp = (cp << 6) | (next & 0x3f);
    }
    const min = [0, 0x80, 0x800, 0x10000][need];
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) bad();
    out += String.fromCodePoint(cp);
    i += need + 1;
  }
  return out;
}

function refuse(segment: string, why: string): never {
  const shown = segment.length > 80 ? `${segment.slice(0, 80)}…` : segment;
  throw new GuestError({ tag: "invalid", val: `a URL path whose meaning depends on the server: segment ${JSON.stringify(shown)}: ${why}` });
}

/**
 * Secrets at egress: the http capability sets a secret's header itself on every hop to one of
 * the secret's origins, with the value read from the host's environment at call time, and
 * replaces every echo of a value it knows by `[secret:NAME]` in what the guest receives (and so
 * in what the log records). The guest never holds a value; it cannot name one either: a
 * guest-supplied header of a secret's name is dropped on the secret's origins.
 *
 * Echoes scrubbed, of the raw value and of the formatted header value: as they are; JSON-escaped
 * (with `\/` and with `\uXXXX` for non-ASCII too); percent-encoded (upper- and lower-case hex,
 * `+` for a space, as forms encode); base64 and base64url at each of the three byte alignments
 * (so an echo inside a larger base64 blob loses all but at most two bytes at either end). The
 * whole body is scrubbed at once (no chunk boundary splits a value); a hop that carried a secret
 * asks for no content encoding, and a compressed answer (gzip, deflate, br) is decoded before it
 * is scrubbed. Not covered: any other transformation (hex, case changes, a part of a value).
 */
import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from "node:zlib";
import { GuestError, guestErrors, type WitError } from "../errors.js";
import type { SecretSpec } from "../types.js";
import type { HttpResponse } from "./types.js";

/** Reads one environment variable of the host, at call time. Default: `process.env`. */
export type SecretEnv = (name: string) => string | undefined;

/** The host's own environment, read on every call (a rotated key is picked up at once). */
export const processEnv: SecretEnv = (name) => process.env[name];

/** What a header value may hold: tab, visible ASCII, and Latin-1 (what HTTP/1.1 sends). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** One echo form of a value and what replaces it. */
interface Form {
  bytes: Buffer;
  mask: Buffer;
}

/**
 * The echo forms of each secret's last value, kept by one run's http capability so that they are
 * computed once per value, not once per call (a rotated value is computed again).
 */
export type EchoFormCache = Map<string, { value: string; forms: Form[] }>;

/**
 * The secrets of one http.fetch call: which were injected, and the values read (each once).
 *
 * @example const secrets = new CallSecrets(specs, processEnv);
 *          const headers = secrets.headersFor("https://api.github.com", guestHeaders);
 *          const response = secrets.scrubResponse(raw);
 */
export class CallSecrets {
  /** Names of the secrets sent on some hop of this call, in order. */
  readonly injected: string[] = [];
  readonly #specs: readonly SecretSpec[];
  readonly #env: SecretEnv;
  readonly #values = new Map<string, string>();
  #forms: Form[] | undefined;

  readonly #cache: EchoFormCache;

  constructor(specs: readonly SecretSpec[], env: SecretEnv, cache: EchoFormCache = new Map()) {
    this.#specs = specs;
    this.#env = env;
    this.#cache = cache;
  }

  /** Whether any secret is configured (when none is, nothing here costs anything). */
  get any(): boolean {
    return this.#specs.length > 0;
  }

  /**
   * The headers of one hop to `origin`: the guest's, without any header a secret of this origin
   * sets (case-insensitive) and without accept-encoding, then each such secret's header and
   * `accept-encoding: identity`. Hops to other origins get the guest's headers unchanged.
   *
   * @throws GuestError `io` when a secret's variable is not set (nothing is sent).
   */
  headersFor(origin: string, guest: [string, string][]): { headers: [string, string][]; carries: boolean } {
    const here = this.#specs.filter((s) => s.origins.includes(origin));
    if (here.length === 0) return { headers: guest, carries: false };
    const dropped = new Set([...here.map((s) => s.header.toLowerCase()), "accept-encoding"]);
    const headers = guest.filter(([k]) => !dropped.has(k.toLowerCase()));
    const values = here.map((spec) => [spec, this.#value(spec)] as const); // all read before any is used
    for (const [spec, value] of values) {
      headers.push([spec.header, spec.format.split("{value}").join(value)]);
      if (!this.injected.includes(spec.name)) this.injected.push(spec.name);
    }
    headers.push(["accept-encoding", "identity"]);
    return { headers, carries: true };
  }

  /** Whether `text` holds a value this call knows, in any form scrubbed. */
  reveals(text: string): boolean {
    const bytes = Buffer.from(text, "latin1");
    const utf8 = Buffer.from(text, "utf8");
    return this.#allForms().some((f) => bytes.includes(f.bytes) || utf8.includes(f.bytes));
  }

  /** The response with every known value replaced by `[secret:NAME]` (body, header names and values). */
  scrubResponse(res: HttpResponse): HttpResponse {
    const forms = this.#allForms();
    if (forms.length === 0) return res;
    const body = scrubBytes(Buffer.from(res.body.buffer, res.body.byteOffset, res.body.byteLength), forms);
    const bodyChanged = body.byteLength !== res.body.byteLength || !body.equals(res.body);
    const headers = res.headers.map(([k, v]): [string, string] => {
      const value = k === "content-length" && bodyChanged ? String(body.byteLength) : this.#scrubLatin1(v, forms);
      return [this.#scrubLatin1(k, forms), value];
    });
    return { status: res.status, headers, body: bodyChanged ? new Uint8Array(body) : res.body };
  }

  /** A GuestError with every known value replaced (errors the guest sees never hold one). */
  scrubError(error: GuestError): GuestError {
    const forms = this.#allForms();
    if (forms.length === 0) return error;
    const text = (s: string) => scrubBytes(Buffer.from(s, "utf8"), forms).toString("utf8");
    const e = error.error;
    const scrubbed: WitError = e.tag === "denied" ? { tag: "denied", val: { ...e.val, reason: text(e.val.reason) } } : { ...e, val: text(e.val) };
    return new GuestError(scrubbed);
  }

  #scrubLatin1(text: string, forms: Form[]): string {
    // Header bytes arrive as Latin-1: a UTF-8 value is found in its bytes either way.
    return scrubBytes(Buffer.from(text, "latin1"), forms).toString("latin1");
  }

  #value(spec: SecretSpec): string {
    const known = this.#values.get(spec.name);
    if (known !== undefined) return known;
    const value = this.#env(spec.env);
    if (value === undefined || value === "") {
      throw guestErrors.io(`the secret ${spec.name} is not available: the host's environment variable ${spec.env} is not set (nothing was sent)`);
    }
    if (!HEADER_VALUE.test(value)) throw guestErrors.io(`the secret ${spec.name} cannot be sent in a header: its value holds a line break or a character outside Latin-1 (nothing was sent)`);
    this.#values.set(spec.name, value);
    this.#forms = undefined;
    return value;
  }

  /** Every secret whose variable is set, injected or not: a server may echo one it knows anyway. */
  #allForms(): Form[] {
    if (this.#forms) return this.#forms;
    const forms: Form[] = [];
    for (const spec of this.#specs) {
      const value = this.#values.get(spec.name) ?? this.#env(spec.env);
      if (value === undefined || value === "") continue;
      let cached = this.#cache.get(spec.name);
      if (cached?.value !== value) {
        const mask = Buffer.from(`[secret:${spec.name}]`);
        const formatted = spec.format.split("{value}").join(value);
        const texts = new Set([...echoForms(formatted), ...echoForms(value)]);
        cached = { value, forms: [...texts].map((text) => ({ bytes: Buffer.from(text, "utf8"), mask })) };
        this.#cache.set(spec.name, cached);
      }
      forms.push(...cached.forms);
    }
    // Longest first: the formatted value goes before the raw value it contains.
    forms.sort((a, b) => b.bytes.byteLength - a.bytes.byteLength);
    this.#forms = forms;
    return forms;
  }
}

/**
 * The forms in which a server may echo `value`: see the module comment.
 *
 * @example echoForms('a/b"c') // ['a/b"c', 'a/b\\"c', 'a\\/b\\"c', 'a%2Fb%22c', 'a%2fb%22c', ...]
 */
export function echoForms(value: string): string[] {
  const forms = new Set<string>([value]);
  const json = JSON.stringify(value).slice(1, -1);
  for (const j of [json, json.replace(/\//g, "\\/")]) {
    forms.add(j);
    forms.add(j.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
    forms.add(j.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0").toUpperCase()}`));
  }
  try {
    const url = encodeURIComponent(value);
    for (const u of [url, new URLSearchParams({ v: value }).toString().slice(2)]) {
      forms.add(u);
      forms.add(u.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()));
      forms.add(u.replace(/%20/g, "+"));
    }
  } catch {
    // A lone surrogate has no percent-encoding (and cannot be sent in a header either).
  }
  const bytes = Buffer.from(value, "utf8");
  for (let skip = 0; skip < 3; skip++) {
    const whole = Math.floor((bytes.byteLength - skip) / 3) * 3;
    if (whole < 6) continue; // too short to tell from chance
    const b64 = bytes.subarray(skip, skip + whole).toString("base64");
    forms.add(b64);
    forms.add(b64.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return [...forms].filter((f) => f.length > 0);
}

function scrubBytes(buf: Buffer, forms: Form[]): Buffer {
  let out = buf;
  for (const { bytes, mask } of forms) {
    let at = out.indexOf(bytes);
    if (at === -1) continue;
    const parts: Buffer[] = [];
    let from = 0;
    while (at !== -1) {
      parts.push(out.subarray(from, at), mask);
      from = at + bytes.byteLength;
      at = out.indexOf(bytes, from);
    }
    parts.push(out.subarray(from));
    out = Buffer.concat(parts);
  }
  return out;
}

/**
 * A response to a hop that carried a secret, with its content encoding undone (gzip, deflate,
 * br), so that an echo cannot hide in compressed bytes; the decoded body stays under `cap`.
 *
 * @throws GuestError `io` for an encoding the kernel cannot decode, `limit` past the cap.
 */
export function decodedForScrubbing(res: HttpResponse, cap: number): HttpResponse {
  const encoding = res.headers.find(([k]) => k === "content-encoding")?.[1].trim().toLowerCase();
  if (encoding === undefined || encoding === "" || encoding === "identity") return res;
  const decoders: Record<string, (b: Buffer, o: { maxOutputLength: number }) => Buffer> = {
    gzip: gunzipSync,
    "x-gzip": gunzipSync,
    br: brotliDecompressSync,
    deflate: (b, o) => {
      try {
        return inflateSync(b, o);
      } catch (err) {
        if ((err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") throw err;
        return inflateRawSync(b, o); // some servers send raw deflate
      }
    },
  };
  const decode = decoders[encoding];
  if (!decode) throw guestErrors.io(`the response to a request carrying a secret is encoded with ${JSON.stringify(encoding.slice(0, 40))}, which the kernel cannot decode to scrub it`);
  let body: Buffer;
  try {
    body = decode(Buffer.from(res.body.buffer, res.body.byteOffset, res.body.byteLength), { maxOutputLength: cap });
  } catch (err) {
    if ((err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") throw guestErrors.limit(`response body exceeds the limit of ${cap} bytes once decoded`);
    throw guestErrors.io(`the response to a request carrying a secret is not valid ${encoding}`);
  }
  const headers = res.headers.filter(([k]) => k !== "content-encoding" && k !== "content-length");
  headers.push(["content-length", String(body.byteLength)]);
  return { status: res.status, headers, body: new Uint8Array(body) };
}

export { secretsOf, withoutSecrets } from "./secret-names.js";

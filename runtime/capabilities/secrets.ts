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
 *
 * This module runs on any host (plain `Uint8Array`s, see secrets-bytes.ts). Undoing a content
 * encoding is the host's part, a {@link ContentDecoder}: Node's is synchronous, on node:zlib
 * (hosts/node/net/secrets-node.ts); a Web host's is asynchronous, on DecompressionStream (secrets-web.ts).
 */
import { GuestError, guestErrors, type WitError } from "../errors.js";
import { readUtf8, toBase64, utf8Bytes } from "../portable/bytes.js";
import type { SecretSpec } from "../types.js";
import { AnyPattern, BytePattern, FormSet, bytesEqual, latin1Decode, latin1Encode, type Form } from "./secrets-bytes.js";
import type { HttpResponse } from "./types.js";

/** Reads one environment variable of the host, at call time (Node's: `processEnv`, in secrets-node.ts). */
export type SecretEnv = (name: string) => string | undefined;

/**
 * Undoes the content encoding of a response to a hop that carried a secret, so that it can be
 * scrubbed; the decoded body stays under `cap` bytes.
 *
 * @throws GuestError `io` for an encoding it cannot undo, `limit` past the cap.
 */
export type ContentDecoder = (res: HttpResponse, cap: number) => HttpResponse | Promise<HttpResponse>;

/** What a header value may hold: tab, visible ASCII, and Latin-1 (what HTTP/1.1 sends). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * The echo forms of each secret's last value, kept by one run's http capability so that they are
 * computed once per value, not once per call (a rotated value is computed again).
 */
export type EchoFormCache = Map<string, { value: string; forms: Form[]; filter: AnyPattern }>;

/**
 * The secrets of one http.fetch call: which were injected, and the values read (each once).
 *
 * @example const secrets = new CallSecrets(specs, processEnv);
 *          const res = await secrets.scrubbed(async () => {
 *            const { headers } = secrets.headersFor("https://api.github.com", guestHeaders);
 *            return send(headers);
 *          });
 */
export class CallSecrets {
  /** Names of the secrets sent on some hop of this call, in order. */
  readonly injected: string[] = [];
  readonly #specs: readonly SecretSpec[];
  readonly #env: SecretEnv;
  readonly #values = new Map<string, string>();
  #forms: FormSet | undefined;

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
    const forms = this.#allForms();
    return forms.holds(latin1Encode(text)) || forms.holds(utf8Bytes(text));
  }

  /**
   * The call's response, scrubbed, with the names of the secrets it carried (for the gate's
   * result event, never for the guest); a GuestError it fails with is scrubbed too, and carries
   * the names as well.
   */
  async scrubbed(call: () => Promise<HttpResponse>): Promise<HttpResponse> {
    let res: HttpResponse;
    try {
      res = this.scrubResponse(await call());
    } catch (err) {
      if (!(err instanceof GuestError)) throw err;
      throw this.injected.length > 0 ? Object.assign(this.scrubError(err), { secrets: [...this.injected] }) : this.scrubError(err);
    }
    return this.injected.length > 0 ? { ...res, secrets: [...this.injected] } : res;
  }

  /** The response with every known value replaced by `[secret:NAME]` (body, header names and values). */
  scrubResponse(res: HttpResponse): HttpResponse {
    const forms = this.#allForms();
    if (forms.forms.length === 0) return res;
    const body = forms.scrub(res.body);
    const bodyChanged = body !== res.body && !bytesEqual(body, res.body);
    const headers = res.headers.map(([k, v]): [string, string] => {
      const value = k === "content-length" && bodyChanged ? String(body.byteLength) : scrubLatin1(v, forms);
      return [scrubLatin1(k, forms), value];
    });
    return { status: res.status, headers, body: bodyChanged ? body : res.body };
  }

  /** A GuestError with every known value replaced (errors the guest sees never hold one). */
  scrubError(error: GuestError): GuestError {
    const forms = this.#allForms();
    if (forms.forms.length === 0) return error;
    const text = (s: string) => {
      const bytes = forms.scrub(utf8Bytes(s));
      return readUtf8(bytes, 0, bytes.length);
    };
    const e = error.error;
    const scrubbed: WitError = e.tag === "denied" ? { tag: "denied", val: { ...e.val, reason: text(e.val.reason) } } : { ...e, val: text(e.val) };
    return new GuestError(scrubbed);
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
  #allForms(): FormSet {
    if (this.#forms) return this.#forms;
    const forms: Form[] = [];
    const filters: AnyPattern[] = [];
    for (const spec of this.#specs) {
      const value = this.#values.get(spec.name) ?? this.#env(spec.env);
      if (value === undefined || value === "") continue;
      let cached = this.#cache.get(spec.name);
      if (cached?.value !== value) {
        const mask = utf8Bytes(`[secret:${spec.name}]`);
        const formatted = spec.format.split("{value}").join(value);
        const texts = new Set([...echoForms(formatted), ...echoForms(value)]);
        const own = [...texts].map((text) => ({ pattern: new BytePattern(Uint8Array.from(utf8Bytes(text))), mask }));
        cached = { value, forms: own, filter: new AnyPattern(own.map((f) => f.pattern)) };
        this.#cache.set(spec.name, cached);
      }
      forms.push(...cached.forms);
      filters.push(cached.filter);
    }
    // Longest first: the formatted value goes before the raw value it contains.
    forms.sort((a, b) => b.pattern.bytes.byteLength - a.pattern.bytes.byteLength);
    this.#forms = new FormSet(forms, filters);
    return this.#forms;
  }
}

/** Header text scrubbed in its Latin-1 bytes (as it arrived): a UTF-8 value is found in its bytes either way. */
function scrubLatin1(text: string, forms: FormSet): string {
  return latin1Decode(forms.scrub(latin1Encode(text)));
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
  const bytes = utf8Bytes(value);
  for (let skip = 0; skip < 3; skip++) {
    const whole = Math.floor((bytes.byteLength - skip) / 3) * 3;
    if (whole < 6) continue; // too short to tell from chance
    const b64 = toBase64(bytes.subarray(skip, skip + whole));
    forms.add(b64);
    forms.add(b64.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return [...forms].filter((f) => f.length > 0);
}

/**
 * The response's content coding, trimmed and in lower case; undefined for none or identity.
 * @example contentCoding({ status: 200, headers: [["content-encoding", " GZIP"]], body }) === "gzip"
 */
export function contentCoding(res: HttpResponse): string | undefined {
  const coding = res.headers.find(([k]) => k === "content-encoding")?.[1].trim().toLowerCase();
  return coding === undefined || coding === "" || coding === "identity" ? undefined : coding;
}

/**
 * The response with its body decoded: no content-encoding, and the decoded length.
 * @example withDecodedBody(res, gunzipped).headers // [..., ["content-length", "1234"]]
 */
export function withDecodedBody(res: HttpResponse, body: Uint8Array): HttpResponse {
  const headers = res.headers.filter(([k]) => k !== "content-encoding" && k !== "content-length");
  headers.push(["content-length", String(body.byteLength)]);
  return { status: res.status, headers, body };
}

/** The errors of a {@link ContentDecoder}, the same on every host. */
export const decodeErrors = {
  /** A coding the kernel cannot undo here: the response is refused rather than passed on unscrubbed. */
  unsupported: (coding: string): GuestError =>
    guestErrors.io(`the response to a request carrying a secret is encoded with ${JSON.stringify(coding.slice(0, 40))}, which the kernel cannot decode to scrub it`),
  invalid: (coding: string): GuestError => guestErrors.io(`the response to a request carrying a secret is not valid ${coding}`),
  tooLarge: (cap: number): GuestError => guestErrors.limit(`response body exceeds the limit of ${cap} bytes once decoded`),
};

export { secretsOf, withoutSecrets } from "./secret-names.js";

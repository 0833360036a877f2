/**
 * The Node host's part of secrets at egress (secrets.ts): values read from `process.env`, and a
 * response's content encoding undone synchronously with node:zlib. Nothing on an edge host
 * imports this module (their decoder is secrets-web.ts).
 */
import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from "node:zlib";
import { contentCoding, decodeErrors, withDecodedBody, type SecretEnv } from "../../../capabilities/secrets.js";
import type { HttpResponse } from "../../../capabilities/types.js";

/** The host's own environment, read on every call (a rotated key is picked up at once). */
export const processEnv: SecretEnv = (name) => process.env[name];

type Decode = (b: Buffer, o: { maxOutputLength: number }) => Buffer;

const DECODERS: Record<string, Decode> = {
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

/**
 * A response to a hop that carried a secret, with its content encoding undone (gzip, deflate,
 * br), so that an echo cannot hide in compressed bytes; the decoded body stays under `cap`.
 * The {@link ContentDecoder} of Node's http capability.
 *
 * @example res = decodedForScrubbing(res, quota.limits.httpBody)
 * @throws GuestError `io` for an encoding the kernel cannot decode, `limit` past the cap.
 */
export function decodedForScrubbing(res: HttpResponse, cap: number): HttpResponse {
  const encoding = contentCoding(res);
  if (encoding === undefined) return res;
  // (own keys only: a coding named "constructor" is no decoder)
  const decode = Object.hasOwn(DECODERS, encoding) ? DECODERS[encoding] : undefined;
  if (!decode) throw decodeErrors.unsupported(encoding);
  let body: Buffer;
  try {
    body = decode(Buffer.from(res.body.buffer, res.body.byteOffset, res.body.byteLength), { maxOutputLength: cap });
  } catch (err) {
    if ((err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") throw decodeErrors.tooLarge(cap);
    throw decodeErrors.invalid(encoding);
  }
  return withDecodedBody(res, new Uint8Array(body));
}

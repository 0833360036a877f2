/**
 * A Web host's part of secrets at egress (secrets.ts): a response's content encoding undone with
 * `DecompressionStream`, asynchronously, under the same cap as on Node.
 *
 * A Web platform's fetch undoes some codings itself before a script reads the body, and keeps
 * the `content-encoding` header: workerd undoes gzip and br (not deflate), a browser gzip,
 * deflate and br, and neither can be asked not to (a browser sets `Accept-Encoding` itself). So
 * the body the kernel reads may be decoded already, and the header does not say. The decoder
 * works either way, and never passes on bytes it could not account for:
 *
 * - gzip: bytes that start with gzip's magic (1f 8b) are decoded here, and must decode whole;
 *   other bytes are not gzip (the platform decoded them), and are scrubbed as they are.
 * - deflate: decoded here (zlib, or raw deflate as some servers send), and must decode whole;
 *   deflate has no magic that tells decoded text from raw deflate, so bytes that decode as
 *   neither are refused (`io`), unless the host says that its fetch undoes deflate.
 * - br and any other coding: `DecompressionStream` has no brotli everywhere, so refused (`io`),
 *   unless the host says that its fetch undoes it.
 *
 * A coding the host lists (`decodedByFetch`) is taken as undone: list only what the platform's
 * fetch is known to decode, since a listed coding it passes through reaches the agent encoded.
 */
import { readCapped } from "../portable/streams.js";
import { contentCoding, decodeErrors, withDecodedBody, type ContentDecoder } from "./secrets.js";
import type { HttpResponse } from "./types.js";

/** Options of {@link webContentDecoder}. */
export interface WebDecoderOptions {
  /**
   * The content codings the host's fetch undoes itself (lower case). Default: none (gzip is
   * recognized by its bytes whatever this says). A page's fetch: `["gzip", "deflate", "br"]`;
   * workerd's: `["gzip", "br"]` (br from compatibility date 2024-09-02).
   */
  decodedByFetch?: readonly string[];
}

/** Input is fed to the decompressor in slices this large, so that a bomb overshoots the cap by one slice's output at most. */
const SLICE = 4096;

type Format = "gzip" | "deflate" | "deflate-raw";

/**
 * The {@link ContentDecoder} of an edge host's http capability.
 *
 * @example const http = createEdgeHttp({ quota, secrets, env, decode: webContentDecoder({ decodedByFetch: ["gzip", "deflate", "br"] }) });
 */
export function webContentDecoder(options: WebDecoderOptions = {}): ContentDecoder {
  const undone = new Set((options.decodedByFetch ?? []).map((c) => c.trim().toLowerCase()));
  return async (res: HttpResponse, cap: number): Promise<HttpResponse> => {
    const coding = contentCoding(res);
    if (coding === undefined) return res;
    if (coding === "gzip" || coding === "x-gzip") {
      const encoded = res.body.length >= 2 && res.body[0] === 0x1f && res.body[1] === 0x8b;
      return withDecodedBody(res, encoded ? await decodedOrRefused(["gzip"], res.body, cap, coding) : res.body);
    }
    if (undone.has(coding)) return withDecodedBody(res, res.body);
    if (coding === "deflate") return withDecodedBody(res, await decodedOrRefused(["deflate", "deflate-raw"], res.body, cap, coding));
    throw decodeErrors.unsupported(coding);
  };
}

/**
 * `bytes` decoded by the first format that decodes them whole.
 * @throws GuestError `io` when none does, `limit` past the cap.
 */
async function decodedOrRefused(formats: Format[], bytes: Uint8Array, cap: number, coding: string): Promise<Uint8Array> {
  for (const format of formats) {
    const decoded = await inflate(format, bytes, cap);
    if (decoded !== undefined) return decoded;
  }
  throw decodeErrors.invalid(coding);
}

/**
 * `bytes` decompressed, or undefined when they are not valid `format` (a truncated stream, a bad
 * checksum, or data after its end, as the platform checks them).
 * @throws GuestError `limit` once the output passes `cap` (the decompressor is stopped there).
 */
async function inflate(format: Format, bytes: Uint8Array, cap: number): Promise<Uint8Array | undefined> {
  const stream = new DecompressionStream(format);
  const fed = feed(stream.writable.getWriter(), bytes);
  let out: Uint8Array | undefined;
  try {
    out = await readCapped(stream.readable, cap);
  } catch {
    return undefined;
  } finally {
    await fed;
  }
  if (out === undefined) throw decodeErrors.tooLarge(cap);
  return out;
}

/** Writes `bytes` slice by slice, each when the reader has taken the last one's output (backpressure). */
async function feed(writer: { write(chunk: Uint8Array): Promise<void>; close(): Promise<void> }, bytes: Uint8Array): Promise<void> {
  try {
    for (let at = 0; at < bytes.length; at += SLICE) await writer.write(bytes.subarray(at, at + SLICE));
    await writer.close();
  } catch {
    // The reader sees the same failure (invalid data) or has stopped (the cap).
  }
}

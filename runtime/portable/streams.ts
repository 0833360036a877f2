/** Reading bodies under a cap, on any host (Web streams). */

/**
 * Chunks as one array (the only chunk itself when it fills its buffer).
 * @example concatBytes([a, b], a.byteLength + b.byteLength)
 */
export function concatBytes(chunks: readonly Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1 && chunks[0].byteLength === chunks[0].buffer.byteLength) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * A stream read whole; undefined (the stream cancelled) once it passes `cap` bytes, so that no
 * more than the cap is ever held.
 * @example const body = await readCapped(res.body, 8 << 20); if (body === undefined) throw tooLarge();
 */
export async function readCapped(stream: ReadableStream<Uint8Array>, cap: number): Promise<Uint8Array | undefined> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > cap) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return concatBytes(chunks, size);
}

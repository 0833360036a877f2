/**
 * The engine's C library's view of strings and time, on its linear memory: UTF-8 in and out (as
 * emscripten's runtime does it: an unpaired surrogate is encoded as three bytes, a malformed
 * sequence decodes as U+FFFD), and the broken-down time `localtime` fills, in UTC.
 */

/** The string at `ptr`, up to its NUL or `maxBytes`. */
export function utf8ToString(heap: Uint8Array, ptr: number, maxBytes = Infinity): string {
  if (!ptr) return "";
  let end = ptr;
  while (heap[end] !== 0 && end - ptr < maxBytes) end++;
  return new TextDecoder().decode(heap.subarray(ptr, end));
}

/** The bytes `text` takes in UTF-8, without the NUL. */
export function lengthBytesUTF8(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit <= 0x7f) bytes++;
    else if (unit <= 0x7ff) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdfff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Writes `text` as UTF-8 and a NUL at `out`, in at most `maxBytes` bytes; returns the bytes written (without the NUL). */
export function stringToUTF8(heap: Uint8Array, text: string, out: number, maxBytes: number): number {
  if (!(maxBytes > 0)) return 0;
  const start = out;
  const end = out + maxBytes - 1;
  for (let i = 0; i < text.length; i++) {
    const point = text.codePointAt(i)!;
    if (point <= 0x7f) {
      if (out >= end) break;
      heap[out++] = point;
    } else if (point <= 0x7ff) {
      if (out + 1 >= end) break;
      heap[out++] = 0xc0 | (point >> 6);
      heap[out++] = 0x80 | (point & 63);
    } else if (point <= 0xffff) {
      if (out + 2 >= end) break;
      heap[out++] = 0xe0 | (point >> 12);
      heap[out++] = 0x80 | ((point >> 6) & 63);
      heap[out++] = 0x80 | (point & 63);
    } else {
      if (out + 3 >= end) break;
      heap[out++] = 0xf0 | (point >> 18);
      heap[out++] = 0x80 | ((point >> 12) & 63);
      heap[out++] = 0x80 | ((point >> 6) & 63);
      heap[out++] = 0x80 | (point & 63);
      i++;
    }
  }
  heap[out] = 0;
  return out - start;
}

/** Fills the `struct tm` at `tm` with `seconds` since the epoch, in UTC. */
export function writeUtcTime(i32: Int32Array, seconds: number, tm: number): void {
  const date = new Date(seconds * 1000);
  const at = tm >> 2;
  const start = Date.UTC(date.getUTCFullYear(), 0, 1);
  i32[at] = date.getUTCSeconds();
  i32[at + 1] = date.getUTCMinutes();
  i32[at + 2] = date.getUTCHours();
  i32[at + 3] = date.getUTCDate();
  i32[at + 4] = date.getUTCMonth();
  i32[at + 5] = date.getUTCFullYear() - 1900;
  i32[at + 6] = date.getUTCDay();
  i32[at + 7] = Math.floor((date.getTime() - start) / 86_400_000);
  i32[at + 8] = 0;
  i32[at + 9] = 0;
}

/**
 * The few byte conversions the engine's host side needs, on Web-standard APIs only (the engine
 * also runs in browsers and edge hosts, which have no `Buffer`).
 */

const UTF16LE = new TextDecoder("utf-16le");
const CHUNK = 8192;

/** Bytes as ISO-8859-1 text: each byte one UTF-16 code unit (not the Encoding standard's "latin1", which is windows-1252). */
export function latin1Text(bytes: Uint8Array): string {
  let text = "";
  for (let at = 0; at < bytes.length; at += CHUNK) text += String.fromCharCode.apply(null, bytes.subarray(at, at + CHUNK) as unknown as number[]);
  return text;
}

/** Little-endian UTF-16 bytes as text (a lone surrogate becomes U+FFFD, as the Encoding standard decodes). */
export function utf16leText(bytes: Uint8Array): string {
  return UTF16LE.decode(bytes);
}

/** Text as little-endian UTF-16, two bytes a code unit. */
export function utf16leBytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    bytes[2 * i] = c & 0xff;
    bytes[2 * i + 1] = c >> 8;
  }
  return bytes;
}

type Compare = (a: Uint8Array, b: Uint8Array) => number;
/** Node's native compare where the host has Buffer (about 10× a JS loop over a 3 MiB memory). */
const nativeCompare = (globalThis as { Buffer?: { compare: Compare } }).Buffer?.compare;

/** Whether `a[aFrom, aFrom + n)` and `b[bFrom, bFrom + n)` hold the same bytes. */
export function sameBytes(a: Uint8Array, aFrom: number, b: Uint8Array, bFrom: number, n: number): boolean {
  const x = a.subarray(aFrom, aFrom + n);
  const y = b.subarray(bFrom, bFrom + n);
  if (x.length !== n || y.length !== n) return false;
  if (nativeCompare) return nativeCompare(x, y) === 0;
  if ((x.byteOffset & 3) === 0 && (y.byteOffset & 3) === 0 && (n & 3) === 0) {
    const wx = new Uint32Array(x.buffer, x.byteOffset, n >> 2);
    const wy = new Uint32Array(y.buffer, y.byteOffset, n >> 2);
    for (let i = 0; i < wx.length; i++) if (wx[i] !== wy[i]) return false;
    return true;
  }
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return false;
  return true;
}

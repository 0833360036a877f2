/**
 * TextEncoder and TextDecoder (UTF-8 only, as the Encoding standard's API: `fatal`,
 * `ignoreBOM`, `stream`). Pure JS; where the engine gives a native converter (`kernel.utf8` on
 * QuickJS: the engine's own code, not a kernel call, reading and making nothing but the bytes
 * and the string), whole strings and whole runs of bytes go through it, since a byte-by-byte
 * loop in the interpreter costs about half a microsecond a byte.
 */

/** The engine's native converter: `encode(string) -> ArrayBuffer`, `decode(ArrayBuffer, fatal) -> string | undefined` (undefined: not valid UTF-8). */
let native = null;

const LABELS = new Set(["utf-8", "utf8", "unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "x-unicode20utf8"]);

export class TextEncoder {
  get encoding() { return "utf-8"; }
  encode(input = "") {
    const s = String(input);
    if (native !== null) return new Uint8Array(native.encode(s));
    const out = new Uint8Array(s.length * 3);
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
        } else c = 0xfffd;
      } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      if (c < 0x80) out[n++] = c;
      else if (c < 0x800) { out[n++] = 0xc0 | (c >> 6); out[n++] = 0x80 | (c & 63); }
      else if (c < 0x10000) { out[n++] = 0xe0 | (c >> 12); out[n++] = 0x80 | ((c >> 6) & 63); out[n++] = 0x80 | (c & 63); }
      else { out[n++] = 0xf0 | (c >> 18); out[n++] = 0x80 | ((c >> 12) & 63); out[n++] = 0x80 | ((c >> 6) & 63); out[n++] = 0x80 | (c & 63); }
    }
    return out.slice(0, n);
  }
  encodeInto(input, dest) {
    const bytes = this.encode(input);
    // Only whole characters: stop at the last lead byte that fits.
    let written = Math.min(bytes.length, dest.length);
    while (written < bytes.length && written > 0 && (bytes[written] & 0xc0) === 0x80) written--;
    dest.set(bytes.subarray(0, written));
    const read = new TextDecoder().decode(bytes.subarray(0, written)).length;
    return { read, written };
  }
}

function bytesOf(input) {
  if (input === undefined) return new Uint8Array(0);
  if (input instanceof Uint8Array) return input;
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (input instanceof ArrayBuffer || Object.prototype.toString.call(input) === "[object ArrayBuffer]") return new Uint8Array(input);
  throw new TypeError("TextDecoder.decode: the input must be an ArrayBuffer or a view of one");
}

/** How many bytes the sequence led by `x` has, or 0 if `x` cannot lead one. */
function lengthOf(x) {
  if (x < 0x80) return 1;
  if (x >= 0xc2 && x <= 0xdf) return 2;
  if (x >= 0xe0 && x <= 0xef) return 3;
  if (x >= 0xf0 && x <= 0xf4) return 4;
  return 0;
}

/** Whether `b` may follow `lead` as the second byte (the standard's narrowed ranges). */
function validSecond(lead, b) {
  if (lead === 0xe0) return b >= 0xa0 && b <= 0xbf;
  if (lead === 0xed) return b >= 0x80 && b <= 0x9f;
  if (lead === 0xf0) return b >= 0x90 && b <= 0xbf;
  if (lead === 0xf4) return b >= 0x80 && b <= 0x8f;
  return b >= 0x80 && b <= 0xbf;
}

export class TextDecoder {
  constructor(label = "utf-8", options = {}) {
    const name = String(label).trim().toLowerCase();
    if (!LABELS.has(name)) throw new RangeError(`TextDecoder: the encoding "${label}" is not supported (only UTF-8)`);
    this._fatal = Boolean(options.fatal);
    this._ignoreBOM = Boolean(options.ignoreBOM);
    this._pending = new Uint8Array(0);
    this._bomSeen = false;
  }
  get encoding() { return "utf-8"; }
  get fatal() { return this._fatal; }
  get ignoreBOM() { return this._ignoreBOM; }
  decode(input, options = {}) {
    const stream = Boolean(options.stream);
    let b = bytesOf(input);
    if (this._pending.length > 0) {
      const joined = new Uint8Array(this._pending.length + b.length);
      joined.set(this._pending);
      joined.set(b, this._pending.length);
      b = joined;
      this._pending = new Uint8Array(0);
    }
    if (native !== null) return this._decodeNative(b, stream);
    let out = "";
    let i = 0;
    const bad = () => {
      if (this._fatal) {
        this._pending = new Uint8Array(0);
        this._bomSeen = false;
        throw new TypeError("The encoded data was not valid UTF-8");
      }
      out += "\ufffd";
    };
    while (i < b.length) {
      const x = b[i];
      const n = lengthOf(x);
      if (n === 1) { out += String.fromCharCode(x); i++; continue; }
      if (n === 0) { bad(); i++; continue; }
      // A valid prefix of a sequence at the end of a streamed chunk waits for the next chunk.
      let k = 1;
      while (k < n && i + k < b.length && (k === 1 ? validSecond(x, b[i + k]) : (b[i + k] & 0xc0) === 0x80)) k++;
      if (k < n) {
        if (i + k >= b.length && stream) { this._pending = b.slice(i); break; }
        bad();
        i += k;
        continue;
      }
      let c = x & (n === 2 ? 0x1f : n === 3 ? 0x0f : 0x07);
      for (let j = 1; j < n; j++) c = (c << 6) | (b[i + j] & 0x3f);
      out += String.fromCodePoint(c);
      i += n;
    }
    if (!this._ignoreBOM && !this._bomSeen && out.length > 0) {
      if (out.charCodeAt(0) === 0xfeff) out = out.slice(1);
      this._bomSeen = true;
    }
    if (!stream) {
      this._bomSeen = false;
    }
    return out;
  }
  /** The same decoding by the engine's converter: a cut sequence at a streamed chunk's end waits for the next. */
  _decodeNative(b, stream) {
    const whole = stream ? completeLength(b) : b.length;
    if (whole < b.length) this._pending = b.slice(whole);
    const part = whole === b.length && b.byteOffset === 0 && b.buffer.byteLength === b.length ? b.buffer : b.slice(0, whole).buffer;
    let out = native.decode(part, this._fatal);
    if (out === undefined) {
      this._pending = new Uint8Array(0);
      this._bomSeen = false;
      throw new TypeError("The encoded data was not valid UTF-8");
    }
    if (!this._ignoreBOM && !this._bomSeen && out.length > 0) {
      if (out.charCodeAt(0) === 0xfeff) out = out.slice(1);
      this._bomSeen = true;
    }
    if (!stream) this._bomSeen = false;
    return out;
  }
}

/**
 * How many of `b`'s bytes end on a whole sequence: all of them, unless the last (up to three)
 * are a valid start of a sequence that the next chunk may complete. Decoding up to there and
 * the rest later gives what decoding the bytes in one piece gives.
 */
function completeLength(b) {
  for (let back = 1; back <= 3 && back <= b.length; back++) {
    const x = b[b.length - back];
    if ((x & 0xc0) === 0x80) continue;
    const n = lengthOf(x);
    if (n <= back) return b.length;
    for (let k = 1; k < back; k++) {
      const c = b[b.length - back + k];
      if (!(k === 1 ? validSecond(x, c) : (c & 0xc0) === 0x80)) return b.length;
    }
    return b.length - back;
  }
  return b.length;
}

export function create(_need, kernel) {
  const utf8 = kernel && kernel.utf8;
  if (utf8 && typeof utf8.encode === "function" && typeof utf8.decode === "function") native = utf8;
  return { TextEncoder, TextDecoder };
}

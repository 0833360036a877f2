/**
 * Finding and replacing a secret's echo forms in bytes, on plain `Uint8Array`s (any host: no
 * `Buffer`). Most bodies hold no echo, so a body is first scanned once for all the forms of a
 * secret together ({@link AnyPattern}: Wu and Manber's shifts on two-byte blocks, which skip
 * nearly a form's length at each step); only the forms found are then replaced, form by form
 * (Horspool's search for each, {@link BytePattern}). Both tables are built once per value.
 */
import { concatBytes } from "../portable/streams.js";

/** One byte string to find, with its shift table. */
export class BytePattern {
  readonly bytes: Uint8Array;
  readonly #shift: Uint32Array;

  /** @example new BytePattern(utf8Bytes("sk-abc")).indexIn(utf8Bytes("x sk-abc"), 0) === 2 */
  constructor(bytes: Uint8Array) {
    if (bytes.length === 0) throw new RangeError("BytePattern: an empty pattern matches everywhere");
    this.bytes = bytes;
    const m = bytes.length;
    this.#shift = new Uint32Array(256).fill(m);
    for (let i = 0; i < m - 1; i++) this.#shift[bytes[i]] = m - 1 - i;
  }

  /** The first index at or after `from` where the pattern starts in `haystack`, or -1. */
  indexIn(haystack: Uint8Array, from: number): number {
    const needle = this.bytes;
    const last = needle.length - 1;
    const lastByte = needle[last];
    const shift = this.#shift;
    const end = haystack.length - needle.length;
    for (let i = Math.max(0, from); i <= end; ) {
      const b = haystack[i + last];
      if (b === lastByte) {
        let j = last - 1;
        while (j >= 0 && haystack[i + j] === needle[j]) j--;
        if (j < 0) return i;
      }
      i += shift[b];
    }
    return -1;
  }
}

/** One echo form of a value and what replaces it. */
export interface Form {
  pattern: BytePattern;
  mask: Uint8Array;
}

/**
 * `buf` with every occurrence of each form replaced by its mask, form after form (in the order
 * given: longest first, so that a formatted value goes before the raw value it contains), each
 * left to right without overlaps. The same array when nothing was found.
 *
 * @example scrubBytes(utf8Bytes("a sk-1 b"), [{ pattern: new BytePattern(utf8Bytes("sk-1")), mask: utf8Bytes("[secret:k]") }])
 */
export function scrubBytes(buf: Uint8Array, forms: readonly Form[]): Uint8Array {
  let out = buf;
  for (const { pattern, mask } of forms) {
    let at = pattern.indexIn(out, 0);
    if (at === -1) continue;
    const length = pattern.bytes.length;
    const parts: Uint8Array[] = [];
    let size = 0;
    let from = 0;
    while (at !== -1) {
      parts.push(out.subarray(from, at), mask);
      size += at - from + mask.length;
      from = at + length;
      at = pattern.indexIn(out, from);
    }
    parts.push(out.subarray(from));
    size += out.length - from;
    out = concatBytes(parts, size);
  }
  return out;
}

/**
 * Several patterns searched in one pass, for which occur. Patterns shorter than two bytes are
 * searched one by one.
 *
 * @example new AnyPattern([new BytePattern(utf8Bytes("sk-1")), new BytePattern(utf8Bytes("c2stMQ"))]).foundIn(body)
 */
export class AnyPattern {
  readonly #patterns: readonly BytePattern[];
  /** The window: the shortest pattern's length, at most 256 (so that every shift fits a byte). */
  readonly #m: number;
  /** By the two bytes ending a window: how far the window may move (0: a pattern may end here). */
  readonly #shift: Uint8Array | undefined;
  /** By the two bytes ending a window of shift 0: the patterns whose first `m` bytes end with them. */
  readonly #ending = new Map<number, BytePattern[]>();

  constructor(patterns: readonly BytePattern[]) {
    this.#patterns = patterns;
    const m = Math.min(256, ...patterns.map((p) => p.bytes.length));
    this.#m = m;
    if (patterns.length === 0 || m < 2) return;
    const shift = new Uint8Array(65536).fill(m - 1);
    for (const pattern of patterns) {
      const { bytes } = pattern;
      for (let q = 1; q < m; q++) {
        const block = (bytes[q - 1] << 8) | bytes[q];
        shift[block] = Math.min(shift[block], m - 1 - q);
      }
      const last = (bytes[m - 2] << 8) | bytes[m - 1];
      const list = this.#ending.get(last) ?? [];
      list.push(pattern);
      this.#ending.set(last, list);
    }
    this.#shift = shift;
  }

  /** Whether one of the patterns occurs in `haystack`. */
  foundIn(haystack: Uint8Array): boolean {
    return this.#scan(haystack, () => true);
  }

  /** Adds to `found` each pattern that occurs in `haystack`. */
  collect(haystack: Uint8Array, found: Set<BytePattern>): void {
    const own = new Set<BytePattern>();
    this.#scan(haystack, (p) => {
      own.add(p);
      found.add(p);
      return own.size === this.#patterns.length;
    });
  }

  /** Calls `onFound` for the patterns found, until it says to stop; whether it did. */
  #scan(haystack: Uint8Array, onFound: (p: BytePattern) => boolean): boolean {
    const shift = this.#shift;
    if (shift === undefined) return this.#patterns.some((p) => p.indexIn(haystack, 0) !== -1 && onFound(p));
    const m = this.#m;
    for (let pos = m - 1; pos < haystack.length; ) {
      const block = (haystack[pos - 1] << 8) | haystack[pos];
      const s = shift[block];
      if (s !== 0) {
        pos += s;
        continue;
      }
      for (const p of this.#ending.get(block)!) if (startsAt(haystack, p.bytes, pos - m + 1) && onFound(p)) return true;
      pos++;
    }
    return false;
  }
}

function startsAt(haystack: Uint8Array, needle: Uint8Array, at: number): boolean {
  if (at + needle.length > haystack.length) return false;
  for (let i = 0; i < needle.length; i++) if (haystack[at + i] !== needle[i]) return false;
  return true;
}

const BRACKETS = [0x5b, 0x5d]; // [ ]

/**
 * The forms of the values one call knows, longest first, with a one-pass filter per secret.
 *
 * @example const set = new FormSet(forms, [new AnyPattern(forms.map((f) => f.pattern))]); set.scrub(body)
 */
export class FormSet {
  readonly forms: readonly Form[];
  readonly #filters: readonly AnyPattern[];
  /**
   * Whether a form could appear in a body only once a mask is in it. Masks are `[secret:NAME]`:
   * a form the body did not hold is then in it only across a mask's edge (so it holds a
   * bracket) or inside a mask. When none could, the forms to replace are those the body held.
   */
  readonly #maskMade: boolean;

  constructor(forms: readonly Form[], filters: readonly AnyPattern[]) {
    this.forms = forms;
    this.#filters = filters;
    const masks = [...new Set(forms.map((f) => f.mask))];
    this.#maskMade = forms.some((f) => BRACKETS.some((b) => f.pattern.bytes.includes(b)) || masks.some((m) => f.pattern.indexIn(m, 0) !== -1));
  }

  /** Whether `bytes` holds one of the forms. */
  holds(bytes: Uint8Array): boolean {
    return this.#filters.some((f) => f.foundIn(bytes));
  }

  /** `bytes` scrubbed as {@link scrubBytes} scrubs them with every form; the same array when it holds none. */
  scrub(bytes: Uint8Array): Uint8Array {
    const found = new Set<BytePattern>();
    for (const f of this.#filters) f.collect(bytes, found);
    if (found.size === 0) return bytes;
    return scrubBytes(bytes, this.#maskMade ? this.forms : this.forms.filter((f) => found.has(f.pattern)));
  }
}

/** Whether two byte arrays hold the same bytes. @example bytesEqual(new Uint8Array([1]), Uint8Array.of(1)) === true */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * `text` one byte per UTF-16 unit, its low byte (what Node's `Buffer.from(text, "latin1")`
 * gives: header text arrives as Latin-1).
 *
 * @example latin1Encode("é")[0] === 0xe9
 */
export function latin1Encode(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** The text of Latin-1 bytes, one unit per byte. @example latin1Decode(new Uint8Array([0xe9])) === "é" */
export function latin1Decode(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return text;
}

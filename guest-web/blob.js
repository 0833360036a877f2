/**
 * Blob, File and FormData, as far as the SDKs use them: parts of strings, buffers and other
 * Blobs; `size`, `type`, `slice`, `text`, `arrayBuffer`, `bytes`, `stream`; FormData's
 * entries (strings and Files). Pure JS; the bytes live in the guest's memory.
 */

// Shared by name: the fetch group, bundled apart, reads the bytes of the Blobs made here.
const BYTES = Symbol.for("agentos.web.blob-bytes");

function partBytes(part, encoder) {
  if (part instanceof Blob) return part[BYTES];
  if (ArrayBuffer.isView(part)) return new Uint8Array(part.buffer.slice(part.byteOffset, part.byteOffset + part.byteLength));
  if (part instanceof ArrayBuffer) return new Uint8Array(part.slice(0));
  return encoder.encode(String(part));
}

/** The bytes of several Uint8Arrays, in order, as one. */
export function concat(chunks) {
  let length = 0;
  for (const c of chunks) length += c.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function makeBlob(need) {
  const TextEncoder = need("TextEncoder");
  const TextDecoder = need("TextDecoder");

  class Blob {
    constructor(parts = [], options = {}) {
      if (parts === null || typeof parts !== "object" || typeof parts[Symbol.iterator] !== "function") {
        throw new TypeError("Blob: the parts must be a sequence");
      }
      const encoder = new TextEncoder();
      this[BYTES] = concat([...parts].map((p) => partBytes(p, encoder)));
      const type = options?.type === undefined ? "" : String(options.type);
      this._type = /^[\x20-\x7e]*$/.test(type) ? type.toLowerCase() : "";
    }
    get size() { return this[BYTES].length; }
    get type() { return this._type; }
    slice(start = 0, end = this.size, type = "") {
      const size = this.size;
      const from = start < 0 ? Math.max(size + start, 0) : Math.min(start, size);
      const to = end < 0 ? Math.max(size + end, 0) : Math.min(end, size);
      const blob = new Blob([], { type });
      blob[BYTES] = this[BYTES].slice(from, Math.max(from, to));
      return blob;
    }
    async arrayBuffer() { return this[BYTES].slice().buffer; }
    async bytes() { return this[BYTES].slice(); }
    async text() { return new TextDecoder().decode(this[BYTES]); }
    stream() {
      const bytes = this[BYTES].slice();
      return new (need("ReadableStream"))({
        start(controller) {
          if (bytes.length > 0) controller.enqueue(bytes);
          controller.close();
        },
      });
    }
    get [Symbol.toStringTag]() { return "Blob"; }
  }

  class File extends Blob {
    constructor(parts, name, options = {}) {
      if (arguments.length < 2) throw new TypeError("File: 2 arguments required");
      super(parts, options);
      this._name = String(name);
      this._lastModified = options?.lastModified === undefined ? Date.now() : Number(options.lastModified);
    }
    get name() { return this._name; }
    get lastModified() { return this._lastModified; }
    get webkitRelativePath() { return ""; }
    get [Symbol.toStringTag]() { return "File"; }
  }
  return { Blob, File };
}

/** The bytes of a Blob made here (synchronously), or undefined for anything else. */
export function blobBytes(value) {
  return value !== null && typeof value === "object" && value[BYTES] instanceof Uint8Array ? value[BYTES] : undefined;
}

function makeFormData(Blob, File) {
  const ENTRIES = Symbol("entries");
  function entry(name, value, filename, method) {
    if (value instanceof Blob || (value !== null && typeof value === "object" && typeof value.arrayBuffer === "function" && typeof value.type === "string")) {
      const fileName = filename !== undefined ? String(filename) : typeof value.name === "string" ? value.name : "blob";
      const file = value instanceof File && filename === undefined ? value : new File([value], fileName, { type: value.type });
      return [String(name), file];
    }
    if (filename !== undefined) throw new TypeError(`FormData.${method}: a file name needs a Blob value`);
    return [String(name), String(value)];
  }
  class FormData {
    constructor(form) {
      if (form !== undefined) throw new TypeError("FormData: there is no HTML form here");
      this[ENTRIES] = [];
    }
    append(name, value, filename) { this[ENTRIES].push(entry(name, value, filename, "append")); }
    set(name, value, filename) {
      const e = entry(name, value, filename, "set");
      const i = this[ENTRIES].findIndex(([n]) => n === e[0]);
      if (i < 0) this[ENTRIES].push(e);
      else this[ENTRIES] = [...this[ENTRIES].slice(0, i), e, ...this[ENTRIES].slice(i + 1).filter(([n]) => n !== e[0])];
    }
    get(name) { return this[ENTRIES].find(([n]) => n === String(name))?.[1] ?? null; }
    getAll(name) { return this[ENTRIES].filter(([n]) => n === String(name)).map(([, v]) => v); }
    has(name) { return this[ENTRIES].some(([n]) => n === String(name)); }
    delete(name) { this[ENTRIES] = this[ENTRIES].filter(([n]) => n !== String(name)); }
    forEach(callback, thisArg) { for (const [n, v] of this[ENTRIES]) callback.call(thisArg, v, n, this); }
    *entries() { yield* this[ENTRIES].map(([n, v]) => [n, v]); }
    *keys() { for (const [n] of this[ENTRIES]) yield n; }
    *values() { for (const [, v] of this[ENTRIES]) yield v; }
    [Symbol.iterator]() { return this.entries(); }
    get [Symbol.toStringTag]() { return "FormData"; }
  }
  return FormData;
}

export function create(need) {
  const { Blob, File } = makeBlob(need);
  return { Blob, File, FormData: makeFormData(Blob, File) };
}

/**
 * The body of a Request or a Response: what it was made from (bytes known at once, a stream,
 * or a Blob/FormData of the engine's whose bytes come asynchronously), `body` as a
 * ReadableStream made on first use, `bodyUsed`, and the readers (text, json, arrayBuffer, ...).
 */
import { blobBytes, concat } from "./blob.js";

export const BODY = Symbol("body");
/** The size of the chunks a body made from known bytes is streamed in. */
const CHUNK = 16384;

function copyBytes(view) {
  return new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
}

function isArrayBuffer(value) {
  return value instanceof ArrayBuffer || Object.prototype.toString.call(value) === "[object ArrayBuffer]";
}

function isStream(value) {
  return value !== null && typeof value === "object" && typeof value.getReader === "function" && "locked" in value;
}

/** A boundary that does not occur in any of the parts (no randomness needed). */
function boundaryFor(parts, decoder) {
  for (let n = 0; ; n++) {
    const boundary = "----AgentOSFormBoundary" + n.toString(16).padStart(8, "0");
    if (!parts.some((p) => (typeof p === "string" ? p : decoder.decode(p)).includes(boundary))) return boundary;
  }
}

function escapeName(name) {
  return String(name).replace(/\r\n|\r|\n/g, "\r\n").replace(/\n/g, "%0A").replace(/\r/g, "%0D").replace(/"/g, "%22");
}

/** multipart/form-data of a FormData's entries (strings and Blobs), as browsers send it. */
async function multipart(form, need) {
  const encoder = new (need("TextEncoder"))();
  const pieces = [];
  for (const [name, value] of form) {
    if (typeof value === "string") {
      pieces.push({ head: `Content-Disposition: form-data; name="${escapeName(name)}"\r\n\r\n`, data: encoder.encode(value.replace(/\r?\n|\r/g, "\r\n")) });
    } else {
      const bytes = blobBytes(value) ?? new Uint8Array(await value.arrayBuffer());
      const type = value.type || "application/octet-stream";
      pieces.push({
        head: `Content-Disposition: form-data; name="${escapeName(name)}"; filename="${escapeName(value.name ?? "blob")}"\r\nContent-Type: ${type}\r\n\r\n`,
        data: bytes,
      });
    }
  }
  const boundary = boundaryFor(pieces.flatMap((p) => [p.head, p.data]), new (need("TextDecoder"))());
  const chunks = [];
  for (const p of pieces) chunks.push(encoder.encode(`--${boundary}\r\n${p.head}`), p.data, encoder.encode("\r\n"));
  chunks.push(encoder.encode(`--${boundary}--\r\n`));
  return { bytes: concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}


/**
 * A body from what Request and Response accept: `{ bytes }`, `{ stream }` or `{ later }` (a
 * promise of `{ bytes, type }`), with the Content-Type it implies (or null).
 */
export function extractBody(init, need) {
  if (init === null || init === undefined) return null;
  if (typeof init === "string") return { bytes: new (need("TextEncoder"))().encode(init), type: "text/plain;charset=UTF-8" };
  if (ArrayBuffer.isView(init)) return { bytes: copyBytes(init), type: null };
  if (isArrayBuffer(init)) return { bytes: new Uint8Array(init.slice(0)), type: null };
  if (init instanceof need("URLSearchParams")) {
    return { bytes: new (need("TextEncoder"))().encode(init.toString()), type: "application/x-www-form-urlencoded;charset=UTF-8" };
  }
  const own = blobBytes(init);
  if (own) return { bytes: own.slice(), type: init.type || null };
  if (init instanceof need("FormData")) {
    const later = multipart(init, need);
    return { later, type: null };
  }
  if (typeof init === "object" && typeof init.arrayBuffer === "function" && typeof init.type === "string" && typeof init.size === "number") {
    return { later: init.arrayBuffer().then((b) => ({ bytes: new Uint8Array(b) })), type: init.type || null };
  }
  if (isStream(init)) return { stream: init, type: null };
  return { bytes: new (need("TextEncoder"))().encode(String(init)), type: "text/plain;charset=UTF-8" };
}

/** A ReadableStream of `bytes` in chunks (errored with the signal's reason if it aborts). */
export function streamOfBytes(bytes, need, signal) {
  let at = 0;
  let controllerRef;
  const onAbort = () => {
    try {
      controllerRef?.error(signal.reason);
    } catch {
      // already closed
    }
  };
  return new (need("ReadableStream"))({
    start(controller) {
      controllerRef = controller;
      if (signal) {
        if (signal.aborted) throw signal.reason;
        signal.addEventListener("abort", onAbort, { once: true });
      }
    },
    pull(controller) {
      if (signal?.aborted) throw signal.reason;
      if (at >= bytes.length) {
        signal?.removeEventListener("abort", onAbort);
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(at, at + CHUNK));
      at += CHUNK;
    },
    cancel() {
      signal?.removeEventListener("abort", onAbort);
    },
  });
}

/** The body's state held by a Request or Response. */
export class BodyState {
  constructor(source, need, signal) {
    this.source = source; // { bytes } | { stream } | { later } | null
    this.need = need;
    this.signal = signal;
    this.stream = source && source.stream ? source.stream : null;
    this.used = false;
  }
  get body() {
    if (this.source === null) return null;
    if (this.stream === null) {
      if (this.source.bytes) this.stream = streamOfBytes(this.source.bytes, this.need, this.signal);
      else {
        const later = this.source.later;
        const need = this.need;
        let inner;
        this.stream = new (need("ReadableStream"))({
          async pull(controller) {
            if (!inner) inner = streamOfBytes((await later).bytes, need, undefined).getReader();
            const { value, done } = await inner.read();
            if (done) controller.close();
            else controller.enqueue(value);
          },
        });
      }
    }
    return this.stream;
  }
  get bodyUsed() {
    if (this.used) return true;
    return this.stream !== null && isDisturbed(this.stream);
  }
  /** All of the body's bytes; rejects if it was used already. */
  async consume() {
    if (this.bodyUsed) throw new TypeError("Body is unusable: the body has already been read");
    if (this.stream !== null && this.stream.locked) throw new TypeError("Body is unusable: the body stream is locked");
    this.used = true;
    if (this.source === null) return new Uint8Array(0);
    if (this.stream === null) {
      if (this.signal?.aborted) throw this.signal.reason;
      if (this.source.bytes) return this.source.bytes;
      return (await this.source.later).bytes;
    }
    const reader = this.stream.getReader();
    const chunks = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value instanceof Uint8Array ? value : ArrayBuffer.isView(value) ? copyBytes(value) : new Uint8Array(value));
    }
    return concat(chunks);
  }
  /** A copy for clone(): the same bytes, or the stream teed (this side keeps one branch). */
  clone() {
    if (this.bodyUsed) throw new TypeError("clone: the body has already been read");
    if (this.source === null) return new BodyState(null, this.need, this.signal);
    if (this.stream === null && !this.source.stream) return new BodyState(this.source, this.need, this.signal);
    const [a, b] = this.body.tee();
    this.stream = a;
    return new BodyState({ stream: b }, this.need, this.signal);
  }
}

/** Whether a stream has been read from (the polyfill's and engines' own flag, or a lock). */
function isDisturbed(stream) {
  return stream._disturbed === true || stream.locked;
}

/** The readers shared by Request and Response (`this[BODY]` is a BodyState). */
export function bodyMixin(proto, need) {
  const define = (name, fn) => Object.defineProperty(proto, name, { value: fn, writable: true, configurable: true });
  Object.defineProperty(proto, "body", { get() { return this[BODY].body; }, configurable: true });
  Object.defineProperty(proto, "bodyUsed", { get() { return this[BODY].bodyUsed; }, configurable: true });
  define("arrayBuffer", async function arrayBuffer() { return (await this[BODY].consume()).slice().buffer; });
  define("bytes", async function bytes() { return (await this[BODY].consume()).slice(); });
  define("text", async function text() { return new (need("TextDecoder"))().decode(await this[BODY].consume()); });
  define("json", async function json() { return JSON.parse(new (need("TextDecoder"))().decode(await this[BODY].consume())); });
  define("blob", async function blob() {
    const bytes = await this[BODY].consume();
    return new (need("Blob"))([bytes], { type: this.headers.get("content-type") ?? "" });
  });
  define("formData", async function formData() {
    const type = this.headers.get("content-type") ?? "";
    if (!/^application\/x-www-form-urlencoded/i.test(type)) throw new TypeError("formData: only application/x-www-form-urlencoded bodies are parsed here");
    const form = new (need("FormData"))();
    const text = new (need("TextDecoder"))().decode(await this[BODY].consume());
    for (const [k, v] of new (need("URLSearchParams"))(text)) form.append(k, v);
    return form;
  });
}

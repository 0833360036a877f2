/**
 * The Web platform's globals inside the sandbox, in groups: each group is one file of
 * guest-web/ (with the npm packages it imports) and installs its names together.
 *
 * `kernel` groups are carried out by kernel calls (fetch → `http.fetch`, console → `log.write`):
 * both engines always install them, replacing the engine's own. The others are pure JS: an
 * engine that has a working global of that name keeps its own.
 */
export interface WebGroup {
  /** The file in guest-web/ whose `create(need, kernel)` makes the group's globals. */
  readonly file: string;
  readonly names: readonly string[];
  readonly kernel: boolean;
}

export const WEB_GROUPS: Readonly<Record<string, WebGroup>> = {
  events: { file: "events.js", names: ["DOMException", "Event", "EventTarget", "AbortController", "AbortSignal", "CustomEvent"], kernel: false },
  encoding: { file: "encoding.js", names: ["TextEncoder", "TextDecoder"], kernel: false },
  "encoding-streams": { file: "encoding-streams.js", names: ["TextEncoderStream", "TextDecoderStream"], kernel: false },
  base64: { file: "base64.js", names: ["atob", "btoa"], kernel: false },
  url: { file: "url.js", names: ["URL", "URLSearchParams"], kernel: false },
  streams: {
    file: "streams.js",
    names: [
      "ReadableStream", "ReadableStreamDefaultReader", "ReadableStreamBYOBReader", "ReadableStreamDefaultController",
      "ReadableByteStreamController", "ReadableStreamBYOBRequest", "WritableStream", "WritableStreamDefaultWriter",
      "WritableStreamDefaultController", "TransformStream", "TransformStreamDefaultController",
      "ByteLengthQueuingStrategy", "CountQueuingStrategy",
    ],
    kernel: false,
  },
  clone: { file: "clone.js", names: ["structuredClone"], kernel: false },
  blob: { file: "blob.js", names: ["Blob", "File", "FormData"], kernel: false },
  fetch: { file: "fetch.js", names: ["fetch", "Headers", "Request", "Response"], kernel: true },
  console: { file: "console.js", names: ["console"], kernel: true },
};

/** Each global's group, by name. */
export function groupOfName(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [group, { names }] of Object.entries(WEB_GROUPS)) for (const name of names) out[name] = group;
  return out;
}

/** The Streams standard's classes: the web-streams-polyfill package (its ponyfill, no globals touched). */
import * as streams from "web-streams-polyfill";

export const NAMES = [
  "ReadableStream", "ReadableStreamDefaultReader", "ReadableStreamBYOBReader", "ReadableStreamDefaultController",
  "ReadableByteStreamController", "ReadableStreamBYOBRequest", "WritableStream", "WritableStreamDefaultWriter",
  "WritableStreamDefaultController", "TransformStream", "TransformStreamDefaultController",
  "ByteLengthQueuingStrategy", "CountQueuingStrategy",
];

export function create() {
  const out = {};
  for (const name of NAMES) out[name] = streams[name];
  return out;
}

/** TextEncoderStream and TextDecoderStream over the engine's TransformStream. Pure JS. */

function makeEncodingStreams(TransformStream, TextEncoder, TextDecoder) {
  class TextEncoderStream {
    constructor() {
      const encoder = new TextEncoder();
      let high = "";
      const t = new TransformStream({
        transform(chunk, controller) {
          let s = high + String(chunk);
          high = "";
          const last = s.charCodeAt(s.length - 1);
          if (last >= 0xd800 && last <= 0xdbff) { high = s.slice(-1); s = s.slice(0, -1); }
          if (s) controller.enqueue(encoder.encode(s));
        },
        flush(controller) { if (high) controller.enqueue(encoder.encode(high)); },
      });
      this.readable = t.readable;
      this.writable = t.writable;
    }
    get encoding() { return "utf-8"; }
  }
  class TextDecoderStream {
    constructor(label = "utf-8", options = {}) {
      const decoder = new TextDecoder(label, options);
      const t = new TransformStream({
        transform(chunk, controller) {
          const s = decoder.decode(chunk, { stream: true });
          if (s) controller.enqueue(s);
        },
        flush(controller) {
          const s = decoder.decode();
          if (s) controller.enqueue(s);
        },
      });
      this.readable = t.readable;
      this.writable = t.writable;
      this.encoding = "utf-8";
      this.fatal = decoder.fatal;
      this.ignoreBOM = decoder.ignoreBOM;
    }
  }
  return { TextEncoderStream, TextDecoderStream };
}

export function create(need) {
  return makeEncodingStreams(need("TransformStream"), need("TextEncoder"), need("TextDecoder"));
}
